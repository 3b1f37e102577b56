package verify

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows/of"
)

// The tiny node of the table tests: pods 10 and 12 of domain a, pod 11 of
// domain b, and (where a test adds it) the tunnel on ofport 1.
var (
	ipA10, ipB11, ipA12 = netip.MustParseAddr("198.19.0.10"), netip.MustParseAddr("198.19.1.11"), netip.MustParseAddr("198.19.0.12")
	macA10, macB11      = macOf(ipA10), macOf(ipB11)
	macA12              = macOf(ipA12)
	v6a10               = netip.MustParseAddr("2001:2::10") // RFC 5180's benchmarking range
)

func macOf(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}
}

func tiny() Input {
	return Input{
		Domains: []Domain{{Name: "a", VNI: 100}, {Name: "b", VNI: 200}},
		Ports: []Port{
			{OFPort: 10, Kind: PortPod, Name: "a10", Domain: "a", MAC: macA10, IPs: []netip.Addr{ipA10}},
			{OFPort: 11, Kind: PortPod, Name: "b11", Domain: "b", MAC: macB11, IPs: []netip.Addr{ipB11}},
			{OFPort: 12, Kind: PortPod, Name: "a12", Domain: "a", MAC: macA12, IPs: []netip.Addr{ipA12}},
		},
		Addresses: []Range{{netip.MustParsePrefix("198.19.0.0/24"), "a"}, {netip.MustParsePrefix("198.19.1.0/24"), "b"}},
	}
}

func fl(table uint8, prio uint16) of.Flow { return of.NewFlow(table, prio, 0) }

// guard is table 0 passing only each pod's own IPv4 (MAC and address),
// on to table 1; everything else drops.
func guard() []of.Flow {
	fs := []of.Flow{fl(0, 0)}
	for _, p := range tiny().Ports {
		fs = append(fs, fl(0, 100).Proto(of.ProtoIP).Match(of.InPort(p.OFPort), untagged, of.EthSrc(p.MAC), of.IPv4Src(of.Host(p.IPs[0]))).Do(of.Goto{Table: 1}))
	}
	return fs
}

