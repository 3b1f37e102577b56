package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
)

// clusterObjects is the example every multi-node test starts from:
// production and test on the overlay, legacy on VLAN 30.
const clusterObjects = "../deploy/examples/cluster.yaml"

// startClusterObjects is a control plane with clusterObjects applied.
func startClusterObjects(t *testing.T) (*testbed.Testbed, context.Context, *testbed.ControlPlane) {
	t.Helper()
	tb, cp := startControlPlane(t)
	c := ctx(t)
	manifest, err := os.ReadFile(clusterObjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(c, string(manifest)); err != nil {
		t.Fatal(err)
	}
	return tb, c, cp
}

// startCluster is a control plane and n joined nodes.
func startCluster(t *testing.T, n int) (*testbed.Testbed, context.Context, *testbed.ControlPlane, []*testbed.Node) {
	t.Helper()
	tb, c, cp := startClusterObjects(t)
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

// TestMultiNode: three nodes, overlay and VLAN domains. Same domain reaches
// across nodes on every protocol; different domains never, same node or
// not; forged tunnel packets are dropped.
func TestMultiNode(t *testing.T) {
	tb, c, _, nodes := startCluster(t, 3)
	prod1, prod2, prod3 := mustAddPod(t, tb, c, nodes[0], "shop/prod1", "prod"), mustAddPod(t, tb, c, nodes[1], "shop/prod2", "prod"), mustAddPod(t, tb, c, nodes[2], "shop/prod3", "prod")
	test1, test2 := mustAddPod(t, tb, c, nodes[0], "qa/test1", "test"), mustAddPod(t, tb, c, nodes[1], "qa/test2", "test")
	legacy1, legacy3 := mustAddPod(t, tb, c, nodes[0], "old/legacy1", "legacy"), mustAddPod(t, tb, c, nodes[2], "old/legacy3", "legacy")

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

	t.Run("large UDP datagrams cross nodes intact", func(t *testing.T) {
		for _, size := range []int{1400, 8000, 30000} {
			if err := bigUDP(prod1, prod2, 7250, size); err != nil {
				t.Errorf("%d-byte datagram prod1 -> prod2: %v", size, err)
			}
		}
		if mtu := prod1.Result.Interfaces[1].Mtu; mtu != 1500-50 {
			t.Errorf("pod MTU %d, want the underlay's 1500 less VXLAN's 50", mtu)
		}
	})

	t.Run("canectl trace across nodes", func(t *testing.T) {
		tr := trace(t, nodes[0], prod1, prod2.IP.String(), "--proto", "udp", "--port", "53")
		if !tr.Delivered || !strings.Contains(tr.Verdict, "node "+nodes[1].Name) || !strings.Contains(tr.Verdict, "tunnel") {
			t.Errorf("prod1 -> prod2: %q; %+v %q", tr.Verdict, tr.Steps, tr.DatapathActions)
		}
		tr = trace(t, nodes[0], prod1, test2.IP.String())
		if tr.Delivered || !strings.Contains(tr.Verdict, "isolation: production → test") {
			t.Errorf("prod1 -> test2: %q", tr.Verdict)
		}
		wantXRay(t, nodes[0], "", "")
	})

	t.Run("same domain reaches across nodes", func(t *testing.T) {
		tunnel, _ := nodes[1].Packets(c, of.Selector{}.InTable(0), of.InPort(1))
		uplink, _ := nodes[2].Packets(c, of.Selector{}.InTable(0), of.InPort(2))
		expect(t, true, 7200, [][2]*testbed.Pod{{prod1, prod2}, {prod2, prod3}, {prod3, prod1}, {test2, test1}, {legacy1, legacy3}, {legacy3, legacy1}}...)
		// The traffic really crossed: node2 took packets from the tunnel,
		// node3 tagged ones from the uplink.
		if after, _ := nodes[1].Packets(c, of.Selector{}.InTable(0), of.InPort(1)); after <= tunnel {
			t.Errorf("node2 received nothing from the tunnel (%d -> %d)", tunnel, after)
		}
		if after, _ := nodes[2].Packets(c, of.Selector{}.InTable(0), of.InPort(2)); after <= uplink {
			t.Errorf("node3 received nothing from the uplink (%d -> %d)", uplink, after)
		}
	})

	// What kube-proxy does for a Service whose endpoint is on another node,
	// and a pod's call to another node's kubelet or API: TCP from a node's
	// own stack through its host port into the tunnel, and back.
	t.Run("a node's own stack reaches pods on other nodes over TCP", func(t *testing.T) {
		cases := []struct {
			name     string
			from, to ns.NetNS
			dst      netip.Addr
		}{
			{"node1 -> prod2 (remote pod)", nodes[0].NS, prod2.NS, prod2.IP},
			{"node1 -> prod1 (local pod)", nodes[0].NS, prod1.NS, prod1.IP},
			{"prod1 -> node2's address", prod1.NS, nodes[1].NS, nodes[1].VTEP},
		}
		for i, tc := range cases {
			ok, err := testbed.TCP(tc.from, tc.to, tc.dst, 7280+i)
			if err != nil || !ok {
				t.Errorf("%s: TCP round trip failed (%v)", tc.name, err)
			}
		}
	})

	t.Run("domains isolated on one node and across nodes", func(t *testing.T) {
		expect(t, false, 7300, [][2]*testbed.Pod{
			{prod1, test1}, {test1, prod1}, // same node
			{prod1, test2}, {test2, prod1}, {test1, prod2}, // across nodes
			{legacy1, prod3}, {prod3, legacy1}, {legacy3, test1}, // VLAN vs overlay
		}...)
	})

	t.Run("forged tunnel packets are dropped", func(t *testing.T) {
		// The fabric plays an underlay host that sends VXLAN straight to
		// node2's VTEP, aimed at prod2.
		rogue := netip.MustParseAddr("198.18.0.200")
		cases := []struct {
			name    string
			src     netip.Addr
			vni     uint32
			deliver bool
			reason  flows.Reason
		}{
			{"from node1 with production's VNI (control)", nodes[0].VTEP, 100, true, 0},
			{"from an unknown VTEP", rogue, 100, false, flows.ReasonUnknownVNI},
			{"with a VNI no domain has", nodes[0].VTEP, 999, false, flows.ReasonUnknownVNI},
			// Tunnel ingress binds the VNI to the inner source: production's
			// addresses never arrive as test's.
			{"with test's VNI, from a production pod", nodes[0].VTEP, 200, false, flows.ReasonUnknownVNI},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := nodes[1].Drops(c, tc.reason)
				got := forgeVXLAN(t, tb, tc.src, tc.vni, prod1, prod2, uint16(7400+i), "vxlan-"+tc.name)
				if got != tc.deliver {
					t.Fatalf("delivered = %v, want %v", got, tc.deliver)
				}
				if !tc.deliver {
					if after, _ := nodes[1].Drops(c, tc.reason); after <= before {
						t.Errorf("%s drops on node2 did not move (%d -> %d)", tc.reason, before, after)
					}
				}
			})
		}
	})

	t.Run("the uplink admits only the domain's own tag", func(t *testing.T) {
		// An underlay host sends straight to legacy3's MAC over the trunk.
		f, err := tb.Fabric()
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			vlan    uint16
			deliver bool
		}{
			{"VLAN 30 (control)", 30, true},
			{"another VLAN", 31, false},
			{"untagged", 0, false},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				token := []byte("vlan-" + tc.name)
				port := uint16(7450 + i)
				frame := testbed.Frame{SrcMAC: legacy1.MAC, DstMAC: legacy3.MAC, VLAN: tc.vlan}.UDP(legacy1.IP, legacy3.IP, 40000, port, token)
				got, err := testbed.Received(legacy3.NS, legacy3.IP, int(port), token, func() error {
					return testbed.SendFrame(f.NS, "fabric", frame)
				})
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.deliver {
					t.Fatalf("delivered = %v, want %v", got, tc.deliver)
				}
			})
		}
	})
}

