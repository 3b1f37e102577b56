package daemon

import (
	"os"
	"syscall"
)

// crashAt names one step of ADD or DEL at which caned kills itself with
// SIGKILL, as a crash would: the crash-consistency tests set it through
// the CANE_CRASH_AT environment variable. Empty (always, in production)
// means never.
var crashAt = os.Getenv("CANE_CRASH_AT")

// Crash points, in the order each operation passes them.
var (
	AddCrashPoints = []string{"add:allocated", "add:veth", "add:port", "add:flows"}
	DelCrashPoints = []string{"del:flows", "del:port", "del:veth"}
)

// crashPoint kills caned if step is the configured crash point.
func crashPoint(step string) {
	if crashAt != "" && crashAt == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not handled; never go on
	}
}
