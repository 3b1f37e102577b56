package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/cluster/kube"
)

// TestKubeViewConflicts: objects that contradict older ones are left out
// and named, whatever their names; everything else is kept.
func TestKubeViewConflicts(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	prod := kube.Domain{Name: "production", VNI: 100, Created: t0}
	pool := func(name, domain, cidr string, age int) kube.Pool {
		p := netip.MustParsePrefix(cidr)
		return kube.Pool{Name: name, Domain: domain, CIDR: p, Gateway: p.Addr().Next(), BlockSize: 26, Created: t0.Add(time.Duration(age) * time.Second)}
	}
	tests := []struct {
		name     string
		domains  []kube.Domain
		pools    []kube.Pool
		keep     []string // pools kept
		domain   string   // the domain kept for VNI 100
		warnings []string
	}{
		{"no conflict", []kube.Domain{prod}, []kube.Pool{pool("prod", "production", "198.19.0.0/24", 0)}, []string{"prod"}, "production", nil},
		{"newer pool overlapping, earlier name", []kube.Domain{prod},
			[]kube.Pool{pool("prod", "production", "198.19.0.0/24", 0), pool("aaa", "production", "198.19.0.128/25", 5)},
			[]string{"prod"}, "production", []string{"Pool aaa"}},
		{"pool of an unknown domain", []kube.Domain{prod},
			[]kube.Pool{pool("prod", "production", "198.19.0.0/24", 0), pool("stg", "staging", "198.19.1.0/24", 1)},
			[]string{"prod"}, "production", []string{`Pool stg: unknown domain "staging"`}},
		{"newer domain reusing a VNI, earlier name", []kube.Domain{prod, {Name: "attack", VNI: 100, Created: t0.Add(time.Minute)}},
			[]kube.Pool{pool("prod", "production", "198.19.0.0/24", 0), pool("evil", "attack", "198.19.1.0/24", 61)},
			[]string{"prod"}, "production", []string{"Domain attack: vni 100", "Pool evil: unknown domain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := kube.View{Domains: tc.domains, Pools: tc.pools}
			kube.SortView(&kv)
			v, ign := kubeView(kv, "n1", time.Now())
			warn := ignoredStrings(ign)
			var kept []string
			for _, p := range v.Pools {
				kept = append(kept, p.Name)
			}
			if strings.Join(kept, ",") != strings.Join(tc.keep, ",") {
				t.Errorf("pools kept %v, want %v", kept, tc.keep)
			}
			if len(v.Domains) == 0 || v.Domains[0].Name != tc.domain || v.vni(tc.domain) != 100 {
				t.Errorf("domains %+v, want %s with vni 100", v.Domains, tc.domain)
			}
			if len(warn) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", warn, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.Contains(warn[i], w) {
					t.Errorf("warning %q, want it to contain %q", warn[i], w)
				}
			}
		})
	}
}

// TestKubeViewVTEPInPool: a node whose tunnel endpoint is a pod address
// (borrowed or not) is ignored: a pod could forge its tunnel traffic.
func TestKubeViewVTEPInPool(t *testing.T) {
	p := netip.MustParsePrefix("198.19.0.0/24")
	kv := kube.View{
		Domains: []kube.Domain{{Name: "production", VNI: 100}},
		Pools:   []kube.Pool{{Name: "prod", Domain: "production", CIDR: p, Gateway: netip.MustParseAddr("198.19.0.1"), BlockSize: 28}},
		Nodes: []kube.Node{
			{Name: "n1"}, {Name: "good", VTEP: netip.MustParseAddr("198.18.0.2")}, {Name: "evil", VTEP: netip.MustParseAddr("198.19.0.77")},
		},
		Blocks: []kube.Block{blk("prod", "198.19.0.64/28", "evil")},
	}
	v, ign := kubeView(kv, "n1", time.Now())
	warn := ignoredStrings(ign)
	if len(v.Remotes) != 1 || v.Remotes[0].Name != "good" {
		t.Errorf("remotes %+v, want only good", v.Remotes)
	}
	if len(warn) != 2 || !strings.Contains(warn[0], "Node evil: tunnel endpoint 198.19.0.77 is inside pool prod") ||
		!strings.Contains(warn[1], "does not run Cane") {
		t.Errorf("warnings %q", warn)
	}
}

func ignoredStrings(ign []ignored) []string {
	var out []string
	for _, i := range ign {
		out = append(out, i.String())
	}
	return out
}

// blk is a well-formed Block object of pool held by node.
func blk(pool, cidr, node string) kube.Block {
	p := netip.MustParsePrefix(cidr)
	return kube.Block{Name: kube.BlockName(pool, p), Pool: pool, CIDR: p, Node: node}
}

