package ovs_test

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
)

func TestEnsureBridge(t *testing.T) {
	o, c := newBridge(t)
	// Idempotent, and keeps keys it was not given.
	if err := o.DB.EnsureBridge(c, ovs.BridgeConfig{Name: "br-int", DatapathType: "netdev", OtherConfig: map[string]string{"mac-table-size": "50000"}}); err != nil {
		t.Fatal(err)
	}
	b, err := o.DB.Bridge(c, "br-int")
	if err != nil {
		t.Fatal(err)
	}
	if b.FailMode != "secure" || b.DatapathType != "netdev" || b.OtherConfig["mac-table-size"] != "50000" {
		t.Fatalf("bridge = %+v", b)
	}
	ids, _ := o.DB.BridgeExternalIDs(c, "br-int")
	if ids["cane"] != "1" {
		t.Fatalf("external_ids lost: %v", ids)
	}
	if err := o.DB.SetBridgeExternalID(c, "br-int", "cane-round", "7"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := o.DB.BridgeExternalIDs(c, "br-int"); ids["cane-round"] != "7" || ids["cane"] != "1" {
		t.Fatalf("external_ids = %v", ids)
	}
}

func TestPorts(t *testing.T) {
	o, c := newBridge(t)
	ids := map[string]string{"cane.io/container": "abc", "cane.io/ifname": "eth0"}
	ofport, err := o.DB.AddPort(c, ovs.PortConfig{Bridge: "br-int", Name: "p1", Type: "internal", OFPortRequest: 42, ExternalIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if ofport != 42 {
		t.Fatalf("ofport = %d, want the requested 42", ofport)
	}
	ps, err := o.DB.Ports(c, "br-int")
	if err != nil || len(ps) != 1 || ps[0].Name != "p1" || ps[0].OFPort != 42 || ps[0].ExternalIDs["cane.io/container"] != "abc" {
		t.Fatalf("Ports = %+v, %v", ps, err)
	}
	if _, err := o.DB.AddPort(c, ovs.PortConfig{Bridge: "br-int", Name: "p1", Type: "internal"}); err == nil {
		t.Fatal("adding a port twice succeeded")
	}
	// A system port whose device does not exist fails and leaves nothing.
	if _, err := o.DB.AddPort(c, ovs.PortConfig{Bridge: "br-int", Name: "nosuchdev0"}); err == nil {
		t.Fatal("port for a missing device succeeded")
	}
	if _, err := o.DB.Port(c, "br-int", "nosuchdev0"); err == nil {
		t.Fatal("failed port left behind")
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := o.DB.DeletePort(c, "br-int", "p1"); err != nil {
			t.Fatal(err)
		}
	}
	if ps, _ := o.DB.Ports(c, "br-int"); len(ps) != 0 {
		t.Fatalf("ports after delete: %+v", ps)
	}
}

// node has every kind of flow: two overlay domains, a VLAN domain, local
// pods and a remote node with blocks of each.
var node = flows.Node{
	GatewayMAC: net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 1},
	Overlay:    true, Uplink: true, NodeAddrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
	HostPorts: []flows.HostPort{{Domain: "production", OFPort: 0xf000, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 0x64}},
		{Domain: "test", OFPort: 0xf001, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 0xc8}}},
	LentBlocks: []flows.LentBlock{{CIDR: netip.MustParsePrefix("198.19.1.16/28"), Pool: "test", Domain: "production"}},
	Domains:    []flows.Domain{{Name: "production", VNI: 100}, {Name: "test", VNI: 200}, {Name: "legacy", VNI: 300, VLAN: 30}},
	Pools: []flows.Pool{
		{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1")},
		{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1")},
		{Name: "legacy", Domain: "legacy", CIDR: netip.MustParsePrefix("198.19.2.0/24"), Gateway: netip.MustParseAddr("198.19.2.1")},
	},
	Remotes: []flows.RemoteNode{{Name: "node2", VTEP: netip.MustParseAddr("198.18.0.2"), Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, Blocks: []flows.RemoteBlock{
		{CIDR: netip.MustParsePrefix("198.19.0.64/26"), Pool: "prod"},
		{CIDR: netip.MustParsePrefix("198.19.2.64/26"), Pool: "legacy"},
	}}},
	Pods: []flows.Pod{
		{OFPort: 10, MAC: net.HardwareAddr{0x0a, 0x58, 198, 19, 0, 2}, IP: netip.MustParseAddr("198.19.0.2"), VNI: 100},
		{OFPort: 11, MAC: net.HardwareAddr{0x0a, 0x58, 198, 19, 1, 2}, IP: netip.MustParseAddr("198.19.1.2"), VNI: 200},
	},
}

func dumped(t *testing.T, o *ovstest.Instance, sel of.Selector) []of.Flow {
	t.Helper()
	st, err := o.OpenFlow().Dump(ctx(t), "br-int", sel)
	if err != nil {
		t.Fatal(err)
	}
	var fs []of.Flow
	for _, s := range st {
		fs = append(fs, s.Flow)
	}
	return fs
}

// TestPipelineInstalls: every flow the builders make for a node with every
// feature (two peered overlay domains, a VLAN domain with the uplink, the
// host port, pods, a remote node, a lent block) is installed by the native
// bundle and dumped natively as exactly the typed value it was built as,
// printed as ovs-ofctl prints it — so a restart's diff of installed
// against desired finds nothing to rewrite on an unchanged node. Then pods
// and the remote node go by cookie, exactly their flows.
func TestPipelineInstalls(t *testing.T) {
	o, c := newBridge(t)
	ofc := o.OpenFlow()
	want := flows.WithRound(node.All(), 1)
	var b ovs.Bundle
	b.Add(want...)
	if err := ofc.Apply(c, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	assertInstalled(t, o, want)
	// Remove one pod by its cookie: exactly its flows go.
	var del ovs.Bundle
	del.Delete(flows.PodCookie(10))
	if err := ofc.Apply(c, "br-int", &del); err != nil {
		t.Fatal(err)
	}
	if n := len(dumped(t, o, flows.PodCookie(10))); n != 0 {
		t.Fatalf("%d flows of the deleted pod left", n)
	}
	if n, w := len(dumped(t, o, flows.PodCookie(11))), len(flows.PodFlows(node.Pods[1])); n != w {
		t.Fatalf("other pod has %d flows, want %d", n, w)
	}
	// Remove the remote node by its cookie: exactly its flows go.
	var delNode ovs.Bundle
	delNode.Delete(flows.NodeCookie(node.Remotes[0].VTEP))
	if err := ofc.Apply(c, "br-int", &delNode); err != nil {
		t.Fatal(err)
	}
	if got, want := len(dumped(t, o, of.Selector{})), len(want)-len(flows.PodFlows(node.Pods[0]))-len(flows.RemoteFlows(node, node.Remotes[0])); got != want {
		t.Fatalf("%d flows after removing a pod and a node, want %d", got, want)
	}
	// A dump by table selects in the switch.
	for _, f := range dumped(t, o, of.Selector{}.InTable(uint8(flows.DomainPolicy))) {
		if flows.TableOf(f) != flows.DomainPolicy {
			t.Fatalf("dump of DomainPolicy returned %s", f)
		}
	}
}

// TestBundleAllOrNothing: one bad flow in a bundle means no flow changes.
func TestBundleAllOrNothing(t *testing.T) {
	o, c := newBridge(t)
	var b ovs.Bundle
	b.Add(flows.PodFlows(node.Pods[0])...)
	b.Add(backwards(1)) // OVS refuses it
	if err := o.OpenFlow().Apply(c, "br-int", &b); err == nil {
		t.Fatal("bad bundle applied")
	}
	if got := dumped(t, o, of.Selector{}); len(got) != 0 {
		t.Fatalf("a failed bundle left %d flows", len(got))
	}
}

// TestRoundReplace: a new round re-adds everything and deletes the old
// round in one bundle; the flow set is unchanged, with the new round only.
func TestRoundReplace(t *testing.T) {
	o, c := newBridge(t)
	ofc := o.OpenFlow()
	var b1 ovs.Bundle
	b1.Add(flows.WithRound(node.All(), 1)...)
	if err := ofc.Apply(c, "br-int", &b1); err != nil {
		t.Fatal(err)
	}
	var b2 ovs.Bundle
	b2.Add(flows.WithRound(node.All(), 2)...)
	b2.Delete(flows.NewCookie(1, 0, 0, 0).Select(flows.RoundMask))
	if err := ofc.Apply(c, "br-int", &b2); err != nil {
		t.Fatal(err)
	}
	got := dumped(t, o, of.Selector{})
	if len(got) != len(node.All()) {
		t.Fatalf("after round 2: %d flows, want %d", len(got), len(node.All()))
	}
	for _, f := range got {
		if r := flows.CookieOf(f).Round(); r != 2 {
			t.Fatalf("flow of round %d left: %s", r, f)
		}
	}
}

// TestBatcher: concurrent bundles land together; a bad one fails alone.
func TestBatcher(t *testing.T) {
	o, c := newBridge(t)
	bt := &ovs.Batcher{OF: o.OpenFlow(), Bridge: "br-int"}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := of.NewFlow(uint8(flows.Forward), 200, uint64(flows.NewCookie(0, flows.KindPod, 0, uint32(100+i)))).
				Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(netip.AddrFrom4([4]byte{198, 19, 0, byte(10 + i)}))))
			if i == 7 {
				f = backwards(100 + uint32(i))
			}
			var b ovs.Bundle
			b.Add(f)
			errs[i] = bt.Apply(c, &b)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("bundle %d: %v", i, err)
		}
	}
	fs, err := o.OpenFlow().Dump(c, "br-int", flows.NewCookie(0, flows.KindPod, 0, 0).Select(0xff<<40))
	if err != nil || len(fs) != 19 {
		t.Fatalf("%d flows installed, want 19 (%v)", len(fs), err)
	}
}

