package flows

import (
	"net/netip"
	"strings"
	"testing"
)

var (
	vlanDom = Domain{Name: "legacy", VNI: 300, VLAN: 30}
	vlanNet = Pool{Name: "legacy", Domain: "legacy", CIDR: netip.MustParsePrefix("198.19.2.0/24"), Gateway: netip.MustParseAddr("198.19.2.1")}
	node2   = RemoteNode{Name: "node2", VTEP: netip.MustParseAddr("198.18.0.2"), Blocks: []RemoteBlock{
		{CIDR: netip.MustParsePrefix("198.19.0.64/26"), Pool: "prod"},
		{CIDR: netip.MustParsePrefix("198.19.2.64/26"), Pool: "legacy"},
		{CIDR: netip.MustParsePrefix("198.19.9.0/26"), Pool: "unknown"},
	}}
	overlayNode = Node{GatewayMAC: gwMAC, Overlay: true, Uplink: true, Domains: []Domain{prod, vlanDom}, Pools: []Pool{prodNet, vlanNet}}
)

func TestRemoteFlows(t *testing.T) {
	tests := []struct {
		name string
		node Node
		want []string
	}{
		{"overlay and uplink", overlayNode, []string{
			"cookie=0x300c6120002, priority=200,tun_src=198.18.0.2,in_port=1 actions=goto_table:5",
			"cookie=0x300c6120002, table=40, priority=100,ip,nw_dst=198.19.0.64/26 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
			"cookie=0x300c6120002, table=40, priority=100,ip,nw_dst=198.19.2.64/26 actions=move:NXM_OF_IP_DST[]->NXM_OF_ETH_DST[0..31],set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_dst,push_vlan:0x8100,set_field:4126->vlan_vid,set_field:0x2->reg1,goto_table:50",
		}},
		{"no uplink: VLAN blocks unreachable", Node{GatewayMAC: gwMAC, Overlay: true, Domains: overlayNode.Domains, Pools: overlayNode.Pools}, []string{
			"cookie=0x300c6120002, priority=200,tun_src=198.18.0.2,in_port=1 actions=goto_table:5",
			"cookie=0x300c6120002, table=40, priority=100,ip,nw_dst=198.19.0.64/26 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
		}},
		{"single node: nothing", Node{GatewayMAC: gwMAC, Domains: overlayNode.Domains, Pools: overlayNode.Pools}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertFlows(t, "RemoteFlows", Strings(RemoteFlows(tc.node, node2)), sorted(tc.want))
		})
	}
	if got := NodeCookie(node2.VTEP).String(); got != "cookie=0x300c6120002/0xff00ffffffff" {
		t.Errorf("NodeCookie = %s", got)
	}
}

func TestOverlayBase(t *testing.T) {
	want := []string{
		"cookie=0x10300000000, priority=100,in_port=1 actions=drop",
		"cookie=0x10300000000, priority=100,in_port=2 actions=drop",
		"cookie=0x10000000000, priority=200,in_port=2,dl_vlan=30 actions=pop_vlan,set_field:0x12c->reg0,goto_table:30",
		"cookie=0x10300000000, table=5, priority=0 actions=drop",
		"cookie=0x10000000000, table=5, priority=200,tun_id=0x64 actions=set_field:0x64->reg0,goto_table:30",
	}
	all := Strings(Base(overlayNode))
	for _, w := range want {
		found := false
		for _, g := range all {
			found = found || g == w
		}
		if !found {
			t.Errorf("Base lacks %s", w)
		}
	}
	// A VLAN domain is never admitted from the tunnel, an overlay domain never from the uplink.
	for _, g := range all {
		if strings.Contains(g, "tun_id=0x12c") || strings.Contains(g, "dl_vlan=0,") {
			t.Errorf("unexpected flow %s", g)
		}
	}
}
