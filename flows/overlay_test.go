package flows

import (
	"net/netip"
	"strings"
	"testing"
)

var (
	vlanDom = Domain{Name: "legacy", VNI: 300, VLAN: 30}
	vlanNet = Pool{Name: "legacy", Domain: "legacy", CIDR: netip.MustParsePrefix("198.19.2.0/24"), Gateway: netip.MustParseAddr("198.19.2.1")}
	node2   = RemoteNode{Name: "node2", VTEP: netip.MustParseAddr("198.18.0.2"), Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("203.0.113.2")}, Blocks: []RemoteBlock{
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
			"cookie=0x300c6120002, priority=200,tun_src=198.18.0.2,in_port=1 actions=set_field:0x2/0xf->reg3,goto_table:5",
			// Tunnel ingress binds the inner source: node2's block of production only with production's VNI,
			"cookie=0x300c6120002, table=5, priority=200,ip,tun_id=0x64,tun_src=198.18.0.2,nw_src=198.19.0.64/26 actions=set_field:0x64->reg0,goto_table:25",
			// node2's own addresses in any overlay domain (TunnelDomain checks the VNI).
			"cookie=0x300c6120002, table=5, priority=190,ip,tun_src=198.18.0.2,nw_src=198.18.0.2 actions=move:NXM_NX_TUN_ID[0..23]->NXM_NX_REG0[0..23],goto_table:6",
			"cookie=0x300c6120002, table=5, priority=190,ip,tun_src=198.18.0.2,nw_src=203.0.113.2 actions=move:NXM_NX_TUN_ID[0..23]->NXM_NX_REG0[0..23],goto_table:6",
			// Pods reach node2's addresses through the tunnel, in their domain.
			"cookie=0x300c6120002, table=35, priority=100,ip,nw_dst=198.18.0.2 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
			"cookie=0x300c6120002, table=35, priority=100,ip,nw_dst=203.0.113.2 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
			"cookie=0x300c6120002, table=40, priority=100,ip,nw_dst=198.19.0.64/26 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
			"cookie=0x300c6120002, table=40, priority=100,ip,nw_dst=198.19.2.64/26 actions=move:NXM_OF_IP_DST[]->NXM_OF_ETH_DST[0..31],set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_dst,push_vlan:0x8100,set_field:4126->vlan_vid,set_field:0x2->reg1,goto_table:50",
		}},
		{"no uplink: VLAN blocks unreachable", Node{GatewayMAC: gwMAC, Overlay: true, Domains: overlayNode.Domains, Pools: overlayNode.Pools}, []string{
			"cookie=0x300c6120002, priority=200,tun_src=198.18.0.2,in_port=1 actions=set_field:0x2/0xf->reg3,goto_table:5",
			"cookie=0x300c6120002, table=5, priority=200,ip,tun_id=0x64,tun_src=198.18.0.2,nw_src=198.19.0.64/26 actions=set_field:0x64->reg0,goto_table:25",
			"cookie=0x300c6120002, table=5, priority=190,ip,tun_src=198.18.0.2,nw_src=198.18.0.2 actions=move:NXM_NX_TUN_ID[0..23]->NXM_NX_REG0[0..23],goto_table:6",
			"cookie=0x300c6120002, table=5, priority=190,ip,tun_src=198.18.0.2,nw_src=203.0.113.2 actions=move:NXM_NX_TUN_ID[0..23]->NXM_NX_REG0[0..23],goto_table:6",
			"cookie=0x300c6120002, table=35, priority=100,ip,nw_dst=198.18.0.2 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
			"cookie=0x300c6120002, table=35, priority=100,ip,nw_dst=203.0.113.2 actions=set_field:198.18.0.2->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:0x1->reg1,goto_table:50",
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
		"cookie=0x10000000000, priority=200,in_port=2,dl_vlan=30 actions=pop_vlan,set_field:0x12c->reg0,set_field:0x4/0xf->reg3,goto_table:25",
		"cookie=0x10300000000, table=5, priority=0 actions=drop",
		"cookie=0x10000000000, table=6, priority=200,reg0=0x64 actions=goto_table:25",
		"cookie=0x10300000000, table=6, priority=0 actions=drop",
		// A VLAN domain is routed by the node, never tunnelled.
		"cookie=0x10000000000, table=35, priority=200,reg0=0x12c actions=goto_table:45",
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
		if strings.Contains(g, "tun_id=0x12c") || strings.Contains(g, "reg0=0x12c actions=goto_table:25") || strings.Contains(g, "dl_vlan=0,") {
			t.Errorf("unexpected flow %s", g)
		}
	}
}

// TestTunnelBindsLentBlock: a remote node's block lent to another domain
// is admitted only in the borrower's domain, never its pool's.
func TestTunnelBindsLentBlock(t *testing.T) {
	lent := netip.MustParsePrefix("198.19.1.16/28")
	n := Node{GatewayMAC: gwMAC, Overlay: true, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet},
		LentBlocks: []LentBlock{{CIDR: lent, Pool: "test", Domain: "production"}}}
	r := RemoteNode{Name: "node2", VTEP: netip.MustParseAddr("198.18.0.2"), Blocks: []RemoteBlock{{CIDR: lent, Pool: "test"}}}
	text := strings.Join(Strings(RemoteFlows(n, r)), "\n")
	want := "cookie=0x300c6120002, table=5, priority=200,ip,tun_id=0x64,tun_src=198.18.0.2,nw_src=198.19.1.16/28 actions=set_field:0x64->reg0,goto_table:25"
	if !strings.Contains(text, want) {
		t.Errorf("no binding of the lent block to its borrower:\n%s", text)
	}
	if strings.Contains(text, "tun_id=0xc8") {
		t.Errorf("the lent block is admitted in its lender's domain:\n%s", text)
	}
}
