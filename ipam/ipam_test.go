package ipam_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

var ctx = context.Background()

var (
	prod = ipam.Pool{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 26}
	tiny = ipam.Pool{Name: "tiny", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/29"), Gateway: netip.MustParseAddr("198.19.1.1"), BlockBits: 30}
)

func newIPAM(t *testing.T, s ipam.Store, node string, res ...ipam.Reservation) *ipam.IPAM {
	t.Helper()
	m, err := ipam.New(ctx, ipam.Config{Node: node, Store: s, Pools: []ipam.Pool{prod, tiny}, Reservations: res})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustAllocate(t *testing.T, m *ipam.IPAM, r ipam.Request) ipam.Allocation {
	t.Helper()
	a, err := m.Allocate(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func req(pool, id string) ipam.Request {
	return ipam.Request{Pool: pool, ContainerID: id, IfName: "eth0"}
}

func TestPoolValidate(t *testing.T) {
	p := func(cidr, gw string, bits int) ipam.Pool {
		return ipam.Pool{Name: "p", Domain: "d", CIDR: netip.MustParsePrefix(cidr), Gateway: netip.MustParseAddr(gw), BlockBits: bits}
	}
	tests := []struct {
		name string
		pool ipam.Pool
		ok   bool
	}{
		{"good", p("198.19.0.0/24", "198.19.0.1", 26), true},
		{"host bits", p("198.19.0.5/24", "198.19.0.1", 26), false},
		{"gateway outside", p("198.19.0.0/24", "198.19.1.1", 26), false},
		{"gateway is network", p("198.19.0.0/24", "198.19.0.0", 26), false},
		{"gateway is broadcast", p("198.19.0.0/24", "198.19.0.255", 26), false},
		{"block bigger than pool", p("198.19.0.0/24", "198.19.0.1", 23), false},
		{"block too small", p("198.19.0.0/24", "198.19.0.1", 31), false},
		{"ipv6", p("2001:db8::/64", "2001:db8::1", 120), false},
		{"no domain", ipam.Pool{Name: "p", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 26}, false},
	}
	for _, tc := range tests {
		err := tc.pool.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ipam.ErrInvalidPool) {
			t.Errorf("%s: error %v is not ErrInvalidPool", tc.name, err)
		}
	}
	overlap := prod
	overlap.Name = "other"
	overlap.CIDR = netip.MustParsePrefix("198.19.0.128/25")
	overlap.Gateway = netip.MustParseAddr("198.19.0.129")
	if err := ipam.ValidatePools([]ipam.Pool{prod, overlap}); err == nil {
		t.Error("overlapping pools accepted")
	}
	if err := ipam.ValidatePools([]ipam.Pool{prod, prod}); err == nil {
		t.Error("duplicate pool accepted")
	}
}

func TestAllocateSkipsNetworkGatewayBroadcast(t *testing.T) {
	m := newIPAM(t, ipamtest.NewMemStore(), "n1")
	// tiny is 198.19.1.0/29 in /30 blocks: .0 network, .1 gateway, .7 broadcast.
	var got []string
	for i := 0; ; i++ {
		a, err := m.Allocate(ctx, req("tiny", fmt.Sprint("c", i)))
		if errors.Is(err, ipam.ErrPoolExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.IP.String())
	}
	slices.Sort(got) // the node's first block depends on its name
	want := fmt.Sprint([]string{"198.19.1.2", "198.19.1.3", "198.19.1.4", "198.19.1.5", "198.19.1.6"})
	if fmt.Sprint(got) != want {
		t.Errorf("allocated %v, want %v", got, want)
	}
}

func TestAllocateIdempotentAndRelease(t *testing.T) {
	s := ipamtest.NewMemStore()
	m := newIPAM(t, s, "n1")
	a1, err := m.Allocate(ctx, req("prod", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Allocate(ctx, req("prod", "c1"))
	if again != a1 {
		t.Fatalf("second Allocate = %+v, want %+v", again, a1)
	}
	if a1.Domain != "production" || a1.Block.Bits() != 26 || !prod.CIDR.Overlaps(a1.Block) || !a1.Block.Contains(a1.IP) ||
		a1.Subnet != prod.CIDR || a1.Gateway != prod.Gateway {
		t.Fatalf("allocation %+v", a1)
	}
	a2, _ := m.Allocate(ctx, req("prod", "c2"))
	if _, ok, err := m.Release(ctx, "c1", "eth0"); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	if _, ok, err := m.Release(ctx, "c1", "eth0"); ok || err != nil {
		t.Fatalf("second Release = %v, %v; want false, nil", ok, err)
	}
	// A released address is not handed out again at once.
	a3, _ := m.Allocate(ctx, req("prod", "c3"))
	if a3.IP == a1.IP || a3.IP == a2.IP {
		t.Fatalf("c3 got %s; c1 had %s, c2 has %s", a3.IP, a1.IP, a2.IP)
	}
	// State comes back from the store.
	m2 := newIPAM(t, s, "n1")
	if got := m2.List(); len(got) != 2 {
		t.Fatalf("after restart: %+v", got)
	}
	if a, ok := m2.Get("c2", "eth0"); !ok || a != a2 {
		t.Fatalf("after restart Get(c2) = %+v, %v", a, ok)
	}
}

func TestAllocateErrors(t *testing.T) {
	m := newIPAM(t, ipamtest.NewMemStore(), "n1")
	if _, err := m.Allocate(ctx, req("nope", "c1")); !errors.Is(err, ipam.ErrUnknownPool) {
		t.Errorf("unknown pool: %v", err)
	}
	s := ipamtest.NewMemStore()
	m = newIPAM(t, s, "n1")
	s.Fail = errors.New("disk full")
	if _, err := m.Allocate(ctx, req("prod", "c1")); err == nil {
		t.Fatal("allocation with a failing store succeeded")
	}
	s.Fail = nil
	if got := m.List(); len(got) != 0 {
		t.Fatalf("failed allocation left %+v", got)
	}
}

func TestBlocksAcrossNodes(t *testing.T) {
	s := ipamtest.NewMemStore()
	n1, n2 := newIPAM(t, s, "n1"), newIPAM(t, s, "n2")
	a, _ := n1.Allocate(ctx, req("prod", "c1"))
	b, _ := n2.Allocate(ctx, req("prod", "c2"))
	if a.Block == b.Block {
		t.Fatalf("two nodes share block %s", a.Block)
	}
	// n2 fills its block (62 usable after the first) and moves on to a new one, never n1's.
	seen := map[netip.Prefix]bool{}
	for i := 0; i < 100; i++ {
		x, err := n2.Allocate(ctx, req("prod", fmt.Sprint("n2c", i)))
		if err != nil {
			t.Fatal(err)
		}
		seen[x.Block] = true
		if x.Block == a.Block {
			t.Fatalf("n2 allocated %s in n1's block", x.IP)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("n2 used blocks %v, want 2", seen)
	}
}

func TestConcurrentAllocateNoDuplicates(t *testing.T) {
	s := ipamtest.NewMemStore()
	nodes := []*ipam.IPAM{newIPAM(t, s, "n1"), newIPAM(t, s, "n2"), newIPAM(t, s, "n3")}
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[netip.Addr]string{}
	for ni, m := range nodes {
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					id := fmt.Sprintf("n%d-g%d-%d", ni, g, i)
					a, err := m.Allocate(ctx, req("prod", id))
					if errors.Is(err, ipam.ErrPoolExhausted) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := seen[a.IP]; dup {
						t.Errorf("%s handed out twice: %s and %s", a.IP, prev, id)
					}
					seen[a.IP] = id
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) == 0 {
		t.Fatal("nothing allocated")
	}
}

func TestReservation(t *testing.T) {
	res := ipam.Reservation{Workload: "shop/db-0", Pool: "prod", IP: netip.MustParseAddr("198.19.0.200")}
	s := ipamtest.NewMemStore()
	m := newIPAM(t, s, "n1", res)
	r := ipam.Request{Pool: "prod", ContainerID: "c1", IfName: "eth0", PodNamespace: "shop", PodName: "db-0"}
	a, err := m.Allocate(ctx, r)
	if err != nil || a.IP != res.IP {
		t.Fatalf("reserved pod got %v, %v; want %s", a.IP, err, res.IP)
	}
	// The pod is re-created before the old one is deleted: refused, clearly.
	r2 := r
	r2.ContainerID = "c2"
	if _, err := m.Allocate(ctx, r2); !errors.Is(err, ipam.ErrReservationBusy) {
		t.Fatalf("re-created pod while old holds the address: %v", err)
	}
	_, _, _ = m.Release(ctx, "c1", "eth0")
	if a, err := m.Allocate(ctx, r2); err != nil || a.IP != res.IP {
		t.Fatalf("re-created pod got %v, %v; want %s", a.IP, err, res.IP)
	}
	// No other pod ever gets the reserved address.
	_, _, _ = m.Release(ctx, "c2", "eth0")
	for i := 0; i < 253; i++ {
		a, err := m.Allocate(ctx, req("prod", fmt.Sprint("x", i)))
		if err != nil {
			break
		}
		if a.IP == res.IP {
			t.Fatalf("reserved %s given to %s", res.IP, a.ContainerID)
		}
	}
	// A reservation in the wrong pool is refused.
	r3 := r
	r3.Pool, r3.ContainerID = "tiny", "c3"
	if _, err := m.Allocate(ctx, r3); err == nil {
		t.Fatal("reservation in another pool honoured")
	}
	if _, err := ipam.New(ctx, ipam.Config{Node: "n1", Store: s, Pools: []ipam.Pool{prod}, Reservations: []ipam.Reservation{{Workload: "a/b", Pool: "prod", IP: prod.Gateway}}}); err == nil {
		t.Fatal("reservation of the gateway accepted")
	}
}

func TestReleaseEmptyBlocks(t *testing.T) {
	s := ipamtest.NewMemStore()
	m := newIPAM(t, s, "n1")
	a, _ := m.Allocate(ctx, req("prod", "c1"))
	if freed, _ := m.ReleaseEmptyBlocks(ctx); len(freed) != 0 {
		t.Fatalf("freed a block in use: %+v", freed)
	}
	_, _, _ = m.Release(ctx, "c1", "eth0")
	freed, err := m.ReleaseEmptyBlocks(ctx)
	if err != nil || len(freed) != 1 || freed[0].CIDR != a.Block {
		t.Fatalf("ReleaseEmptyBlocks = %+v, %v", freed, err)
	}
	if bs, _ := s.Blocks(ctx, "prod"); len(bs) != 0 {
		t.Fatalf("store still has %+v", bs)
	}
}

func TestSetPools(t *testing.T) {
	m := newIPAM(t, ipamtest.NewMemStore(), "n1")
	a, err := m.Allocate(ctx, req("prod", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPools(ctx, []ipam.Pool{tiny}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Allocate(ctx, req("prod", "c2")); !errors.Is(err, ipam.ErrUnknownPool) {
		t.Fatalf("allocation from a removed pool: %v", err)
	}
	if got, ok := m.Get("c1", "eth0"); !ok || got != a {
		t.Fatal("allocation of a removed pool lost")
	}
	if _, ok, err := m.Release(ctx, "c1", "eth0"); !ok || err != nil {
		t.Fatalf("release in a removed pool: %v %v", ok, err)
	}
	bad := prod
	bad.CIDR = netip.MustParsePrefix("198.19.1.0/24") // overlaps tiny
	if err := m.SetPools(ctx, []ipam.Pool{tiny, bad}); err == nil {
		t.Fatal("overlapping pools accepted")
	}
	if _, err := m.Allocate(ctx, req("tiny", "c3")); err != nil {
		t.Fatalf("a rejected SetPools changed the pools: %v", err)
	}
}

// TestRestartWithPoolsLater: in Kubernetes mode a restarted node learns
// its pools after New. Its blocks come with them: the next pod gets an
// address in the block it already holds, and an emptied block goes back.
func TestRestartWithPoolsLater(t *testing.T) {
	s := ipamtest.NewMemStore()
	before := newIPAM(t, s, "n1")
	a, err := before.Allocate(ctx, req("prod", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	other := newIPAM(t, s, "n2")
	if _, err := other.Allocate(ctx, req("prod", "x1")); err != nil {
		t.Fatal(err)
	}
	after, err := ipam.New(ctx, ipam.Config{Node: "n1", Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := after.SetPools(ctx, []ipam.Pool{prod, tiny}); err != nil {
		t.Fatal(err)
	}
	if bs := after.Blocks(); len(bs) != 1 || bs[0].CIDR != a.Block {
		t.Fatalf("blocks after restart %+v, want only %s (not n2's)", bs, a.Block)
	}
	b, err := after.Allocate(ctx, req("prod", "c2"))
	if err != nil || b.Block != a.Block {
		t.Fatalf("second pod got %+v (%v), want an address in the held block %s", b, err, a.Block)
	}
	if bs, _ := s.Blocks(ctx, "prod"); len(bs) != 2 {
		t.Fatalf("store holds %d prod blocks, want 2 (n1's and n2's; no new claim)", len(bs))
	}
	_, _, _ = after.Release(ctx, "c1", "eth0")
	_, _, _ = after.Release(ctx, "c2", "eth0")
	if freed, err := after.ReleaseEmptyBlocks(ctx); err != nil || len(freed) != 1 {
		t.Fatalf("ReleaseEmptyBlocks = %+v, %v; want the held block back", freed, err)
	}
	// A second SetPools loads nothing again (n1's block, released, stays gone).
	if err := after.SetPools(ctx, []ipam.Pool{prod}); err != nil || len(after.Blocks()) != 0 {
		t.Fatalf("SetPools again: %v, blocks %+v", err, after.Blocks())
	}
}
