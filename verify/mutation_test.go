package verify

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// mutation is one wrong flow injected into a correct node: replace drops
// the flows it selects, add adds flows.
type mutation struct {
	name    string
	replace func(of.Flow) bool
	add     []of.Flow
	want    Kind   // the violation it must cause
	detail  string // and a word of its text
}

func (m mutation) apply(fs []of.Flow) []of.Flow {
	var out []of.Flow
	for _, f := range fs {
		if m.replace == nil || !m.replace(f) {
			out = append(out, f)
		}
	}
	return append(out, m.add...)
}

func cookie(kind flows.Kind, reason flows.Reason, obj uint32) uint64 {
	return uint64(flows.NewCookie(0, kind, reason, obj))
}

// mutations are the faults of issue 21 on the sale-night node n.
func mutations(n flows.Node) []mutation {
	p := n.Pods[0]
	remote := n.Remotes[0]
	testPool := n.Pools[1].CIDR
	var seal of.Flow
	for _, f := range n.All() {
		if f.Table == uint8(flows.DomainPolicy) && f.Priority == uint16(flows.PolicyLentSeal) {
			seal = f
			break
		}
	}
	low := seal
	low.Priority = 150
	prodHost := n.HostPorts[0]
	block := remote.Blocks[0].CIDR
	isBlockBinding := func(f of.Flow) bool {
		if f.Table != uint8(flows.TunnelVNI) || f.Priority != uint16(flows.TunnelBlock) || f.Cookie != cookie(flows.KindNode, 0, addr32(remote.VTEP)) {
			return false
		}
		for _, m := range f.Matches {
			if p, ok := m.Prefix(); ok && m.Field == of.FieldIPv4Src && p == block {
				return true
			}
		}
		return false
	}
	return []mutation{
		{
			name: "spoof guard too wide (pod's IPv4 flow without nw_src)",
			replace: func(f of.Flow) bool {
				return f.Table == uint8(flows.SpoofGuard) && f.Cookie == cookie(flows.KindPod, 0, p.OFPort) && f.Protocol == of.ProtoIP
			},
			add: []of.Flow{of.NewFlow(uint8(flows.SpoofGuard), uint16(flows.SpoofGuardPort), cookie(flows.KindPod, 0, p.OFPort)).
				Proto(of.ProtoIP).Match(of.InPort(p.OFPort), of.EthSrc(p.MAC)).Do(of.Goto{Table: uint8(flows.ARPResponder)})},
			want: Spoof, detail: "IPv4 source",
		},
		{
			name: "DomainPolicy allow too wide (production into test's pool)",
			add: []of.Flow{of.NewFlow(uint8(flows.DomainPolicy), uint16(flows.PolicyAllow), cookie(flows.KindBase, 0, 0)).
				Proto(of.ProtoIP).Match(flows.RegDomain.Match(100), of.IPv4Dst(testPool)).Do(of.Goto{Table: uint8(flows.Forward)})},
			want: Isolation, detail: "production reaches test",
		},
		{
			name:    "lent-block seal below the pool's allow (priority 150)",
			replace: func(f of.Flow) bool { return f.Key() == seal.Key() },
			add:     []of.Flow{low},
			want:    Isolation, detail: "test reaches production",
		},
		{
			name: "a host port allowed across domains (test's into production's remote block)",
			add: []of.Flow{of.NewFlow(uint8(flows.DomainPolicy), uint16(flows.PolicyAllow)+10, cookie(flows.KindBase, 0, 0)).
				Proto(of.ProtoIP).Match(of.InPort(n.HostPorts[1].OFPort), of.IPv4Dst(remote.Blocks[0].CIDR)).Do(of.Goto{Table: uint8(flows.Forward)})},
			want: Isolation, detail: "test reaches",
		},
		{
			name: "replies of any domain steered to a host port (ConntrackState without the source domain)",
			add: []of.Flow{of.NewFlow(uint8(flows.ConntrackState), uint16(flows.CTReplyToHost), cookie(flows.KindBase, 0, 0)).
				Proto(of.ProtoIP).Match(of.CTState(of.CTTrk|of.CTRpl, 0), of.CTMark(flows.HostMark|prodHost.OFPort, 0xffffffff)).
				Do(flows.RegSteer.Set(flows.SteerFlag|prodHost.OFPort), of.Goto{Table: uint8(flows.DomainPolicy)})},
			want: Isolation, detail: "test reaches production: host port",
		},
		{
			name:    "a tunnel binding too wide (a remote block's VNI for any inner source)",
			replace: isBlockBinding,
			add: []of.Flow{of.NewFlow(uint8(flows.TunnelVNI), uint16(flows.TunnelBlock), cookie(flows.KindNode, 0, addr32(remote.VTEP))).
				Proto(of.ProtoIP).Match(of.TunSrc(of.Host(remote.VTEP)), of.TunID(100)).
				Do(flows.RegDomain.Set(100), of.Goto{Table: uint8(flows.Conntrack)})},
			want: Admission, detail: "an inner source neither in the sending node's blocks",
		},
	}
}

// addr32 is an IPv4 address as a cookie's object.
func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestMutationsCaught(t *testing.T) {
	n := saleNight(4)
	in := FromNode(n)
	for _, m := range mutations(n) {
		t.Run(m.name, func(t *testing.T) {
			rep, err := Verify(m.apply(n.All()), in)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, v := range rep.Violations {
				t.Logf("%s", v)
				if v.Kind == m.want && strings.Contains(v.String(), m.detail) {
					found = true
				}
			}
			if !found {
				t.Errorf("not caught: want a %s violation with %q; %s", m.want, m.detail, rep.Summary())
			}
		})
	}
}

// TestMemoChangesNothing: with and without the memo, and with entries
// lazy from a few records on, every mutation of the sale-night node (and
// of a bigger one) finds the same violations over the same number of
// header classes (the memo only shares work).
func TestMemoChangesNothing(t *testing.T) {
	big := bigNode(12, 30)
	if raceEnabled {
		big = bigNode(6, 12)
	}
	for _, n := range []flows.Node{saleNight(6), big} {
		memoChangesNothing(t, n)
	}
}

func memoChangesNothing(t *testing.T, n flows.Node) {
	in := FromNode(n)
	cases := append([]mutation{{name: "none"}}, mutations(n)...)
	for _, m := range cases {
		fs := m.apply(n.All())
		without, err := verify(fs, in, Limits{}, options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []options{{memo: true, lazyMin: lazyMin}, {memo: true, lazyMin: 2}} {
			with, err := verify(fs, in, Limits{}, o)
			if err != nil {
				t.Fatal(err)
			}
			if with.Classes != without.Classes || strings.Join(violationKeys(with), "\n") != strings.Join(violationKeys(without), "\n") {
				t.Errorf("%s: with the memo (%+v) %s\n%s\nwithout %s\n%s", m.name, o, with.Summary(), strings.Join(violationKeys(with), "\n"),
					without.Summary(), strings.Join(violationKeys(without), "\n"))
			}
		}
	}
}

func violationKeys(rep Report) []string {
	var out []string
	for _, v := range rep.Violations {
		out = append(out, fmt.Sprintf("%s %s %s>%s %s %d classes %d sources", v.Kind, v.Detail, v.From, v.ToDomain, v.To, v.Classes, v.Sources))
	}
	sort.Strings(out)
	return out
}
