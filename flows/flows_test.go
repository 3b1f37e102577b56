package flows

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows/of"
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
	return "cookie=0x10000000000, table=20, priority=100,arp,reg0=" + vni + ",arp_tpa=" + cidr + ",arp_op=1" +
		" actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_src,move:NXM_OF_ARP_TPA[]->NXM_OF_ETH_SRC[0..31]" +
		",set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ETH_SRC[]->NXM_NX_ARP_SHA[]" +
		",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[],IN_PORT"
}

const arpReplyGW0 = "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:0a:58:00:00:00:01->arp_sha,set_field:198.19.0.1->arp_spa,IN_PORT"

func TestPodFlows(t *testing.T) {
	want := []string{
		"cookie=0x2000000000a, priority=200,in_port=10 actions=set_field:0x64->reg0,set_field:0x1/0xf->reg3,goto_table:10",
		"cookie=0x2000000000a, table=10, priority=200,arp,in_port=10,dl_src=0a:58:c6:13:00:02,arp_spa=198.19.0.2,arp_sha=0a:58:c6:13:00:02 actions=goto_table:20",
		"cookie=0x2000000000a, table=10, priority=200,ip,in_port=10,dl_src=0a:58:c6:13:00:02,nw_src=198.19.0.2 actions=goto_table:20",
		"cookie=0x2000000000a, table=40, priority=200,ip,nw_dst=198.19.0.2 actions=set_field:0a:58:c6:13:00:02->eth_dst,set_field:0xa->reg1,goto_table:50",
	}
	assertFlows(t, "PodFlows", Strings(PodFlows(prodPod)), sorted(want))
}

func TestBase(t *testing.T) {
	skeleton := []string{
		"cookie=0x10500000000, priority=0 actions=drop",
		"cookie=0x10100000000, table=10, priority=0 actions=drop",
		"cookie=0x10100000000, table=10, priority=300,vlan_tci=0x1000/0x1000 actions=drop",
		"cookie=0x10400000000, table=20, priority=0 actions=drop",
		"cookie=0x10000000000, table=20, priority=10,ip actions=goto_table:25",
		"cookie=0x10000000000, table=25, priority=100,ip actions=ct(table=26,zone=1)",
		"cookie=0x10400000000, table=25, priority=0 actions=drop",
		"cookie=0x10000000000, table=30, priority=70,ip,reg4=0x10000/0x10000 actions=goto_table:40",
		"cookie=0x10000000000, table=26, priority=0 actions=goto_table:30",
		"cookie=0x10600000000, table=30, priority=60,ip,reg3=0x1/0x1,nw_dst=127.0.0.0/8 actions=drop",
		"cookie=0x10600000000, table=30, priority=60,udp,reg3=0x1/0x1,tp_dst=4789 actions=drop",
		"cookie=0x10000000000, table=30, priority=25,ip,reg3=0x1/0x1 actions=goto_table:35",
		"cookie=0x10400000000, table=30, priority=0 actions=drop",
		"cookie=0x10000000000, table=35, priority=0 actions=goto_table:45",
		"cookie=0x10400000000, table=40, priority=0 actions=drop",
		"cookie=0x10400000000, table=45, priority=0 actions=drop",
		"cookie=0x10000000000, table=50, priority=100,ct_state=+new+trk,ip actions=ct(commit,zone=1),output:NXM_NX_REG1[]",
		"cookie=0x10000000000, table=50, priority=0 actions=output:NXM_NX_REG1[]",
	}
	tests := []struct {
		name string
		node Node
		want []string // in addition to the skeleton
	}{
		{"empty node", Node{GatewayMAC: gwMAC}, nil},
		{"one domain", Node{GatewayMAC: gwMAC, Domains: []Domain{prod}, Pools: []Pool{prodNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"),
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.0.0/24 actions=drop",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
		}},
		{"two isolated domains", Node{GatewayMAC: gwMAC, Domains: []Domain{prod, test}, Pools: []Pool{prodNet, testNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"), arpPool("0xc8", "198.19.1.0/24"),
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0xc8,arp_tpa=198.19.1.1,arp_op=1 actions=" + strings.Replace(arpReplyGW0, "198.19.0.1->arp_spa", "198.19.1.1->arp_spa", 1),
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.0.0/24 actions=drop",
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.1.0/24 actions=drop",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0xc8,nw_dst=198.19.1.0/24 actions=goto_table:40",
		}},
		{"a one-sided peering opens nothing", Node{GatewayMAC: gwMAC, Domains: []Domain{{Name: "production", VNI: 100, Peers: []string{"test"}}, test}, Pools: []Pool{prodNet, testNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"), arpPool("0xc8", "198.19.1.0/24"),
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0xc8,arp_tpa=198.19.1.1,arp_op=1 actions=" + strings.Replace(arpReplyGW0, "198.19.0.1->arp_spa", "198.19.1.1->arp_spa", 1),
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.0.0/24 actions=drop",
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.1.0/24 actions=drop",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0xc8,nw_dst=198.19.1.0/24 actions=goto_table:40",
		}},
		{"a peering named by both applies both ways", Node{GatewayMAC: gwMAC, Domains: []Domain{{Name: "production", VNI: 100, Peers: []string{"test"}}, {Name: "test", VNI: 200, Peers: []string{"production"}}}, Pools: []Pool{prodNet, testNet}}, []string{
			arpPool("0x64", "198.19.0.0/24"), arpPool("0xc8", "198.19.1.0/24"),
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0x64,arp_tpa=198.19.0.1,arp_op=1 actions=" + arpReplyGW0,
			"cookie=0x10000000000, table=20, priority=200,arp,reg0=0xc8,arp_tpa=198.19.1.1,arp_op=1 actions=" + strings.Replace(arpReplyGW0, "198.19.0.1->arp_spa", "198.19.1.1->arp_spa", 1),
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.0.0/24 actions=drop",
			"cookie=0x10200000000, table=30, priority=100,ip,nw_dst=198.19.1.0/24 actions=drop",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x64,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0x64,nw_dst=198.19.1.0/24 actions=goto_table:40",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0xc8,nw_dst=198.19.0.0/24 actions=goto_table:40",
			"cookie=0x10000000000, table=30, priority=200,ip,reg0=0xc8,nw_dst=198.19.1.0/24 actions=goto_table:40",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := sorted(append(append([]string(nil), skeleton...), tc.want...))
			assertFlows(t, "Base", Strings(Base(tc.node)), want)
		})
	}
}

// TestNoNormalNoLearning: pod traffic never uses NORMAL, flooding or
// learning — the vocabulary has none of them, and no flow outputs to a
// reserved port but IN_PORT — and every drop flow names its reason.
func TestNoNormalNoLearning(t *testing.T) {
	for _, f := range richNode().All() {
		for _, a := range f.Actions {
			switch a := a.(type) {
			case of.Raw:
				t.Errorf("flow has an action outside the vocabulary: %s", f)
			case of.Output:
				if a.Port >= 0xffffff00 && a.Port != of.PortInPort {
					t.Errorf("flow outputs to reserved port %#x: %s", a.Port, f)
				}
			}
		}
		if len(f.Canonical().Actions) == 0 && CookieOf(f).Reason() == ReasonNone {
			t.Errorf("drop flow without a reason: %s", f)
		}
	}
}

// TestNoTextFlows: no builder makes a flow from text. The package's
// non-test files never format strings (fmt only names tables, reasons and
// cookies), so every flow is built from typed values.
func TestNoTextFlows(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "fmt" && sel.Sel.Name != "Sprintf" {
					t.Errorf("%s: fmt.%s", fset.Position(call.Pos()), sel.Sel.Name)
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "fmt" && sel.Sel.Name == "Sprintf" && !inNamer(f, call.Pos()) {
					t.Errorf("%s: fmt.Sprintf outside a String or name function", fset.Position(call.Pos()))
				}
			}
			return true
		})
	}
}