// kinds is the report's violations as "kind from>to" (or the kind alone),
// sorted, for comparing with a table's want.
func kinds(rep Report) []string {
	var out []string
	for _, v := range rep.Violations {
		s := string(v.Kind)
		if v.Kind == Isolation {
			s += " " + v.From + ">" + v.ToDomain
		}
		if v.Kind == Spoof || v.Kind == Admission {
			s += " " + v.Source
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return dedupeStrings(out)
}

func dedupeStrings(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func TestPipelines(t *testing.T) {
	reg1 := of.Whole(of.Reg(1))
	for _, tc := range []struct {
		name  string
		flows []of.Flow
		in    func(*Input)
		want  []string
	}{
		{
			name:  "one flow sends everything to a pod of another domain",
			flows: []of.Flow{fl(0, 0).Do(of.Output{Port: 11})},
			want:  []string{"isolation a>b", "spoof pod a10 (ofport 10)", "spoof pod a12 (ofport 12)"},
		},
		{
			name: "a higher-priority drop takes what it matches; a packet is never sent back where it came in",
			flows: []of.Flow{fl(0, 100).Match(of.InPort(10)).Do(of.Drop{}), fl(0, 0).Do(of.Output{Port: 12}),
				fl(0, 200).Match(of.InPort(12)).Do(of.Output{Port: 12})},
			want: []string{"isolation b>a", "spoof pod b11 (ofport 11)"},
		},
		{
			name: "flows of one priority that overlap: both are followed",
			flows: []of.Flow{fl(0, 0), fl(0, 100).Match(of.InPort(10)).Do(of.Drop{}),
				fl(0, 100).Proto(of.ProtoIP).Match(of.InPort(10), untagged, of.EthSrc(macA10), of.IPv4Src(of.Host(ipA10))).Do(of.Output{Port: 11})},
			want: []string{"isolation a>b"},
		},
		{
			name: "set_field then a match on what it wrote",
			flows: append(guard(), fl(1, 0),
				fl(1, 10).Match(of.InPort(10)).Do(of.SetField{Field: of.Reg(0), Value: of.ExactUint(of.Reg(0), 6).Value, Mask: of.ExactUint(of.Reg(0), 0xffffffff).Value}, of.Goto{Table: 2}),
				fl(2, 0), fl(2, 10).Match(of.RegMatch(0, 5, 0xffffffff)).Do(of.Output{Port: 12}), fl(2, 10).Match(of.RegMatch(0, 6, 0xffffffff)).Do(of.Output{Port: 11})),
			want: []string{"isolation a>b"},
		},
		{
			name: "move keeps the copy tied to its source",
			flows: append(guard(), fl(1, 0),
				fl(1, 10).Proto(of.ProtoIP).Match(of.InPort(10)).Do(of.Move{Src: of.Whole(of.FieldIPv4Dst), Dst: reg1}, of.Goto{Table: 2}),
				fl(2, 0), fl(2, 10).Match(of.RegMatch(1, 0xc613010b, 0xffffffff)).Do(of.Output{Port: 11})),
			want: []string{"isolation a>b"},
		},
		{
			name:  "output to a register: a branch per port it may hold, and a black hole for the rest",
			flows: append(guard(), fl(1, 0).Proto(of.ProtoIP).Do(of.Move{Src: of.Bits(of.FieldIPv4Dst, 0, 15), Dst: of.Bits(of.Reg(1), 0, 15)}, of.OutputReg{Src: reg1})),
			want:  []string{"black-hole", "isolation a>b", "isolation b>a"},
		},
		{
			name:  "a table with no default and a goto to a table with no flows are black holes",
			flows: append(guard(), fl(1, 10).Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(ipA12))).Do(of.Goto{Table: 7})),
			want:  []string{"black-hole"},
		},
		{
			name:  "resubmit into itself is a loop",
			flows: append(guard(), fl(1, 0).Do(of.Resubmit{Table: 1})),
			want:  []string{"loop"},
		},
		{
			name:  "a flow with an action the verifier does not model is reported",
			flows: append(guard(), fl(1, 0).Do(of.Raw{Bytes: []byte{0xff, 0xff, 0, 8, 0, 0, 0x23, 0x20}})),
			want:  []string{"unmodelled"},
		},
		{
			name:  "ct: the tracked copy goes on in its table, in every state; ct_mark holds only what a commit writes",
			flows: ctPipeline(1),
			want:  []string{"isolation a>b", "isolation b>a"},
		},
		{
			name:  "ct: a mark no commit writes is never seen",
			flows: ctPipeline(2),
			want:  []string{"isolation b>a"},
		},
		{
			name:  "conjunction: the product of its clauses, then the conj_id flow",
			flows: conjPipeline(false),
			want:  []string{"isolation a>b"},
		},
		{
			name:  "tunnel: packets of each VNI judged as that domain's; unknown VTEPs and VNIs must not get in",
			flows: []of.Flow{fl(0, 0), fl(0, 10).Match(of.InPort(1)).Do(of.Output{Port: 10})},
			in:    withTunnel,
			want:  []string{"admission tunnel (ofport 1)", "isolation b>a"},
		},
		{
			name:  "tunnel: a known VTEP with its domain's VNI is admitted to that domain",
			flows: []of.Flow{fl(0, 0), fl(0, 10).Match(of.InPort(1), of.TunSrc(of.Host(netip.MustParseAddr("198.18.0.2"))), of.TunID(100)).Do(of.Output{Port: 10})},
			in:    withTunnel,
		},
		{
			name:  "host port: the host domain reaches every pod; what it forwards from a pool is that pool's domain",
			flows: []of.Flow{fl(0, 0), fl(0, 10).Match(of.InPort(3)).Do(of.Output{Port: 11})},
			in:    func(in *Input) { in.Ports = append(in.Ports, Port{OFPort: 3, Kind: PortHost, Name: "host"}) },
			want:  []string{"isolation a>b"},
		},
		{
			name:  "uplink: a tag is its domain; untagged frames and other tags must not get in",
			flows: []of.Flow{fl(0, 0), fl(0, 10).Match(of.InPort(2)).Do(of.PopVLAN{}, of.Output{Port: 10})},
			in: func(in *Input) {
				in.Domains = append(in.Domains, Domain{Name: "c", VNI: 300, VLAN: 30})
				in.Ports = append(in.Ports, Port{OFPort: 2, Kind: PortUplink, Name: "uplink"})
			},
			want: []string{"admission uplink (ofport 2)", "isolation c>a"},
		},
		{
			name: "IPv6: a pod's own source passes, another is a spoof; an address of another domain's range is judged by it",
			flows: []of.Flow{fl(0, 0), fl(0, 100).Proto(of.ProtoIPv6).Match(of.InPort(10), untagged, of.EthSrc(macA10), of.IPv6Src(of.Host(v6a10))).Do(of.Goto{Table: 1}),
				fl(1, 0), fl(1, 10).Proto(of.ProtoIPv6).Match(of.IPv6Dst(netip.MustParsePrefix("2001:2:0:1::/64"))).Do(of.Output{Port: 3})},
			in: func(in *Input) {
				in.Ports[0].IPs = append(in.Ports[0].IPs, v6a10)
				in.Ports = append(in.Ports, Port{OFPort: 3, Kind: PortHost, Name: "host"})
				in.Addresses = append(in.Addresses, Range{netip.MustParsePrefix("2001:2::/64"), "a"}, Range{netip.MustParsePrefix("2001:2:0:1::/64"), "b"})
			},
			want: []string{"isolation a>b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tiny()
			if tc.in != nil {
				tc.in(&in)
			}
			rep, err := Verify(tc.flows, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(rep); strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("got  %q\nwant %q", got, tc.want)
				for _, v := range rep.Violations {
					t.Logf("%s\n  path %+v", v, v.Path)
				}
			}
		})
	}
}

func withTunnel(in *Input) {
	in.Ports = append(in.Ports, Port{OFPort: 1, Kind: PortTunnel, Name: "tunnel"})
	in.Remotes = []Remote{{Name: "n2", VTEP: netip.MustParseAddr("198.18.0.2"), Blocks: []netip.Prefix{netip.MustParsePrefix("198.19.0.128/25")}}}
}

// ctPipeline: guard, then ct(table=2, zone=1); new connections are
// committed with ct_mark=1 and go to pod 12; established ones with
// ct_mark=mark go to pod 11.
// (mark 0: whatever the mark.)
func ctPipeline(mark uint32) []of.Flow {
	commit := of.CT{Commit: true, Zone: 1, Exec: []of.SetField{of.Set(of.CTMark(1, 0xffffffff))}}
	est := fl(2, 20).Proto(of.ProtoIP).Match(of.CTState(of.CTTrk|of.CTEst, 0))
	if mark != 0 {
		est = est.Match(of.CTMark(mark, 0xffffffff))
	}
	return append(guard(),
		fl(1, 0), fl(1, 10).Proto(of.ProtoIP).Match(of.CTState(0, of.CTTrk)).Do(of.CT{Zone: 1, Recirc: true, Table: 2}),
		fl(2, 0),
		fl(2, 20).Proto(of.ProtoIP).Match(of.CTState(of.CTTrk|of.CTNew, 0)).Do(commit, of.Output{Port: 12}),
		est.Do(of.Output{Port: 11}))
}

// conjPipeline: from pod 10 or 12 (clause 1) to pod 11's address
// (clause 2), the conj_id flow sends to pod 11; hardTie adds an ordinary
// flow of the conjunction's priority that drops pod 10's.
func conjPipeline(hardTie bool) []of.Flow {
	c := func(k uint8) of.Action { return of.Conjunction{ID: 7, Clause: k, NClauses: 2} }
	fs := append(guard(), fl(1, 0),
		fl(1, 100).Match(of.InPort(10)).Do(c(1)), fl(1, 100).Match(of.InPort(12)).Do(c(1)),
		fl(1, 100).Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(ipB11))).Do(c(2)),
		fl(1, 100).Match(of.ConjID(7)).Do(of.Output{Port: 11}))
	if hardTie {
		fs = append(fs, fl(1, 100).Match(of.InPort(10)).Do(of.Drop{}))
	}
	return fs
}

