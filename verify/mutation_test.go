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
	}
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
	_ = netip.Addr{}
}

// TestMemoChangesNothing: with and without the memo, every mutation of
// the sale-night node finds the same violations over the same number of
// header classes (the memo only shares work).
func TestMemoChangesNothing(t *testing.T) {
	for _, n := range []flows.Node{saleNight(6), bigNode(20, 60)} {
		memoChangesNothing(t, n)
	}
}

func memoChangesNothing(t *testing.T, n flows.Node) {
	in := FromNode(n)
	cases := append([]mutation{{name: "none"}}, mutations(n)...)
	for _, m := range cases {
		fs := m.apply(n.All())
		with, err := verify(fs, in, true)
		if err != nil {
			t.Fatal(err)
		}
		without, err := verify(fs, in, false)
		if err != nil {
			t.Fatal(err)
		}
		if with.Classes != without.Classes || strings.Join(violationKeys(with), "\n") != strings.Join(violationKeys(without), "\n") {
			t.Errorf("%s: with the memo %s\n%s\nwithout %s\n%s", m.name, with.Summary(), strings.Join(violationKeys(with), "\n"),
				without.Summary(), strings.Join(violationKeys(without), "\n"))
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
