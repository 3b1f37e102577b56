package daemon

// Crash points, in the order each operation passes them. A caned built
// with the cane_crashpoints tag (crash_on.go) SIGKILLs itself at the one
// named by CANE_CRASH_AT, as a crash would, for the crash-consistency
// tests (e2e/crash_test.go); the production caned has no such hook
// (crash_off.go).
var (
	AddCrashPoints = []string{"add:allocated", "add:veth", "add:port", "add:flows"}
	DelCrashPoints = []string{"del:flows", "del:port", "del:veth"}
)
