package kube

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/cane-cni/cane/cluster/local"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

// TestStoreContractFake runs the Store contract against client-go's fake
// dynamic client: creates that collide fail with AlreadyExists as on a
// real API server, and lists filter by label. The fake ignores delete
// preconditions; e2e's TestKubeStoreContract runs the same contract
// against a real kube-apiserver.
func TestStoreContractFake(t *testing.T) {
	open := func(t *testing.T) ipam.Store {
		dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{BlocksResource: "BlockList"})
		l, err := local.Open(filepath.Join(t.TempDir(), "alloc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return NewStore(dyn, l)
	}
	ipamtest.StoreContract(t, open, nil)
}
