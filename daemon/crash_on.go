//go:build cane_crashpoints

package daemon

import (
	"os"
	"syscall"
)

// crashAt names one step of ADD or DEL at which caned kills itself with
// SIGKILL: the crash-consistency tests set it through the CANE_CRASH_AT
// environment variable. Empty means never.
var crashAt = os.Getenv("CANE_CRASH_AT")

// crashPoint kills caned if step is the configured crash point.
func crashPoint(step string) {
	if crashAt != "" && crashAt == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not handled; never go on
	}
}
