package flows

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	gwMAC   = net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 1}
	prod    = Domain{Name: "production", VNI: 100}
	test    = Domain{Name: "test", VNI: 200}
	prodNet = Pool{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1")}
	testNet = Pool{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1")}
	prodPod = Pod{OFPort: 10, MAC: net.HardwareAddr{0x0a, 0x58, 198, 19, 0, 2}, IP: netip.MustParseAddr("198.19.0.2"), VNI: 100}
)

// arpPool is the pool-wide ARP answer: MAC 0a:58 + the asked address.
func arpPool(vni, cidr string) string {
	return "table=20,priority=100,cookie=0x10000000000,arp,reg0=" + vni + ",arp_tpa=" + cidr + ",arp_op=1" +
		" actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_src,move:NXM_OF_ARP_TPA[]->NXM_OF_ETH_SRC[0..31]" +
		",set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ETH_SRC[]->NXM_NX_ARP_SHA[]" +
		",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[],IN_PORT"
}

const arpReplyGW0 = "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:0a:58:00:00:00:01->arp_sha,set_field:198.19.0.1->arp_spa,IN_PORT"

func TestPodFlows(t *testing.T) {
	want := []string{
		"table=0,priority=200,cookie=0x2000000000a,in_port=10 actions=set_field:0x64->reg0,goto_table:10",
		"table=10,priority=200,cookie=0x2000000000a,arp,in_port=10,dl_src=0a:58:c6:13:00:02,arp_spa=198.19.0.2,arp_sha=0a:58:c6:13:00:02 actions=goto_table:20",
		"table=10,priority=200,cookie=0x2000000000a,ip,in_port=10,dl_src=0a:58:c6:13:00:02,nw_src=198.19.0.2 actions=goto_table:20",
		"table=40,priority=200,cookie=0x2000000000a,ip,nw_dst=198.19.0.2 actions=set_field:0a:58:c6:13:00:02->eth_dst,set_field:0xa->reg1,goto_table:50",
	}
	assertFlows(t, "PodFlows", Strings(PodFlows(prodPod)), want)
}

func TestBase(t *testing.T) {
	skeleton := []string{
		"table=0,priority=0,cookie=0x10500000000 actions=drop",
		"table=10,priority=0,cookie=0x10100000000 actions=drop",
		"table=10,priority=300,cookie=0x10100000000,vlan_tci=0x1000/0x1000 actions=drop",
		"table=20,priority=0,cookie=0x10400000000 actions=drop",
		"table=20,priority=10,cookie=0x10000000000,ip actions=goto_table:30",
		"table=30,priority=0,cookie=0x10400000000 actions=drop",
		"table=40,priority=0,cookie=0x10400000000 actions=drop",
		"table=50,priority=0,cookie=0x10000000000 actions=output:NXM_NX_REG1[]",
	}
	tests := []struct {
		name string
		node Node
		want []string // in addition to the skeleton
	}{
		{"empty node", Node{GatewayMAC: gwMAC}, nil},
		{"one domain", Node{GatewayMAC: gwMAC, Domains: []Domain{prod}, Pools: []Pool{prodNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"),
			"table=20,priority=200,cookie=0x10000000000,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"table=30,priority=100,cookie=0x10200000000,ip,nw_dst=198.19.0.0/24 actions=drop",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
		}},
		{"two isolated domains", Node{GatewayMAC: gwMAC, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"), arpPool("0xc8", "198.19.1.0/24"),
			"table=20,priority=200,cookie=0x10000000000,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"table=20,priority=200,cookie=0x10000000000,arp,reg0=0xc8,arp_tpa=198.19.1.1,arp_op=1 actions=" + strings.Replace(arpReplyGW0, "198.19.0.1->arp_spa", "198.19.1.1->arp_spa", 1),
			"table=30,priority=100,cookie=0x10200000000,ip,nw_dst=198.19.0.0/24 actions=drop",
			"table=30,priority=100,cookie=0x10200000000,ip,nw_dst=198.19.1.0/24 actions=drop",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0xc8,nw_dst=198.19.1.0/24 actions=goto_table:40",
		}},
		{"peering applies both ways", Node{GatewayMAC: gwMAC, Domains: []Domain{{Name: "production", VNI: 100, Peers: []string{"test"}}, test}, Pools: []Pool{prodNet, testNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"), arpPool("0xc8", "198.19.1.0/24"),
			"table=20,priority=200,cookie=0x10000000000,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"table=20,priority=200,cookie=0x10000000000,arp,reg0=0xc8,arp_tpa=198.19.1.1,arp_op=1 actions=" + strings.Replace(arpReplyGW0, "198.19.0.1->arp_spa", "198.19.1.1->arp_spa", 1),
			"table=30,priority=100,cookie=0x10200000000,ip,nw_dst=198.19.0.0/24 actions=drop",
			"table=30,priority=100,cookie=0x10200000000,ip,nw_dst=198.19.1.0/24 actions=drop",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0x64,nw_dst=198.19.1.0/24 actions=goto_table:40",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0xc8,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"table=30,priority=200,cookie=0x10000000000,ip,reg0=0xc8,nw_dst=198.19.1.0/24 actions=goto_table:40",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := Strings(parseAll(t, append(append([]string(nil), skeleton...), tc.want...)))
			assertFlows(t, "Base", Strings(Base(tc.node)), want)
		})
	}
}

// TestNoNormalNoLearning: pod traffic never uses NORMAL, flooding or learning.
func TestNoNormalNoLearning(t *testing.T) {
	n := Node{GatewayMAC: gwMAC, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet}, Pods: []Pod{prodPod}}
	for _, f := range n.All() {
		for _, bad := range []string{"NORMAL", "FLOOD", "ALL", "learn("} {
			if strings.Contains(f.Actions, bad) {
				t.Errorf("flow uses %s: %s", bad, f)
			}
		}
		if f.Actions == "drop" && f.Cookie.Reason() == ReasonNone {
			t.Errorf("drop flow without a reason: %s", f)
		}
	}
}

func TestWithRound(t *testing.T) {
	fs := WithRound(PodFlows(prodPod), 7)
	for _, f := range fs {
		if f.Cookie.Round() != 7 || f.Cookie.Kind() != KindPod || f.Cookie.Object() != 10 {
			t.Errorf("cookie %s: round %d kind %d object %d", f.Cookie, f.Cookie.Round(), f.Cookie.Kind(), f.Cookie.Object())
		}
	}
}

func TestCookie(t *testing.T) {
	tests := []struct {
		c     Cookie
		mask  Cookie
		match string
	}{
		{NewCookie(3, KindPod, 0, 10), ObjectMask, "cookie=0x2000000000a/0xff00ffffffff"},
		{NewCookie(3, KindBase, ReasonSpoof, 0), RoundMask, "cookie=0x3000000000000/0xffff000000000000"},
		{NewCookie(3, KindBase, ReasonIsolation, 0), ReasonMask, "cookie=0x10200000000/0xffff00000000"},
	}
	for _, tc := range tests {
		if got := tc.c.Match(tc.mask); got != tc.match {
			t.Errorf("%s.Match(%s) = %q, want %q", tc.c, tc.mask, got, tc.match)
		}
	}
	if got := PodCookie(10); got != "cookie=0x2000000000a/0xff00ffffffff" {
		t.Errorf("PodCookie(10) = %q", got)
	}
	c := NewCookie(0xffff, KindPod, ReasonNoRoute, 0xffffffff)
	if c.Round() != 0xffff || c.Kind() != KindPod || c.Reason() != ReasonNoRoute || c.Object() != 0xffffffff {
		t.Errorf("cookie fields do not round-trip: %s", c)
	}
}

func TestTableNames(t *testing.T) {
	for _, tb := range Tables {
		got, ok := TableByName(tb.String())
		if !ok || got != tb {
			t.Errorf("TableByName(%q) = %v, %v", tb, got, ok)
		}
	}
	if _, ok := TableByName("Nope"); ok {
		t.Error("TableByName found a table that does not exist")
	}
}

// assertFlows fails the test with both lists, one flow a line, if got is
// not want.
func assertFlows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// parseAll reads add-flow lines back into flows, so the golden strings are
// compared after the same sort as the output.
func parseAll(t *testing.T, lines []string) []Flow {
	t.Helper()
	var fs []Flow
	for _, l := range lines {
		f, err := Parse(l)
		if err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		fs = append(fs, f)
	}
	return fs
}