// TestCTWitness: the witness of an established connection's packet names
// the ct_state its recirculation assumed.
func TestCTWitness(t *testing.T) {
	rep, err := Verify(ctPipeline(1), tiny())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		if v.From == "a" && v.ToDomain == "b" {
			if strings.Join(v.Witness.CTNext, " ") != "est,trk" {
				t.Errorf("ct states %q, want est,trk", v.Witness.CTNext)
			}
			if last := v.Path[len(v.Path)-1]; !strings.Contains(last.Flow, "ct_mark=0x1") {
				t.Errorf("path ends with %s", last.Flow)
			}
			return
		}
	}
	t.Fatalf("no a>b violation: %v", rep.Violations)
}

// TestConjunctionTie: an ordinary flow wins a tie with a conjunction of
// its priority: pod 10's packets drop, pod 12's still match.
func TestConjunctionTie(t *testing.T) {
	rep, err := Verify(conjPipeline(true), tiny())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) != 1 || rep.Violations[0].Sources != 1 || !strings.Contains(rep.Violations[0].Source, "a12") {
		t.Fatalf("want one violation, from a12 only: %v", rep.Violations)
	}
	if w := rep.Violations[0].Witness.String(); !strings.Contains(w, "nw_dst=198.19.1.11") {
		t.Errorf("witness %s does not go to pod 11's address", w)
	}
}

