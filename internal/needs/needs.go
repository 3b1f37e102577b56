// Package needs ends a test that cannot run on this machine: without root,
// or without a tool it drives. By default it skips, as a contributor's
// `go test ./...` without root expects; with CANE_REQUIRE_ROOT=1 (set by
// `make test`, and so by CI) it fails instead, so a privileged suite can
// never pass by skipping.
package needs

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Env is the variable that turns a skip into a failure when it is "1".
const Env = "CANE_REQUIRE_ROOT"

// A Tool is an executable a test runs, and how to install it.
type Tool struct{ Name, Install string }

// OVS is Open vSwitch (scripts/deps.sh installs it).
var OVS = Tool{"ovs-vswitchd", "apt-get install openvswitch-switch"}

// Root ends t unless it runs as root (network namespaces, netlink).
func Root(t testing.TB) {
	t.Helper()
	end(t, missing(nil))
}

// RootAnd ends t unless it runs as root with every tool on PATH.
func RootAnd(t testing.TB, tools ...Tool) {
	t.Helper()
	end(t, missing(tools))
}

// Main is Root and RootAnd for a TestMain: it returns if the package's
// tests can run, else prints why and exits — 0 (skipped), or 1 with
// CANE_REQUIRE_ROOT=1.
func Main(pkg string, tools ...Tool) {
	why := missing(tools)
	switch {
	case why == "":
		return
	case Required():
		fmt.Printf("%s: %s, and %s=1 forbids skipping\n", pkg, why, Env)
		os.Exit(1)
	}
	fmt.Printf("%s: skipped, %s\n", pkg, why)
	os.Exit(0)
}

// Required says whether this run must not skip privileged tests.
func Required() bool { return os.Getenv(Env) == "1" }

// missing is why a test cannot run here, "" if it can.
func missing(tools []Tool) string {
	if os.Geteuid() != 0 {
		return "needs root"
	}
	var why []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.Name); err != nil {
			why = append(why, fmt.Sprintf("needs %s (%s)", tool.Name, tool.Install))
		}
	}
	return strings.Join(why, ", ")
}

// end skips or fails t if why is not "".
func end(t testing.TB, why string) {
	t.Helper()
	switch {
	case why == "":
	case Required():
		t.Fatalf("%s, and %s=1 forbids skipping", why, Env)
	default:
		t.Skip(why)
	}
}
