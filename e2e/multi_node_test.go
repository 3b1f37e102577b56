package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/cane-cni/cane/e2e/testbed"
)

// clusterObjects: production and test on the VXLAN overlay, legacy on
// VLAN 30 of the underlay.
const clusterObjects = `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: production}
spec: {vni: 100}
---
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: test}
spec: {vni: 200}
---
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: legacy}
spec: {vni: 300, vlan: 30}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: prod}
spec: {domain: production, cidr: 198.19.0.0/24, gateway: 198.19.0.1, blockSize: 28}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: test}
spec: {domain: test, cidr: 198.19.1.0/24, gateway: 198.19.1.1, blockSize: 28}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: legacy}
spec: {domain: legacy, cidr: 198.19.2.0/24, gateway: 198.19.2.1, blockSize: 28}
`

// cluster is a control plane and n joined nodes.
func startCluster(t *testing.T, n int) (*testbed.Testbed, context.Context, *testbed.ControlPlane, []*testbed.Node) {
	t.Helper()
	tb, cp := startControlPlane(t)
	c := ctx(t)
	if err := cp.Apply(c, clusterObjects); err != nil {
		t.Fatal(err)
	}
	var nodes []*testbed.Node
	for i := 1; i <= n; i++ {
		node, err := tb.JoinNode(c, cp, fmt.Sprintf("node%d", i), i, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	return tb, c, cp, nodes
}

// reachable probes ICMP, TCP and UDP; a first miss is retried once, since
// userspace OVS may drop the very first packet to a new VTEP while it
// resolves the underlay neighbour.
func reachable(t *testing.T, from, to *testbed.Pod, port int) map[string]bool {
	t.Helper()
	got := probe(t, from, to, port)
	for proto, ok := range got {
		if !ok {
			got[proto] = probe(t, from, to, port+1)[proto]
		}
	}
	return got
}

// TestMultiNode: three nodes, overlay and VLAN domains. Same domain reaches
// across nodes on every protocol; different domains never, same node or
// not; forged tunnel packets are dropped.
func TestMultiNode(t *testing.T) {
	tb, c, _, nodes := startCluster(t, 3)
	pod := func(node *testbed.Node, name, pool string) *testbed.Pod {
		p, err := tb.AddPod(c, node, name, pool)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	prod1, prod2, prod3 := pod(nodes[0], "shop/prod1", "prod"), pod(nodes[1], "shop/prod2", "prod"), pod(nodes[2], "shop/prod3", "prod")
	test1, test2 := pod(nodes[0], "qa/test1", "test"), pod(nodes[1], "qa/test2", "test")
	legacy1, legacy3 := pod(nodes[0], "old/legacy1", "legacy"), pod(nodes[2], "old/legacy3", "legacy")

	t.Run("nodes hold different blocks", func(t *testing.T) {
		seen := map[string]string{}
		for _, p := range []*testbed.Pod{prod1, prod2, prod3} {
			block := netip.PrefixFrom(p.IP, 28).Masked().String()
			if other, ok := seen[block]; ok {
				t.Errorf("%s and %s share block %s", other, p.Name, block)
			}
			seen[block] = p.Name
		}
	})

	t.Run("same domain reaches across nodes", func(t *testing.T) {
		for i, pair := range [][2]*testbed.Pod{{prod1, prod2}, {prod2, prod3}, {prod3, prod1}, {test2, test1}, {legacy1, legacy3}, {legacy3, legacy1}} {
			for proto, ok := range reachable(t, pair[0], pair[1], 7200+10*i) {
				if !ok {
					t.Errorf("%s -> %s over %s: no answer", pair[0].Name, pair[1].Name, proto)
				}
			}
		}
	})

	t.Run("domains isolated on one node and across nodes", func(t *testing.T) {
		for i, pair := range [][2]*testbed.Pod{
			{prod1, test1}, {test1, prod1}, // same node
			{prod1, test2}, {test2, prod1}, {test1, prod2}, // across nodes
			{legacy1, prod3}, {prod3, legacy1}, {legacy3, test1}, // VLAN vs overlay
		} {
			for proto, ok := range probe(t, pair[0], pair[1], 7300+i) {
				if ok {
					t.Errorf("%s -> %s over %s: got through", pair[0].Name, pair[1].Name, proto)
				}
			}
		}
	})
}
