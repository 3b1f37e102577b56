package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/e2e/testbed"
)

// TestCrashConsistency: caned is killed (SIGKILL, injected) at every step
// of ADD and of DEL. After it restarts, what the runtime does next — retry
// the ADD, or DEL — leaves the node exactly as a clean run would: no
// leaked address, no stray veth, port or flow, no address handed out
// twice, and a bystander pod untouched.
func TestCrashConsistency(t *testing.T) {
	tb, c, node := startNodeWith(t, crashBins(t))
	restart := func(t *testing.T, env ...string) {
		t.Helper()
		if err := node.StopCaned(); err != nil { // also reaps a crashed caned
			t.Fatal(err)
		}
		node.Env = env
		if err := node.StartCaned(c); err != nil {
			t.Fatal(err)
		}
	}
	crashed := func(t *testing.T, step string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("the operation succeeded: crash point %s not reached", step)
		}
		if !node.CanedExited() {
			t.Fatalf("caned did not crash at %s: %v", step, err)
		}
	}
	keep := mustAddPod(t, tb, c, node, "shop/keep", "prod")
	port := 7900
	for _, step := range daemon.AddCrashPoints {
		for _, then := range []string{"ADD retried", "DEL"} {
			t.Run(step+", then "+then, func(t *testing.T) {
				restart(t, "CANE_CRASH_AT="+step)
				p, err := tb.NewPod(node, "shop/crash", "prod")
				if err != nil {
					t.Fatal(err)
				}
				crashed(t, step, tb.Add(c, p))
				restart(t)
				if then == "ADD retried" {
					if err := tb.Add(c, p); err != nil {
						t.Fatalf("retried ADD: %v", err)
					}
					if err := tb.Check(c, p); err != nil {
						t.Errorf("CHECK: %v", err)
					}
					assertOnly(t, c, node, keep, p)
					port++
					expect(t, true, port, [2]*testbed.Pod{p, keep}, [2]*testbed.Pod{keep, p})
				}
				if err := tb.Del(c, p); err != nil {
					t.Fatalf("DEL: %v", err)
				}
				assertOnly(t, c, node, keep)
			})
		}
	}
	for _, step := range daemon.DelCrashPoints {
		t.Run(step+", then DEL retried", func(t *testing.T) {
			restart(t)
			p := mustAddPod(t, tb, c, node, "shop/crash", "prod")
			restart(t, "CANE_CRASH_AT="+step)
			crashed(t, step, tb.Del(c, p))
			restart(t)
			if err := tb.Del(c, p); err != nil {
				t.Fatalf("retried DEL: %v", err)
			}
			assertOnly(t, c, node, keep)
		})
	}
	restart(t)
	port++
	if err := tb.Check(c, keep); err != nil {
		t.Errorf("bystander CHECK: %v", err)
	}
	other := mustAddPod(t, tb, c, node, "shop/other", "prod")
	expect(t, true, port, [2]*testbed.Pod{other, keep})
	assertOnly(t, c, node, keep, other)
}

// crashBins is a bin dir for a test that crashes caned on purpose:
// binDir's cane and canectl, and a caned built with the cane_crashpoints
// tag. The production caned has no crash points: CANE_CRASH_AT does
// nothing there.
func crashBins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "cane_crashpoints", "-o", dir+"/", "./cmd/caned")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build caned with crash points: %v: %s", err, out)
	}
	for _, b := range []string{"cane", "canectl"} {
		if err := os.Symlink(filepath.Join(binDir, b), filepath.Join(dir, b)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
