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

// TestReleaseEmptyBlocksIf: only the selected empty blocks go back.
func TestReleaseEmptyBlocksIf(t *testing.T) {
	store := ipamtest.NewMemStore()
	pools := []ipam.Pool{
		{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 28},
		{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1"), BlockBits: 28},
	}
	m, err := ipam.New(ctx, ipam.Config{Node: "n1", Store: store, Pools: pools})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"prod", "test"} {
		if _, err := m.Allocate(ctx, ipam.Request{Pool: p, ContainerID: p, IfName: "eth0"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Release(ctx, p, "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	freed, err := m.ReleaseEmptyBlocksIf(ctx, func(b ipam.Block) bool { return b.Pool == "prod" })
	if err != nil || len(freed) != 1 || freed[0].Pool != "prod" {
		t.Fatalf("freed %+v, %v", freed, err)
	}
	if bs := m.Blocks(); len(bs) != 1 || bs[0].Pool != "test" {
		t.Fatalf("blocks left %+v", bs)
	}
}

// TestLentBlocks: when the borrower's pool runs dry, a lender block is lent
// to the borrower's domain; lender and borrower never share a block; the
// lent block goes back empty and the lender's pool is whole again.
func TestLentBlocks(t *testing.T) {
	store := ipamtest.NewMemStore()
	pools := []ipam.Pool{
		{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.4.0/29"), Gateway: netip.MustParseAddr("198.19.4.1"), BlockBits: 29},
		{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/27"), Gateway: netip.MustParseAddr("198.19.1.1"), BlockBits: 28},
	}
	other, _ := ipam.New(ctx, ipam.Config{Node: "n1", Store: store, Pools: pools})
	if _, err := other.Allocate(ctx, ipam.Request{Pool: "prod", ContainerID: "p0", IfName: "eth0"}); err != nil {
		t.Fatal(err) // n1 holds production's only block
	}
	m, _ := ipam.New(ctx, ipam.Config{Node: "n2", Store: store, Pools: pools})
	if _, err := m.Allocate(ctx, ipam.Request{Pool: "prod", ContainerID: "p1", IfName: "eth0"}); !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("no loan: %v, want exhausted", err)
	}
	lender, err := m.Allocate(ctx, ipam.Request{Pool: "test", ContainerID: "t1", IfName: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	borrowed, err := m.Allocate(ctx, ipam.Request{Pool: "prod", ContainerID: "p1", IfName: "eth0", LendFrom: []string{"test"}, Loan: "sale"})
	if err != nil {
		t.Fatal(err)
	}
	if borrowed.Pool != "test" || borrowed.Domain != "production" || borrowed.Block == lender.Block {
		t.Fatalf("borrowed %+v, lender %+v: want a test block of its own, serving production", borrowed, lender)
	}
	again, _ := m.Allocate(ctx, ipam.Request{Pool: "prod", ContainerID: "p2", IfName: "eth0", LendFrom: []string{"test"}, Loan: "sale"})
	if again.Block != borrowed.Block {
		t.Errorf("second borrower pod in %s, want the lent block %s", again.Block, borrowed.Block)
	}
	more, _ := m.Allocate(ctx, ipam.Request{Pool: "test", ContainerID: "t2", IfName: "eth0"})
	if more.Block == borrowed.Block {
		t.Errorf("a lender pod got an address in the lent block: %+v", more)
	}
	for _, id := range []string{"p1", "p2"} {
		if _, _, err := m.Release(ctx, id, "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	freed, err := m.ReleaseEmptyBlocksIf(ctx, func(b ipam.Block) bool { return b.Domain != "" })
	if err != nil || len(freed) != 1 || freed[0].CIDR != borrowed.Block || freed[0].Loan != "sale" {
		t.Fatalf("freed %+v, %v", freed, err)
	}
	bs, _ := store.Blocks(ctx, "test")
	for _, b := range bs {
		if b.Domain != "" {
			t.Errorf("lent block left in the store: %+v", b)
		}
	}
}
