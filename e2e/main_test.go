// Package e2e proves Cane's isolation on real OVS with the real binaries:
// nodes are network namespaces, each with its own OVS and caned; pods are
// attached by the cane binary through libcni, as containerd does.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/internal/needs"
)

// binDir holds cane and caned: $CANE_BIN_DIR (make e2e sets it), or a
// fresh build of this checkout.
var binDir string

func TestMain(m *testing.M) {
	needs.Main("e2e", needs.OVS) // skips without root or OVS, unless CANE_REQUIRE_ROOT=1
	os.Exit(run(m))
}

// run is TestMain's body, apart so its deferred cleanup runs before exit.
func run(m *testing.M) int {
	binDir = os.Getenv("CANE_BIN_DIR")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "cane-e2e-bin-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		if err := testbed.BuildBinaries("..", dir); err != nil {
			fmt.Println(err)
			return 1
		}
		binDir = dir
	}
	binDir, _ = filepath.Abs(binDir)
	return m.Run()
}

// newTestbed is a testbed torn down when the test ends, pass or fail.
func newTestbed(t *testing.T) *testbed.Testbed {
	t.Helper()
	return newTestbedWith(t, binDir)
}

// newTestbedWith is newTestbed running the binaries in bins.
func newTestbedWith(t *testing.T, bins string) *testbed.Testbed {
	t.Helper()
	tb, err := testbed.New(bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return tb
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// startNode is a testbed with one node running production and test.
func startNode(t *testing.T) (*testbed.Testbed, context.Context, *testbed.Node) {
	t.Helper()
	return startNodeWith(t, binDir)
}

// startNodeWith is startNode running the binaries in bins.
func startNodeWith(t *testing.T, bins string) (*testbed.Testbed, context.Context, *testbed.Node) {
	t.Helper()
	tb, c := newTestbedWith(t, bins), ctx(t)
	node, err := tb.StartNode(c, "node1", twoDomains(t))
	if err != nil {
		t.Fatal(err)
	}
	return tb, c, node
}

// k8sDir holds kube-apiserver (and kubelet): $CANE_K8S_DIR (make test sets
// it), else scripts/k8s.sh builds or finds them in its cache.
func k8sDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CANE_K8S_DIR"); d != "" {
		return d
	}
	out, err := exec.Command("../scripts/k8s.sh").Output()
	if err != nil {
		t.Fatalf("scripts/k8s.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// mustAddPod adds a pod or ends the test.
func mustAddPod(t *testing.T, tb *testbed.Testbed, c context.Context, node *testbed.Node, name, pool string) *testbed.Pod {
	t.Helper()
	p, err := tb.AddPod(c, node, name, pool)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
