package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cane-cni/cane/api"

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

// TestBlockRace: two caneds race for the blocks of one small pool through
// the real API server. No block is held twice, every address lies in a
// block its own node holds, no address is handed out twice, and the
// requests that find nothing left fail as "pool exhausted".
func TestBlockRace(t *testing.T) {
	tb, c, cp, nodes := startCluster(t, 2)
	if err := cp.Apply(c, `
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: tiny}
spec: {domain: production, cidr: 198.19.9.0/26, gateway: 198.19.9.1, blockSize: 29}
`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "both nodes see pool tiny", func() bool {
		for _, n := range nodes {
			var pools []api.Pool
			if err := n.Client().Get(c, "/v1/pools", &pools); err != nil || !slices.ContainsFunc(pools, func(p api.Pool) bool { return p.Name == "tiny" }) {
				return false
			}
		}
		return true
	})
	type outcome struct {
		node string
		pod  *testbed.Pod
		err  error
	}
	const perNode = 40
	results := make(chan outcome, 2*perNode)
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perNode/4; i++ {
					p, err := tb.AddPod(c, n, fmt.Sprintf("race/%s-%d-%d", n.Name, w, i), "tiny")
					results <- outcome{n.Name, p, err}
				}
			}()
		}
	}
	wg.Wait()
	close(results)

	_, dyn, _ := cp.Clients()
	list, err := dyn.Resource(kube.BlocksResource).List(c, metav1.ListOptions{LabelSelector: kube.LabelPool + "=tiny"})
	if err != nil {
		t.Fatal(err)
	}
	holder := map[netip.Prefix]string{}
	for _, u := range list.Items {
		cidr := netip.MustParsePrefix(u.Object["spec"].(map[string]any)["cidr"].(string))
		if h, ok := holder[cidr]; ok {
			t.Errorf("block %s held twice (%s and %s)", cidr, h, u.Object["spec"].(map[string]any)["node"])
		}
		holder[cidr] = u.Object["spec"].(map[string]any)["node"].(string)
	}
	if len(holder) != 8 {
		t.Errorf("%d of the pool's 8 blocks claimed", len(holder))
	}
	ips := map[netip.Addr]string{}
	ok, exhausted := 0, 0
	for r := range results {
		if r.err != nil {
			var e *types.Error
			if !errors.As(r.err, &e) || e.Code != api.CodePoolExhausted {
				t.Errorf("%s: %v, want pool exhausted", r.node, r.err)
			}
			exhausted++
			continue
		}
		ok++
		if other, dup := ips[r.pod.IP]; dup {
			t.Errorf("%s handed out twice: %s and %s", r.pod.IP, other, r.pod.Name)
		}
		ips[r.pod.IP] = r.pod.Name
		if h := holder[netip.PrefixFrom(r.pod.IP, 29).Masked()]; h != r.node {
			t.Errorf("%s on %s has %s, in a block held by %q", r.pod.Name, r.node, r.pod.IP, h)
		}
	}
	t.Logf("%d pods got addresses, %d were refused as exhausted; blocks: %v", ok, exhausted, holder)
	if ok < 50 {
		t.Errorf("only %d of the pool's 61 addresses used", ok)
	}
}