// inNamer reports whether pos lies in a function that names a value
// (String, name): the only place fmt.Sprintf may appear.
func inNamer(f *ast.File, pos token.Pos) bool {
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if ok && fn.Pos() <= pos && pos < fn.End() {
			return fn.Name.Name == "String" || fn.Name.Name == "name"
		}
	}
	return false
}

// TestOrderings: each chain of priorities descends, and every flow of a
// node with every feature uses a priority its table's chains name.
func TestOrderings(t *testing.T) {
	named := map[Table]map[Priority]bool{}
	for _, o := range Orderings {
		for i, p := range o.Chain {
			if i > 0 && p >= o.Chain[i-1] {
				t.Errorf("%s: %d does not rank below %d (%s)", o.Table, p, o.Chain[i-1], o.Why)
			}
			if named[o.Table] == nil {
				named[o.Table] = map[Priority]bool{}
			}
			named[o.Table][p] = true
		}
	}
	for _, f := range richNode().All() {
		if !named[TableOf(f)][Priority(f.Priority)] {
			t.Errorf("flow at a priority no ordering names: %s", f)
		}
	}
}

// richNode has every feature: two peered overlay domains, a VLAN domain
// with the uplink, the host port, pods, a remote node, a lent block.
func richNode() Node {
	return Node{
		GatewayMAC: gwMAC, Overlay: true, Uplink: true, NodeAddrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		HostPorts:  []HostPort{{Domain: "production", OFPort: 0xf000, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 0x64}}, {Domain: "test", OFPort: 0xf001, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 0xc8}}},
		Domains:    []Domain{{Name: "production", VNI: 100, Peers: []string{"test"}}, {Name: "test", VNI: 200, Peers: []string{"production"}}, vlanDom},
		Pools:      []Pool{prodNet, testNet, vlanNet},
		Pods:       []Pod{prodPod},
		Remotes:    []RemoteNode{node2},
		LentBlocks: []LentBlock{{CIDR: netip.MustParsePrefix("198.19.1.16/28"), Pool: "test", Domain: "production"}},
	}
}

func TestWithRound(t *testing.T) {
	fs := WithRound(PodFlows(prodPod), 7)
	for _, f := range fs {
		if c := CookieOf(f); c.Round() != 7 || c.Kind() != KindPod || c.Object() != 10 {
			t.Errorf("cookie %s: round %d kind %d object %d", c, c.Round(), c.Kind(), c.Object())
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
		if got := tc.c.Select(tc.mask).String(); got != tc.match {
			t.Errorf("%s.Select(%s) = %q, want %q", tc.c, tc.mask, got, tc.match)
		}
	}
	if got := PodCookie(10); got != (of.Selector{Cookie: 0x2000000000a, CookieMask: 0xff00ffffffff}) {
		t.Errorf("PodCookie(10) = %v", got)
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

// sorted is the golden lines in Strings' order.
func sorted(lines []string) []string {
	out := append([]string{}, lines...)
	sort.Strings(out)
	return out
}
