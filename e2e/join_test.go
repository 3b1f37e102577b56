package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// waitUntil polls cond every 10ms and returns how long it took to hold.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestNodeJoinLeave: a node joins and leaves while pods on other nodes
// talk. The others pick it up within a second, by a handful of flow mods
// (no reinstall, no new round), and the running stream loses nothing.
func TestNodeJoinLeave(t *testing.T) {
	tb, c, cp, nodes := startCluster(t, 2)
	prod1 := mustAddPod(t, tb, c, nodes[0], "shop/prod1", "prod")
	prod2 := mustAddPod(t, tb, c, nodes[1], "shop/prod2", "prod")
	expect(t, true, 7500, [2]*testbed.Pod{prod1, prod2})
	stream, err := testbed.StartStream(prod1.NS, prod2.NS, prod2.IP, 7600, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	count := func(n *testbed.Node, sel of.Selector) int {
		fs, err := n.OVS.OpenFlow().Dump(c, "br-int", sel)
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	status := func(n *testbed.Node) api.Status {
		var s api.Status
		if err := n.Client().Get(c, "/v1/status", &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	flowsBefore, roundBefore := count(nodes[0], of.Selector{}), status(nodes[0]).Round

	node3, err := tb.JoinNode(c, cp, "node3", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	prod3 := mustAddPod(t, tb, c, node3, "shop/prod3", "prod")
	// The pod MTU leaves room for VXLAN: the fabric is 1500.
	if mtu := prod3.Result.Interfaces[1].Mtu; mtu != 1450 {
		t.Errorf("pod MTU %d, want 1500 - 50 = 1450", mtu)
	}
	sel := flows.NodeCookie(node3.VTEP)
	took := waitUntil(t, time.Second, "node1 routes to node3's block", func() bool {
		return count(nodes[0], sel.InTable(uint8(flows.Forward))) == 1
	})
	t.Logf("node1 routed to node3's new block %s after the ADD on node3", took.Round(time.Millisecond))
	expect(t, true, 7700, [2]*testbed.Pod{prod1, prod3}, [2]*testbed.Pod{prod3, prod2})
	// A node with one block and one address: its VTEP admitted, the block
	// bound to its domain and routed, its address admitted as a source and
	// reached through the tunnel.
	if added := count(nodes[0], of.Selector{}) - flowsBefore; added != 5 {
		t.Errorf("node1 has %d more flows after node3 joined with one block, want 5 (VTEP admit, block binding, address binding, address route, block route)", added)
	}
	if r := status(nodes[0]).Round; r != roundBefore {
		t.Errorf("node1 changed flow round %d -> %d: it reinstalled instead of adding", roundBefore, r)
	}

	if err := node3.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	took = waitUntil(t, time.Second, "node1 forgets node3", func() bool { return count(nodes[0], sel) == 0 })
	t.Logf("node1 removed node3's flows %s after its Node object was deleted", took.Round(time.Millisecond))
	if n := count(nodes[0], of.Selector{}); n != flowsBefore {
		t.Errorf("node1 has %d flows after node3 left, %d before it joined", n, flowsBefore)
	}

	sent, lost := stream.Stop()
	t.Logf("stream prod1 -> prod2 during join and leave: %d sent, %d lost", sent, len(lost))
	if sent < 100 || len(lost) > 0 {
		t.Errorf("stream: %d sent, lost %v", sent, lost)
	}
}
