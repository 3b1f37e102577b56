package of_test

import (
	"hash/maphash"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows/of"
)

var (
	mac  = net.HardwareAddr{0x0a, 0x58, 0xc6, 0x13, 0, 2}
	host = of.Host(netip.MustParseAddr("198.19.0.2"))
)

// TestCanonical: flows built differently but held by OVS as one have one
// key, compare equal and print alike.
func TestCanonical(t *testing.T) {
	a := of.NewFlow(10, 200, 1).Proto(of.ProtoTCP).Match(of.InPort(5), of.EthSrc(mac), of.IPv4Src(host), of.TCPDst(80)).Do(of.Goto{Table: 20})
	b := of.Flow{Table: 10, Priority: 200, Cookie: 1, Protocol: of.ProtoIP,
		Matches: []of.Match{of.TCPDst(80), of.IPProto(6), of.IPv4Src(netip.MustParsePrefix("198.19.0.2/32")), of.EthSrcMasked(mac, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), of.InPort(5)},
		Actions: []of.Action{of.Goto{Table: 20}}}
	c := of.Flow{Table: 10, Priority: 200, Cookie: 1,
		Matches: []of.Match{of.EthType(0x0800), of.IPProto(6), of.InPort(5), of.EthSrc(mac), of.IPv4Src(host), of.TCPDst(80)},
		Actions: []of.Action{of.Goto{Table: 20}}}
	seed := maphash.MakeSeed()
	for _, g := range []of.Flow{b, c} {
		if g.Key() != a.Key() || !g.Equal(a) || g.Hash(seed) != a.Hash(seed) || g.String() != a.String() {
			t.Errorf("\n  %s\nis not the same flow as\n  %s", g, a)
		}
	}
	want := "cookie=0x1, table=10, priority=200,tcp,in_port=5,dl_src=0a:58:c6:13:00:02,nw_src=198.19.0.2,tp_dst=80 actions=goto_table:20"
	if a.String() != want {
		t.Errorf("String:\n got %s\nwant %s", a, want)
	}
	// What differs in OVS's eyes differs here.
	for name, g := range map[string]of.Flow{
		"priority": withPrio(a, 201),
		"match":    a.Match(of.IPTTL(64)),
		"mask":     of.NewFlow(10, 200, 1).Proto(of.ProtoTCP).Match(of.InPort(5), of.EthSrc(mac), of.IPv4Src(netip.MustParsePrefix("198.19.0.0/24")), of.TCPDst(80)).Do(of.Goto{Table: 20}),
		"protocol": of.NewFlow(10, 200, 1).Proto(of.ProtoUDP).Match(of.InPort(5), of.EthSrc(mac), of.IPv4Src(host), of.UDPDst(80)).Do(of.Goto{Table: 20}),
	} {
		if g.Key() == a.Key() {
			t.Errorf("%s: another flow has the same key: %s", name, g)
		}
	}
	otherActions := a
	otherActions.Actions = []of.Action{of.Output{Port: 3}, of.Goto{Table: 20}}
	for name, g := range map[string]of.Flow{"cookie": withCookie(a, 2), "actions": otherActions} {
		if g.Key() != a.Key() || g.Equal(a) || g.Hash(seed) == a.Hash(seed) {
			t.Errorf("%s: %s equals %s", name, g, a)
		}
	}
	if d := a.Do(of.Drop{}); !of.NewFlow(0, 1, 0).Do(of.Drop{}).Equal(of.NewFlow(0, 1, 0)) || d.String() != a.String() {
		t.Error("Drop is not the same as no action")
	}
	// The builder methods do not touch the flow they start from.
	base := of.NewFlow(0, 1, 0).Match(of.InPort(1))
	x, y := base.Match(of.InPort(2)), base.Do(of.Output{Port: 3})
	if len(base.Matches) != 1 || len(base.Actions) != 0 || len(x.Matches) != 2 || len(y.Actions) != 1 {
		t.Error("Match or Do changed its receiver")
	}
}