// forgeVXLAN plays an underlay host: from the fabric it sends VXLAN with
// outer source src and vni to the VTEP of to's node, carrying a UDP
// datagram from `from`'s addresses (MAC and IP) to `to` on port. It
// reports whether the datagram reached `to`.
func forgeVXLAN(t *testing.T, tb *testbed.Testbed, src netip.Addr, vni uint32, from, to *testbed.Pod, port uint16, token string) bool {
	t.Helper()
	f, err := tb.Fabric()
	if err != nil {
		t.Fatal(err)
	}
	dstMAC, err := to.Node.UnderlayMAC()
	if err != nil {
		t.Fatal(err)
	}
	inner := testbed.Frame{SrcMAC: from.MAC, DstMAC: to.MAC}.UDP(from.IP, to.IP, 40000, port, []byte(token))
	outer := testbed.Frame{SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc8}, DstMAC: dstMAC}.
		UDP(src, to.Node.VTEP, 50000, flows.VXLANPort, testbed.VXLAN(vni, inner))
	got, err := testbed.Received(to.NS, to.IP, int(port), []byte(token), func() error {
		return testbed.SendFrame(f.NS, "fabric", outer)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPoolFromCluster: with no pool named by the runtime, the pod's
// cane.io/pool annotation chooses it, else its namespace's cane.io/domain.
// The namespace decides the domain: the annotation may name a pool of
// the namespace's domain, or of a domain whose Domain object lists the
// namespace (legacy lists shop), nothing else.
func TestPoolFromCluster(t *testing.T) {
	tb, c, cp, nodes := startCluster(t, 1)
	if err := cp.Apply(c, `
apiVersion: v1
kind: Namespace
metadata: {name: qa, labels: {cane.io/domain: test}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
---
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: legacy}
spec: {vni: 300, vlan: 30, namespaces: [shop]}
---
apiVersion: v1
kind: Pod
metadata: {name: old-app, namespace: shop, annotations: {cane.io/pool: legacy}}
spec: {nodeName: node1, containers: [{name: app, image: pause}]}
`); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ pod, pool string }{
		{"qa/runner", "198.19.1.0/24"},    // namespace label: domain test
		{"shop/old-app", "198.19.2.0/24"}, // pod annotation (read from the pod): pool legacy, whose domain lists shop
	}
	for _, tc := range tests {
		var p *testbed.Pod
		waitUntil(t, 10*time.Second, tc.pod+" gets an address (the Domain's edit reaches node1)", func() bool {
			var err error
			p, err = tb.AddPod(c, nodes[0], tc.pod, "")
			return err == nil
		})
		if !netip.MustParsePrefix(tc.pool).Contains(p.IP) {
			t.Errorf("%s got %s, want an address of %s", tc.pod, p.IP, tc.pool)
		}
	}
	// An annotation the runtime passes (as containerd does) is held to the same rule.
	p, err := tb.NewPod(nodes[0], "qa/sneaky", "")
	if err != nil {
		t.Fatal(err)
	}
	p.Annotations = map[string]string{"cane.io/pool": "prod"}
	if err := tb.Add(c, p); cniCode(err) != api.CodePoolForbidden || !strings.Contains(err.Error(), `namespace qa is in domain "test"`) {
		t.Errorf("a qa pod naming the production pool: %v, want code %d naming the namespace and its domain", err, api.CodePoolForbidden)
	}
	// Nothing says: the netconf has no default pool either, so ADD fails clearly.
	if _, err := tb.AddPod(c, nodes[0], "shop/nobody", ""); err == nil || !strings.Contains(err.Error(), "no pool chosen") {
		t.Errorf("pod with no pool anywhere: %v", err)
	}
}

// TestConflictingPoolEdits: two operators edit pools at once — one moves
// the production pool's CIDR, one adds a pool (and a domain) that overlap
// what is in use. The apiserver refuses the move (addresses are
// immutable); every node ignores the newer overlapping objects, whatever
// their names, and production keeps its pool.
func TestConflictingPoolEdits(t *testing.T) {
	tb, c, cp, nodes := startCluster(t, 1)
	before := mustAddPod(t, tb, c, nodes[0], "shop/before", "prod")
	// Creation times have whole seconds, and a tie goes by name: let the
	// rogue objects be at least a second younger than the cluster's.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	var wg sync.WaitGroup
	var moveOut string
	var moveErr, addErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		moveOut, moveErr = cp.Kubectl(c, "patch", "pools.cane.io", "prod", "--type=merge", "-p", `{"spec":{"cidr":"198.19.8.0/24","gateway":"198.19.8.1"}}`)
	}()
	go func() {
		defer wg.Done()
		addErr = cp.Apply(c, `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: aaa-rogue}
spec: {vni: 100}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: aaa-overlap}
spec: {domain: test, cidr: 198.19.0.128/25, gateway: 198.19.0.129}
`)
	}()
	wg.Wait()
	if moveErr == nil || !strings.Contains(moveOut, "immutable") {
		t.Errorf("moving the prod pool's CIDR: %v %s", moveErr, moveOut)
	}
	if addErr != nil {
		t.Fatalf("adding the overlapping objects: %v", addErr)
	}
	waitUntil(t, 10*time.Second, "caned ignores the newer objects", func() bool {
		log, _ := os.ReadFile(nodes[0].Log)
		return strings.Contains(string(log), `"kind":"Pool","name":"aaa-overlap"`) && strings.Contains(string(log), `"kind":"Domain","name":"aaa-rogue"`)
	})
	var cerr *types.Error
	if _, err := tb.AddPod(c, nodes[0], "qa/overlap", "aaa-overlap"); !errors.As(err, &cerr) || cerr.Code != api.CodeUnknownPool {
		t.Errorf("ADD in the ignored pool: %v, want code %d", err, api.CodeUnknownPool)
	}
	after := mustAddPod(t, tb, c, nodes[0], "shop/after", "prod")
	if !netip.MustParsePrefix("198.19.0.0/24").Contains(after.IP) {
		t.Errorf("prod pod got %s after the edits", after.IP)
	}
	expect(t, true, 7700, [2]*testbed.Pod{before, after}, [2]*testbed.Pod{after, before})

	// xray compares the node's blocks with the cluster's Block objects.
	wantXRay(t, nodes[0], "", "")
	name := kube.BlockName("prod", netip.PrefixFrom(before.IP, 28).Masked())
	if out, err := cp.Kubectl(c, "delete", "blocks.cane.io", name); err != nil {
		t.Fatalf("delete block %s: %v %s", name, err, out)
	}
	waitUntil(t, 10*time.Second, "xray notices the missing Block object", func() bool {
		x, _ := xray(t, nodes[0])
		return strings.Contains(failed(x)["blocks match the cluster"], "has no Block object")
	})
}

// bigUDP sends one datagram of size random bytes from one pod to another
// (the pod's stack fragments it to its MTU) and checks it arrives whole.
// One retry: the first packet to a new VTEP may wait for ARP.
func bigUDP(from, to *testbed.Pod, port, size int) error {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(rand.IntN(256))
	}
	var conn *net.UDPConn
	err := to.NS.Do(func(ns.NetNS) (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: to.IP.AsSlice(), Port: port})
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	for try := 0; try < 2; try++ {
		err = from.NS.Do(func(ns.NetNS) error {
			c, err := net.Dial("udp4", netip.AddrPortFrom(to.IP, uint16(port)).String())
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write(payload)
			return err
		})
		if err != nil {
			return err
		}
		buf := make([]byte, 65536)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		if !bytes.Equal(buf[:n], payload) {
			return fmt.Errorf("received %d bytes, not the %d sent", n, size)
		}
		return nil
	}
	return fmt.Errorf("nothing arrived: %w", err)
}