// TestConcurrentAddPort: ports added at once share transactions; one that
// OVS refuses (a duplicate name) fails alone, the others get the ofports
// they asked for.
func TestConcurrentAddPort(t *testing.T) {
	o, c := newBridge(t)
	if _, err := o.DB.AddPort(c, ovs.PortConfig{Bridge: "br-int", Name: "taken", Type: "internal"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs, got := make([]error, 16), make([]int, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p%d", i)
			if i == 5 {
				name = "taken"
			}
			got[i], errs[i] = o.DB.AddPort(c, ovs.PortConfig{Bridge: "br-int", Name: name, Type: "internal", OFPortRequest: 100 + i})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 5) {
			t.Errorf("port %d: %v", i, err)
		}
		if i != 5 && got[i] != 100+i {
			t.Errorf("port %d got ofport %d, want %d", i, got[i], 100+i)
		}
	}
	ps, err := o.DB.Ports(c, "br-int")
	if err != nil || len(ps) != 16 {
		t.Fatalf("%d ports, want 16 (15 new + taken): %v", len(ps), err)
	}
}

// backwards is a pod flow OVS refuses: a goto_table to an earlier table.
func backwards(ofport uint32) of.Flow {
	return of.NewFlow(uint8(flows.Forward), 1, uint64(flows.NewCookie(0, flows.KindPod, 0, ofport))).
		Proto(of.ProtoIP).Match(of.IPv4Dst(netip.MustParsePrefix("198.19.0.10/32"))).Do(of.Goto{Table: uint8(flows.TunnelVNI)})
}