// TestKubeViewTrust: every cluster object is input. Each hostile or
// broken object a node's credentials (or an admin's slip) could write is
// left out with its reason, and the rest of the view stands.
func TestKubeViewTrust(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	domains := []kube.Domain{{Name: "production", VNI: 100, Created: t0}, {Name: "test", VNI: 200, Created: t0}}
	pools := []kube.Pool{
		{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockSize: 26},
		{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1"), BlockSize: 26},
	}
	nodes := []kube.Node{
		{Name: "n1", VTEP: netip.MustParseAddr("198.18.0.1"), Created: t0},
		{Name: "n2", VTEP: netip.MustParseAddr("198.18.0.2"), Created: t0, Labels: map[string]string{"lend": "yes"},
			Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.9.2")}},
		{Name: "n3", VTEP: netip.MustParseAddr("198.18.0.3"), Created: t0},
	}
	loan := kube.Loan{Name: "sale", Borrower: "production", Lenders: []string{"test"}, NodeSelector: map[string]string{"lend": "yes"},
		Percent: 35, LendBlocks: true, Start: t0, End: t0.Add(2 * time.Hour)}
	lent := func(b kube.Block, domain, loan string, created time.Time) kube.Block {
		b.Domain, b.Loan, b.Created = domain, loan, created
		return b
	}
	wide := blk("prod", "198.19.0.0/24", "n2")
	wide.Name = kube.BlockName("prod", wide.CIDR)
	v6 := kube.Block{Name: "prod.v6", Pool: "prod", CIDR: netip.MustParsePrefix("fd00::/120"), Node: "n2"}
	tests := []struct {
		name   string
		mutate func(*kube.View)
		why    string // in the one warning
		check  func(*view) bool
	}{
		{"a valid lent block is lent", func(kv *kube.View) {
			kv.Blocks = append(kv.Blocks, lent(blk("test", "198.19.1.64/26", "n2"), "production", "sale", t0.Add(time.Minute)))
		},
			"", func(v *view) bool { return len(v.Lent) == 1 && len(v.Quarantined) == 0 }},
		{"two small rogue lent blocks (no loan)", func(kv *kube.View) {
			kv.Blocks = append(kv.Blocks, lent(blk("test", "198.19.1.64/26", "n3"), "production", "nope", t0))
		}, `lending refused, block sealed: no loan "nope"`, func(v *view) bool { return len(v.Lent) == 0 && len(v.Quarantined) == 1 }},
		{"lent block on a node the loan does not lend", func(kv *kube.View) {
			kv.Blocks = append(kv.Blocks, lent(blk("test", "198.19.1.64/26", "n3"), "production", "sale", t0.Add(time.Minute)))
		}, "does not lend node n3", func(v *view) bool { return len(v.Quarantined) == 1 }},
		{"lent block created after the loan ended", func(kv *kube.View) {
			kv.Blocks = append(kv.Blocks, lent(blk("test", "198.19.1.64/26", "n2"), "production", "sale", t0.Add(3*time.Hour)))
		}, "outside loan sale's window", func(v *view) bool { return len(v.Quarantined) == 1 }},
		{"lent the wrong way (production's pool to test)", func(kv *kube.View) {
			kv.Blocks = append(kv.Blocks, lent(blk("prod", "198.19.0.64/26", "n2"), "test", "sale", t0.Add(time.Minute)))
		}, "lends to production, not test", func(v *view) bool { return len(v.Quarantined) == 1 }},
		{"a wide block cutting production off", func(kv *kube.View) { kv.Blocks = append(kv.Blocks, wide) },
			"not a /26 block", func(v *view) bool { return len(v.Remotes[0].Blocks) == 1 }},
		{"an IPv6 block (the bundle wedge)", func(kv *kube.View) { kv.Blocks = append(kv.Blocks, v6) },
			"not IPv4", func(v *view) bool { return len(v.Remotes[0].Blocks) == 1 }},
		{"a misaligned block", func(kv *kube.View) {
			b := blk("prod", "198.19.0.64/26", "n2")
			b.CIDR = netip.MustParsePrefix("198.19.0.70/26")
			kv.Blocks = append(kv.Blocks, b)
		}, "not aligned", nil},
		{"a block outside its pool", func(kv *kube.View) {
			b := blk("prod", "198.19.1.0/26", "n2")
			kv.Blocks = append(kv.Blocks, b)
		}, "outside pool prod", nil},
		{"a block under another name", func(kv *kube.View) {
			b := blk("prod", "198.19.0.64/26", "n2")
			b.Name = "mine"
			kv.Blocks = append(kv.Blocks, b)
		}, "name is not prod.198-19-0-64-26", nil},
		{"a block of a node that does not exist", func(kv *kube.View) { kv.Blocks = append(kv.Blocks, blk("prod", "198.19.0.64/26", "ghost")) },
			`node "ghost" does not run Cane`, nil},
		{"a newer node claiming another's VTEP", func(kv *kube.View) {
			kv.Nodes = append(kv.Nodes, kube.Node{Name: "aaa", VTEP: netip.MustParseAddr("198.18.0.2"), Created: t0.Add(time.Minute)})
		}, "already node n2's", func(v *view) bool { return len(v.Remotes) == 2 }},
		{"a newer node listing another's address", func(kv *kube.View) {
			kv.Nodes[2].Created = t0.Add(time.Minute)
			kv.Nodes[2].Addrs = []netip.Addr{netip.MustParseAddr("198.18.0.3"), netip.MustParseAddr("198.18.9.2")}
		}, "address 198.18.9.2 is already node n2's; the address is left out", func(v *view) bool {
			return len(v.Remotes) == 2 && fmt.Sprint(v.Remotes[1].Addrs) == "[198.18.0.3]" && fmt.Sprint(v.Remotes[0].Addrs) == "[198.18.0.2 198.18.9.2]"
		}},
		{"a node listing a pod's address as its own", func(kv *kube.View) {
			kv.Nodes[2].Addrs = []netip.Addr{netip.MustParseAddr("198.18.0.3"), netip.MustParseAddr("198.19.1.70")}
		}, "address 198.19.1.70 is inside pool test", func(v *view) bool { return fmt.Sprint(v.Remotes[1].Addrs) == "[198.18.0.3]" }},
		{"a newer node whose VTEP is an older node's address", func(kv *kube.View) {
			kv.Nodes = append(kv.Nodes, kube.Node{Name: "aaa", VTEP: netip.MustParseAddr("198.18.9.2"), Created: t0.Add(time.Minute)})
		}, "tunnel endpoint 198.18.9.2 is already node n2's", func(v *view) bool { return len(v.Remotes) == 2 }},
		{"a newer domain with a VLAN in use", func(kv *kube.View) {
			kv.Domains[0].VLAN = 30
			kv.Domains = append(kv.Domains, kube.Domain{Name: "legacy", VNI: 300, VLAN: 30, Created: t0.Add(time.Minute)})
		}, "vlan 30 already used", func(v *view) bool { return len(v.Domains) == 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := kube.View{Domains: slices.Clone(domains), Pools: pools, Nodes: slices.Clone(nodes), Loans: []kube.Loan{loan},
				Blocks: []kube.Block{blk("prod", "198.19.0.128/26", "n2")}}
			tc.mutate(&kv)
			kube.SortView(&kv)
			v, ign := kubeView(kv, "n1", now)
			warn := ignoredStrings(ign)
			if tc.why == "" && len(warn) != 0 || tc.why != "" && (len(warn) != 1 || !strings.Contains(warn[0], tc.why)) {
				t.Fatalf("warnings %q, want one with %q", warn, tc.why)
			}
			if tc.check != nil && !tc.check(v) {
				t.Errorf("view %+v", v)
			}
			if len(v.Pools) != 2 {
				t.Errorf("the rest of the view fell: pools %+v", v.Pools)
			}
		})
	}
}

// TestKubeViewSelf: this node is as its own Node says (labels, capacity,
// VTEP), published or not yet; the others are as their CaneNodes say.
// Its blocks count before its CaneNode arrives (it runs Cane), and a
// CaneNode under its name never makes it a remote of itself.
func TestKubeViewSelf(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kv := kube.View{
		Domains: []kube.Domain{{Name: "production", VNI: 100}},
		Pools:   []kube.Pool{{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockSize: 28, NodeSelector: map[string]string{"role": "production"}}},
		Self: &kube.Node{Name: "n1", VTEP: netip.MustParseAddr("198.18.0.1"), Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
			Labels: map[string]string{"role": "production"}, MaxPods: 20},
		Nodes:  []kube.Node{{Name: "n2", VTEP: netip.MustParseAddr("198.18.0.2"), Created: t0, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}}},
		Blocks: []kube.Block{blk("prod", "198.19.0.16/28", "n1"), blk("prod", "198.19.0.32/28", "n2")},
	}
	v, ign := kubeView(kv, "n1", t0)
	if len(ign) != 0 {
		t.Errorf("ignored %v", ignoredStrings(ign))
	}
	if v.VTEP.String() != "198.18.0.1" || v.MaxPods != 20 || !v.Usable["prod"] || len(v.Remotes) != 1 || v.Remotes[0].Name != "n2" {
		t.Errorf("view %+v", v)
	}
	if got := fmt.Sprint(v.Nodes); got != "[198.18.0.1 198.18.0.2]" {
		t.Errorf("node addresses %s", got)
	}
	kv.Nodes = append(kv.Nodes, kube.Node{Name: "n1", VTEP: netip.MustParseAddr("198.18.0.1"), Created: t0})
	kube.SortView(&kv)
	if v, ign := kubeView(kv, "n1", t0); len(ign) != 0 || len(v.Remotes) != 1 {
		t.Errorf("with its own CaneNode: remotes %+v, ignored %v", v.Remotes, ignoredStrings(ign))
	}
}
