package flows

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

var (
	prodHost = HostPort{Domain: "production", OFPort: 0xf000, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 0x64}}
	node1IP  = netip.MustParseAddr("198.18.0.1")
)

// arpReplyHost answers any asked address with the gateway MAC.
const arpReplyHost = "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:0a:58:00:00:00:01->arp_sha" +
	",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[],IN_PORT"

// TestHostPortFlows: a domain's host port adds exactly its own flows:
// what comes in through it is the domain's (whatever its addresses), the
// node's ARP for a peer's pool is answered, the domain's packets for the
// node go to it, new connections from it are committed with its mark and
// their replies come back to it.
func TestHostPortFlows(t *testing.T) {
	n := Node{GatewayMAC: gwMAC, Overlay: true, Domains: []Domain{{Name: "production", VNI: 100, Peers: []string{"test"}}, {Name: "test", VNI: 200, Peers: []string{"production"}}},
		Pools: []Pool{prodNet, testNet}, NodeAddrs: []netip.Addr{node1IP}}
	without := Strings(Base(n))
	n.HostPorts = []HostPort{prodHost}
	got := Strings(Base(n))
	added := map[string]bool{}
	for _, f := range got {
		added[f] = true
	}
	for _, f := range without {
		delete(added, f)
	}
	want := sorted([]string{
		"cookie=0x10000000000, priority=200,in_port=61440 actions=set_field:0x64->reg0,set_field:0x8/0xf->reg3,goto_table:10",
		"cookie=0x10000000000, table=10, priority=200,in_port=61440 actions=goto_table:20",
		"cookie=0x10600000000, table=10, priority=250,icmp,in_port=61440,icmp_type=5 actions=drop",
		"cookie=0x10100000000, table=10, priority=250,arp,in_port=61440,arp_spa=198.19.0.0/24 actions=drop",
		"cookie=0x10100000000, table=10, priority=250,arp,in_port=61440,arp_spa=198.19.1.0/24 actions=drop",
		"cookie=0x10000000000, table=20, priority=100,arp,reg0=0x64,in_port=61440,arp_tpa=198.19.1.0/24,arp_op=1 actions=" + arpReplyHost,
		// A reply of what came in through it, from production or its peer
		// test, is marked to go back to it; DomainPolicy still judges it,
		"cookie=0x10000000000, table=26, priority=200,ct_state=+rpl+trk,ct_mark=0x8000f000,ip,reg0=0x64 actions=set_field:0x1f000/0x1ffff->reg4,goto_table:30",
		"cookie=0x10000000000, table=26, priority=200,ct_state=+rpl+trk,ct_mark=0x8000f000,ip,reg0=0xc8 actions=set_field:0x1f000/0x1ffff->reg4,goto_table:30",
		// then Forward sends it there.
		"cookie=0x10000000000, table=40, priority=250,ip,reg4=0x1f000/0x1ffff actions=set_field:0a:58:00:00:00:01->eth_src,set_field:0a:58:ff:00:00:64->eth_dst,set_field:0xf000->reg1,goto_table:50",
		"cookie=0x10000000000, table=45, priority=200,reg0=0x64 actions=set_field:0a:58:00:00:00:01->eth_src,set_field:0a:58:ff:00:00:64->eth_dst,set_field:0xf000->reg1,goto_table:50",
		"cookie=0x10000000000, table=50, priority=110,ct_state=+new+trk,ip,in_port=61440 actions=ct(commit,zone=1,exec(set_field:0x8000f000->ct_mark)),output:NXM_NX_REG1[]",
	})
	var gotAdded []string
	for f := range added {
		gotAdded = append(gotAdded, f)
	}
	sort.Strings(gotAdded)
	assertFlows(t, "host port flows", gotAdded, want)
	if len(got) != len(without)+len(want) {
		t.Errorf("the host port changed flows other than its own: %d flows, want %d", len(got), len(without)+len(want))
	}
	// This node's address: what the tunnel, the uplink or a pod sends it
	// goes to the domain's host port; a host port's own never comes back.
	if !strings.Contains(strings.Join(got, "\n"), "cookie=0x10000000000, table=30, priority=30,ip,reg3=0/0x8,nw_dst=198.18.0.1 actions=goto_table:45") {
		t.Error("no flow sends packets for this node's address to ToHost")
	}
}

// TestHostPortIsolation: through the node, a domain stays itself: no flow
// lets what came in through production's host port into test's pool, and
// the host port's packets for addresses outside every pool drop (the node
// is no transit).
func TestHostPortIsolation(t *testing.T) {
	n := Node{GatewayMAC: gwMAC, Overlay: true, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet}, HostPorts: []HostPort{prodHost}}
	for _, f := range Base(n) {
		if TableOf(f) != DomainPolicy || len(f.Actions) == 0 {
			continue
		}
		s := f.String()
		if strings.Contains(s, "reg0=0x64,nw_dst=198.19.1.0/24") {
			t.Errorf("production may reach test's pool: %s", s)
		}
		if strings.Contains(s, "reg3=0x8") {
			t.Errorf("a host port's packets go somewhere outside the pools: %s", s)
		}
	}
}