func withPrio(f of.Flow, p uint16) of.Flow   { f.Priority = p; return f }
func withCookie(f of.Flow, c uint64) of.Flow { f.Cookie = c; return f }

// TestText: matches and actions print as OVS prints them (checked against
// ovs-ofctl in ovs.TestVocabulary; these pin the cases worth reading).
func TestText(t *testing.T) {
	for _, tc := range []struct {
		v    interface{ MarshalText() ([]byte, error) }
		want string
	}{
		{of.RegMatch(0, 0, 0xff), "reg0=0/0xff"},
		{of.RegField{Reg: 3, Lo: 4, Hi: 11}.Match(9), "reg3=0x90/0xff0"},
		{of.TunIDMasked(0, 0xff), "tun_id=0/0xff"},
		{of.TunID(0x64), "tun_id=0x64"},
		{of.PortMasked(of.FieldTCPDst, 0x50, 0xfff0), "tp_dst=0x50/0xfff0"},
		{of.UDPDst(53), "tp_dst=53"},
		{of.CTState(of.CTTrk|of.CTEst, of.CTRel), "ct_state=+est-rel+trk"},
		{of.CTState(of.CTNew|of.CTTrk, 0xff&^(of.CTNew|of.CTTrk)), "ct_state=new|trk"},
		{of.CTMark(1, 0xff), "ct_mark=0x1/0xff"},
		{of.CTLabel(of.Value{15: 5}, of.Value{15: 0xff}), "ct_label=0x5/0xff"},
		{of.DLVLAN(30), "dl_vlan=30"},
		{of.VLANTCI(0x1000, 0x1000), "vlan_tci=0x1000/0x1000"},
		{of.VLANTCI(0x7000|30, 0xffff), "dl_vlan=30,dl_vlan_pcp=3"},
		{of.ICMPv6Type(135), "icmp_type=135"},
		{of.EthSrcMasked(mac, net.HardwareAddr{0xff, 0xff, 0xff, 0, 0, 0}), "dl_src=0a:58:c6:00:00:00/ff:ff:ff:00:00:00"}, // the value under its mask
		{of.IPv6Src(netip.MustParsePrefix("fd00::/64")), "ipv6_src=fd00::/64"},
		{of.EthType(0x88cc), "dl_type=0x88cc"},
		{of.RegField{Reg: 1, Lo: 0, Hi: 31}.Set(0xa), "set_field:0xa->reg1"},
		{of.RegField{Reg: 3, Lo: 4, Hi: 11}.Set(3), "set_field:0x30/0xff0->reg3"},
		{of.Set(of.ExactUint(of.FieldVLANVID, 0x1000|30)), "set_field:4126->vlan_vid"},
		{of.Set(of.EthSrcMasked(net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 0}, net.HardwareAddr{0xff, 0xff, 0, 0, 0, 0})), "set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_src"},
		{of.Move{Src: of.Bits(of.Reg(0), 0, 23), Dst: of.Bits(of.FieldTunID, 0, 23)}, "move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23]"},
		{of.Move{Src: of.Whole(of.FieldARPTPA), Dst: of.Bits(of.FieldEthSrc, 0, 31)}, "move:NXM_OF_ARP_TPA[]->NXM_OF_ETH_SRC[0..31]"},
		{of.OutputReg{Src: of.Whole(of.Reg(1))}, "output:NXM_NX_REG1[]"},
		{of.Output{Port: of.PortInPort}, "IN_PORT"},
		{of.PopVLAN{}, "pop_vlan"},
		{of.Resubmit{Table: 0}, "resubmit(,0)"},
		{of.Resubmit{Table: 40}, "resubmit(,40)"},
		{of.Conjunction{ID: 7, Clause: 1, NClauses: 2}, "conjunction(7,1/2)"},
		{of.CT{}, "ct()"},
		{of.CT{Commit: true, Zone: 5, Recirc: true, Table: 20, NAT: &of.NAT{Src: true, MinAddr: netip.MustParseAddr("198.18.0.10"), MaxAddr: netip.MustParseAddr("198.18.0.20"), MinPort: 1000, MaxPort: 2000},
			Exec: []of.SetField{of.Set(of.CTMark(1, 0xffffffff))}},
			"ct(commit,table=20,zone=5,nat(src=198.18.0.10-198.18.0.20:1000-2000),exec(set_field:0x1->ct_mark))"},
		{of.CT{ZoneSrc: of.Bits(of.Reg(4), 0, 15), NAT: &of.NAT{}}, "ct(zone=NXM_NX_REG4[0..15],nat)"},
	} {
		got, err := tc.v.MarshalText()
		if err != nil || string(got) != tc.want {
			t.Errorf("%#v: %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
}

// TestEncodeErrors: what OVS could not hold fails to encode, with a reason.
func TestEncodeErrors(t *testing.T) {
	f := of.NewFlow(0, 1, 0)
	for name, bad := range map[string]of.Flow{
		"goto not last":      f.Do(of.Goto{Table: 5}, of.Output{Port: 1}),
		"field twice":        f.Match(of.InPort(1), of.InPort(2)),
		"masked non-mask":    f.Match(of.MaskedUint(of.FieldInPort, 1, 0xff)),
		"NORMAL":             f.Do(of.Output{Port: 0xfffffffa}),
		"bad conjunction":    f.Do(of.Conjunction{ID: 1, Clause: 3, NClauses: 2}),
		"wrong family":       f.Proto(of.ProtoIP).Match(of.IPv4Dst(netip.MustParsePrefix("fd00::/64"))),
		"ct exec of reg":     f.Proto(of.ProtoIP).Do(of.CT{Commit: true, Exec: []of.SetField{of.RegField{Reg: 0, Hi: 31}.Set(1).(of.SetField)}}),
		"move widths differ": f.Do(of.Move{Src: of.Whole(of.Reg(0)), Dst: of.Bits(of.FieldTunID, 0, 23)}),
	} {
		if _, err := of.AddFlow(bad); err == nil {
			t.Errorf("%s: encoded %s", name, bad)
		}
	}
}

// TestPortRange: the masked matches cover exactly the range.
func TestPortRange(t *testing.T) {
	for _, r := range [][2]uint16{{0, 0}, {80, 80}, {1024, 2047}, {1000, 2000}, {1, 65535}, {32768, 65535}} {
		ms := of.PortRange(of.FieldTCPDst, r[0], r[1])
		for p := 0; p <= 65535; p++ {
			in := uint16(p) >= r[0] && uint16(p) <= r[1]
			hit := 0
			for _, m := range ms {
				if uint64(p)&m.MaskUint() == m.Uint() {
					hit++
				}
			}
			if (hit == 1) != in || hit > 1 {
				t.Fatalf("range %d-%d: port %d matched by %d of %v", r[0], r[1], p, hit, ms)
			}
		}
	}
	if n := len(of.PortRange(of.FieldTCPDst, 1000, 2000)); n > 2*16 {
		t.Errorf("1000-2000 took %d matches", n)
	}
}

// TestSelector: a selector picks what the switch would.
func TestSelector(t *testing.T) {
	f := of.NewFlow(30, 1, 0x2000000000a)
	pod := of.CookieSelector(0x2000000000a, 0xff00ffffffff)
	if !pod.Selects(f) || !pod.InTable(30).Selects(f) || pod.InTable(40).Selects(f) || !(of.Selector{}).Selects(f) {
		t.Error("selector semantics")
	}
	if s := pod.InTable(30).String(); !strings.HasPrefix(s, "table=30,cookie=0x2000000000a/") {
		t.Errorf("String %q", s)
	}
}
