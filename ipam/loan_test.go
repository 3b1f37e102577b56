package ipam_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	sale := ipam.Loan{Name: "sale", Borrower: "production", Lenders: []string{"test"}, NodeSelector: map[string]string{"role": "test"},
		Percent: 35, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
	byName := sale
	byName.Name, byName.NodeSelector, byName.Nodes, byName.Percent, byName.PodsPerNode = "named", nil, []string{"n9"}, 0, 2
	ended := sale
	ended.Name, ended.End = "last-year", now.Add(-time.Minute)
	pending := sale
	pending.Name, pending.Start = "tomorrow", now.Add(24*time.Hour)
	pending.End = pending.Start.Add(time.Hour)
	test := map[string]string{"role": "test"}
	tests := []struct {
		name    string
		loans   []ipam.Loan
		node    string
		labels  map[string]string
		inUse   map[string]int
		want    string
		wantErr error
	}{
		{"active, room", []ipam.Loan{sale}, "n1", test, nil, "sale", nil},
		{"limit is 35% of 10 pods: 3", []ipam.Loan{sale}, "n1", test, map[string]int{"sale": 3}, "", ipam.ErrLoanFull},
		{"node not selected", []ipam.Loan{sale}, "n2", map[string]string{"role": "production"}, nil, "", ipam.ErrNotLent},
		{"other borrower", []ipam.Loan{{Name: "x", Borrower: "preview", Nodes: []string{"n1"}, PodsPerNode: 1, Start: sale.Start, End: sale.End}}, "n1", test, nil, "", ipam.ErrNotLent},
		{"lent by name", []ipam.Loan{byName}, "n9", nil, map[string]int{"named": 1}, "named", nil},
		{"ended", []ipam.Loan{ended}, "n1", test, nil, "", ipam.ErrLoanEnded},
		{"not started", []ipam.Loan{pending}, "n1", test, nil, "", ipam.ErrLoanNotYet},
		{"ended and active: the active one", []ipam.Loan{ended, sale}, "n1", test, nil, "sale", nil},
		{"full one, room in the other", []ipam.Loan{sale, func() ipam.Loan { l := sale; l.Name, l.End = "longer", now.Add(2*time.Hour); return l }()}, "n1", test, map[string]int{"longer": 3}, "sale", nil},
		{"invalid loan ignored", []ipam.Loan{func() ipam.Loan { l := sale; l.PodsPerNode = 5; return l }()}, "n1", test, nil, "", ipam.ErrNotLent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ipam.Admit(tc.loans, "production", tc.node, tc.labels, 10, tc.inUse, now)
			if !errors.Is(err, tc.wantErr) || l.Name != tc.want {
				t.Fatalf("Admit = %q, %v; want %q, %v", l.Name, err, tc.want, tc.wantErr)
			}
			if err != nil && tc.wantErr != ipam.ErrNotLent && !strings.Contains(err.Error(), "loan ") {
				t.Errorf("error does not name the loan: %v", err)
			}
		})
	}
}

func TestLoanValidate(t *testing.T) {
	now := time.Now()
	good := ipam.Loan{Name: "l", Borrower: "production", Lenders: []string{"test"}, Nodes: []string{"n1"}, PodsPerNode: 2, Start: now, End: now.Add(time.Hour)}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*ipam.Loan){
		"no borrower":     func(l *ipam.Loan) { l.Borrower = "" },
		"no nodes":        func(l *ipam.Loan) { l.Nodes = nil },
		"both limits":     func(l *ipam.Loan) { l.Percent = 10 },
		"no limit":        func(l *ipam.Loan) { l.PodsPerNode = 0 },
		"over 100%":       func(l *ipam.Loan) { l.PodsPerNode, l.Percent = 0, 101 },
		"end before":      func(l *ipam.Loan) { l.End = l.Start.Add(-time.Second) },
		"lends to itself": func(l *ipam.Loan) { l.Lenders = []string{"production"} },
	} {
		l := good
		mutate(&l)
		if l.Validate() == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

// TestReleaseEmptyBlocksOf: only the named pools' empty blocks go back.
func TestReleaseEmptyBlocksOf(t *testing.T) {
	store := ipamtest.NewMemStore()
	pools := []ipam.Pool{
		{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 28},
		{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1"), BlockBits: 28},
	}
	m, err := ipam.New(ipam.Config{Node: "n1", Store: store, Pools: pools})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"prod", "test"} {
		if _, err := m.Allocate(ipam.Request{Pool: p, ContainerID: p, IfName: "eth0"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Release(p, "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	freed, err := m.ReleaseEmptyBlocksOf([]string{"prod"})
	if err != nil || len(freed) != 1 || freed[0].Pool != "prod" {
		t.Fatalf("freed %+v, %v", freed, err)
	}
	if bs := m.Blocks(); len(bs) != 1 || bs[0].Pool != "test" {
		t.Fatalf("blocks left %+v", bs)
	}
}
