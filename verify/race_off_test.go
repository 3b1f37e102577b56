//go:build !race

package verify

// raceEnabled: see race_on_test.go.
const raceEnabled = false
