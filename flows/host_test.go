package flows

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

var hostMAC = net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 2}

// arpReplyHost answers any asked address with the gateway MAC.
const arpReplyHost = "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:0a:58:00:00:00:01->arp_sha" +
	",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[],IN_PORT"

func TestHostFlows(t *testing.T) {
	n := Node{GatewayMAC: gwMAC, Host: true, HostMAC: hostMAC, Overlay: true, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet}}
	got := Strings(Base(n))
	without := n
	without.Host = false
	added := map[string]bool{}
	for _, f := range got {
		added[f] = true
	}
	for _, f := range Strings(Base(without)) {
		delete(added, f)
	}
	want := sorted([]string{
		"cookie=0x10000000000, priority=200,in_port=3 actions=set_field:0x1000000->reg0,goto_table:10",
		"cookie=0x10000000000, priority=210,ip,in_port=3,nw_src=198.19.0.0/24 actions=set_field:0x64->reg0,goto_table:10",
		"cookie=0x10000000000, priority=210,ip,in_port=3,nw_src=198.19.1.0/24 actions=set_field:0xc8->reg0,goto_table:10",
		"cookie=0x10000000000, table=10, priority=200,in_port=3 actions=goto_table:20",
		"cookie=0x10000000000, table=20, priority=100,arp,reg0=0x1000000,arp_tpa=198.19.0.0/24,arp_op=1 actions=" + arpReplyHost,
		"cookie=0x10000000000, table=20, priority=100,arp,reg0=0x1000000,arp_tpa=198.19.1.0/24,arp_op=1 actions=" + arpReplyHost,
		"cookie=0x10000000000, table=30, priority=10,ip actions=set_field:0a:58:00:00:00:01->eth_src,set_field:0a:58:00:00:00:02->eth_dst,set_field:0x3->reg1,goto_table:50",
		"cookie=0x10400000000, table=30, priority=20,ip,in_port=3 actions=drop",
		"cookie=0x10400000000, table=30, priority=20,ip,in_port=1 actions=drop",
		"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x1000000,nw_dst=198.19.0.0/24 actions=goto_table:40",
		"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x1000000,nw_dst=198.19.1.0/24 actions=goto_table:40",
		"cookie=0x10400000000, table=40, priority=150,ip,reg0=0x1000000 actions=drop",
	})
	var gotAdded []string
	for f := range added {
		gotAdded = append(gotAdded, f)
	}
	sort.Strings(gotAdded)
	sort.Strings(want)
	assertFlows(t, "host flows", gotAdded, want)
	if len(got) != len(Strings(Base(without)))+len(want) {
		t.Errorf("the host port changed flows other than its own: %d flows, want %d", len(got), len(Strings(Base(without)))+len(want))
	}

	// Through the node, a production source is still production: the
	// flow that classifies it outranks the host domain's.
	hostDomain := RegDomain.Match(HostDomain)
	for _, f := range Base(n) {
		for _, m := range f.Matches {
			if TableOf(f) == DomainPolicy && m == hostDomain && Priority(f.Priority) <= PolicyIsolation {
				t.Errorf("host allow %s does not outrank isolation", f)
			}
		}
	}
}

func TestHostLentBlock(t *testing.T) {
	n := Node{GatewayMAC: gwMAC, Host: true, HostMAC: hostMAC, Overlay: true, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet},
		LentBlocks: []LentBlock{{CIDR: netip.MustParsePrefix("198.19.1.16/28"), Pool: "test", Domain: "production"}}}
	text := strings.Join(Strings(n.All()), "\n")
	for _, w := range []string{
		// what the node forwards from the borrower's pods is production's
		"cookie=0x10000000000, priority=220,ip,in_port=3,nw_src=198.19.1.16/28 actions=set_field:0x64->reg0,goto_table:10",
		// the node resolves them above the seal's ARP drop (140)
		"cookie=0x10000000000, table=20, priority=150,arp,reg0=0x1000000,arp_tpa=198.19.1.16/28,arp_op=1 actions=" + arpReplyHost,
		// the node reaches them above the lent block's seal (240)
		"cookie=0x10000000000, table=30, priority=250,ip,reg0=0x1000000,nw_dst=198.19.1.16/28 actions=goto_table:40",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("missing %s", w)
		}
	}
}
