//go:build race

package verify

// raceEnabled: the race detector slows the verifier ten- to thirtyfold and
// grows its memory fivefold; the scale tests run smaller under it (the
// budget is the product's, measured without it).
const raceEnabled = true
