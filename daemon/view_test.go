package daemon

import (
	"net/netip"
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
			[]string{"prod"}, "production", []string{"pool aaa"}},
		{"pool of an unknown domain", []kube.Domain{prod},
			[]kube.Pool{pool("prod", "production", "198.19.0.0/24", 0), pool("stg", "staging", "198.19.1.0/24", 1)},
			[]string{"prod"}, "production", []string{`pool stg: unknown domain "staging"`}},
		{"newer domain reusing a VNI, earlier name", []kube.Domain{prod, {Name: "attack", VNI: 100, Created: t0.Add(time.Minute)}},
			[]kube.Pool{pool("prod", "production", "198.19.0.0/24", 0), pool("evil", "attack", "198.19.1.0/24", 61)},
			[]string{"prod"}, "production", []string{"domain attack: vni 100", "pool evil: unknown domain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := kube.View{Domains: tc.domains, Pools: tc.pools}
			kube.SortView(&kv)
			v, warn := kubeView(kv, "n1")
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
		Blocks: []kube.Block{{Pool: "prod", CIDR: netip.MustParsePrefix("198.19.0.64/28"), Node: "evil"}},
	}
	v, warn := kubeView(kv, "n1")
	if len(v.Remotes) != 1 || v.Remotes[0].Name != "good" {
		t.Errorf("remotes %+v, want only good", v.Remotes)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "node evil: tunnel endpoint 198.19.0.77 is inside pool prod") {
		t.Errorf("warnings %q", warn)
	}
}
