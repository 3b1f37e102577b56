package flows

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestLentBlockFlows(t *testing.T) {
	mac, _ := net.ParseMAC("0a:58:00:00:00:01")
	n := Node{
		GatewayMAC: mac, Overlay: true,
		Domains: []Domain{{Name: "production", VNI: 100, Peers: []string{"shared"}}, {Name: "test", VNI: 200}, {Name: "shared", VNI: 300}},
		Pools: []Pool{
			{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1")},
			{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1")},
		},
		LentBlocks: []LentBlock{
			{CIDR: netip.MustParsePrefix("198.19.1.16/28"), Pool: "test", Domain: "production"},
			{CIDR: netip.MustParsePrefix("198.19.1.32/28"), Pool: "test", Domain: "production"},
		},
	}
	want := []string{
		"cookie=0x10000000000, table=30, priority=250,ip,reg0=0x64,nw_dst=198.19.1.16/28 actions=goto_table:40",
		"cookie=0x10000000000, table=30, priority=250,ip,reg0=0x12c,nw_dst=198.19.1.16/28 actions=goto_table:40", // peer of the borrower
		"cookie=0x10200000000, table=30, priority=240,ip,nw_dst=198.19.1.16/28 actions=drop",
		"cookie=0x10200000000, table=20, priority=140,arp,arp_tpa=198.19.1.16/28,arp_op=1 actions=drop",
		"cookie=0x10000000000, table=20, priority=150,arp,reg0=0x64,arp_tpa=198.19.1.16/28,arp_op=1 actions=move:NXM_OF_ETH_SRC[]",
		"cookie=0x10000000000, table=20, priority=200,arp,reg0=0x64,arp_tpa=198.19.1.1,arp_op=1 actions=",
	}
	var all []string
	keys := map[Key]int{}
	for _, f := range n.All() {
		all = append(all, f.String())
		keys[f.Key()]++
	}
	text := strings.Join(all, "\n")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %s", w)
		}
	}
	for k, c := range keys {
		if c > 1 {
			t.Errorf("%d flows with key %s", c, k)
		}
	}
	if strings.Contains(text, "reg0=0xc8,nw_dst=198.19.1.16/28") {
		t.Error("the lender may reach the lent block")
	}
	n.Domains[0].VLAN = 30
	if fs := lentFlows(n, n.LentBlocks[0]); fs != nil {
		t.Errorf("a VLAN borrower got lent-block flows: %v", fs)
	}
}
