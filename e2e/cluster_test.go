package e2e

import (
	"path/filepath"
	"testing"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/cluster/local"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

// startControlPlane is a testbed with etcd and kube-apiserver running and
// Cane's CRDs applied.
func startControlPlane(t *testing.T) (*testbed.Testbed, *testbed.ControlPlane) {
	t.Helper()
	tb := newTestbed(t)
	cp, err := tb.StartControlPlane(ctx(t), k8sDir(t), "../deploy/crds")
	if err != nil {
		t.Fatal(err)
	}
	return tb, cp
}

// TestKubeStoreContract: the Kubernetes store meets the same contract as
// the local one, against a real API server (block claims are creates).
func TestKubeStoreContract(t *testing.T) {
	_, cp := startControlPlane(t)
	_, dyn, err := cp.Clients()
	if err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T) ipam.Store {
		l, err := local.Open(filepath.Join(t.TempDir(), "alloc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return kube.NewStore(dyn, l)
	}
	ipamtest.StoreContract(t, open, nil)
}