// TestWitnessRoundTrip: every witness the verifier makes parses back to
// itself.
func TestWitnessRoundTrip(t *testing.T) {
	n := saleNight(4)
	in := FromNode(n)
	seen := 0
	for _, m := range mutations(n) {
		rep, err := Verify(m.apply(n.All()), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range rep.Violations {
			seen++
			w, err := ParseWitness(v.Witness.String())
			if err != nil {
				t.Fatalf("%s: %v", v.Witness, err)
			}
			if w.String() != v.Witness.String() {
				t.Errorf("parsed %s back as %s", v.Witness, w)
			}
		}
	}
	for _, s := range []string{"udp,in_port=1,tun_id=0x64,tun_src=198.18.0.2,tp_src=53,tp_dst=53", "arp,in_port=10,arp_op=1,arp_spa=198.19.0.2",
		"icmp6,in_port=3,icmp_type=135,icmp_code=0", "in_port=2,dl_vlan=30,dl_vlan_pcp=0,dl_type=0x88b5"} {
		w, err := ParseWitness(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if w.String() != s {
			t.Errorf("parsed %s back as %s", s, w)
		}
	}
	for _, bad := range []string{"tcp,nw_dst=198.19.0.0/24", "tcp,udp", "tcp,frobnicate=1", "tcp,nw_src=fe80::1"} {
		if _, err := ParseWitness(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	if seen == 0 {
		t.Fatal("no witnesses")
	}
}

func TestInputValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Input)
		want string
	}{
		{"ofport twice", func(in *Input) { in.Ports[1].OFPort = 10 }, "listed twice"},
		{"pod of no domain", func(in *Input) { in.Ports[0].Domain = "z" }, "unknown domain"},
		{"pod without a MAC", func(in *Input) { in.Ports[0].MAC = nil }, "no MAC"},
		{"port of no kind", func(in *Input) { in.Ports[0].Kind = 0 }, "no kind"},
		{"two domains, one VNI", func(in *Input) { in.Domains[1].VNI = 100 }, "share VNI"},
		{"range of no domain", func(in *Input) { in.Addresses[0].Domain = "z" }, "unknown domain"},
		{"the host domain's name taken", func(in *Input) { in.Domains[0].Name = HostDomain }, "reserved"},
	} {
		in := tiny()
		tc.edit(&in)
		if _, err := Verify(nil, in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestCTInvalidCover: the flags a recirculation's class leaves free, less
// ctInvalid, are exactly the states the tracker reports.
func TestCTInvalidCover(t *testing.T) {
	want := map[of.CTFlag]bool{}
	for _, st := range ctStates {
		want[st&ctFlagBits] = true
	}
	for f := of.CTFlag(0); f <= ctFlagBits; f++ {
		if f&^ctFlagBits != 0 {
			continue
		}
		invalid := false
		for _, inv := range ctInvalid {
			invalid = invalid || f&inv.mask == inv.val
		}
		if invalid == want[f] {
			t.Errorf("flags %#x: invalid %v, a state the tracker reports %v", f, invalid, want[f])
		}
	}
}

// TestAtomPartialWrite: a field that a table writes part of before a
// later table matches it is keyed by its value, not by its atom: two
// pods whose reg0 meets none of table 3's pairs (0b10 and 0b01) differ
// once table 2 sets bit 1 (0b10 and 0b11), and only the second reaches
// pod b. A third pod with reg0 0b00 (recorded between them) must not
// stand for it.
func TestAtomPartialWrite(t *testing.T) {
	set := func(v, m uint64) of.SetField {
		return of.SetField{Field: of.Reg(0), Value: of.ExactUint(of.Reg(0), v).Value, Mask: of.ExactUint(of.Reg(0), m).Value}
	}
	fs := append(guard(), fl(1, 0),
		fl(1, 10).Match(of.InPort(10)).Do(set(2, 0xffffffff), of.Goto{Table: 2}),
		fl(1, 10).Match(of.InPort(11)).Do(set(0, 0xffffffff), of.Goto{Table: 2}),
		fl(1, 10).Match(of.InPort(12)).Do(set(1, 0xffffffff), of.Goto{Table: 2}),
		fl(2, 0).Do(set(2, 2), of.Goto{Table: 3}),
		fl(3, 0), fl(3, 10).Match(of.RegMatch(0, 3, 3)).Do(of.Output{Port: 11}))
	for _, o := range []options{{memo: true, lazyMin: lazyMin}, {}} {
		rep, err := verify(fs, tiny(), Limits{}, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(kinds(rep), ", "); got != "isolation a>b" {
			t.Errorf("memo %v: %s, want isolation a>b (pod a12 to pod b11)", o.memo, got)
		}
	}
}
