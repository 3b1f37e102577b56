package ipamtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/cane-cni/cane/ipam"
)

// StoreContract checks what ipam relies on from a Store. open returns a
// fresh, empty store; reopen (optional) returns the same store after a
// process restart.
func StoreContract(t *testing.T, open func(t *testing.T) ipam.Store, reopen func(t *testing.T) ipam.Store) {
	// Each check uses its own pool (its name), so a store shared between
	// them (an API server) does not carry blocks from one to the next.
	checks := []struct {
		name string
		run  func(t *testing.T, s ipam.Store, pool string)
	}{
		{"claim is compare-and-swap", checkClaimCAS},
		{"concurrent claims: one winner per block", checkClaimRace},
		{"release only by holder", checkReleaseByHolder},
		{"allocations per node", checkAllocations},
		{"concurrent writes all land", func(t *testing.T, s ipam.Store, _ string) {
			expectAllocations(t, s, "n1", concurrentWrites(t, s, "n1"))
		}},
		{"a done context changes nothing", checkDoneContext},
	}
	for i, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t), fmt.Sprint("contract", i)) })
	}
	if reopen != nil {
		t.Run("state survives reopen", func(t *testing.T) { checkReopen(t, open(t), reopen, "reopen") })
	}
}

var bg = context.Background()

func block(pool, node, cidr string) ipam.Block {
	return ipam.Block{Pool: pool, CIDR: netip.MustParsePrefix(cidr), Node: node}
}

func checkClaimCAS(t *testing.T, s ipam.Store, pool string) {
	if err := s.ClaimBlock(bg, block(pool, "n1", "198.19.0.0/26")); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimBlock(bg, block(pool, "n2", "198.19.0.0/26")); !errors.Is(err, ipam.ErrBlockTaken) {
		t.Fatalf("second claim: got %v, want ErrBlockTaken", err)
	}
	bs, _ := s.Blocks(bg, pool)
	if len(bs) != 1 || bs[0].Node != "n1" {
		t.Fatalf("blocks = %+v, want one held by n1", bs)
	}
}

func checkClaimRace(t *testing.T, s ipam.Store, pool string) {
	var wg sync.WaitGroup
	wins := make([]int, 8)
	for i := range wins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range []string{"198.19.0.0/26", "198.19.0.64/26", "198.19.0.128/26"} {
				if s.ClaimBlock(bg, block(pool, string(rune('a'+i)), c)) == nil {
					wins[i]++
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, w := range wins {
		total += w
	}
	if total != 3 {
		t.Fatalf("%d claims won for 3 blocks", total)
	}
}

func checkReleaseByHolder(t *testing.T, s ipam.Store, pool string) {
	_ = s.ClaimBlock(bg, block(pool, "n1", "198.19.0.0/26"))
	_ = s.ReleaseBlock(bg, block(pool, "n2", "198.19.0.0/26"))
	if bs, _ := s.Blocks(bg, pool); len(bs) != 1 {
		t.Fatalf("a non-holder released the block: %+v", bs)
	}
	_ = s.ReleaseBlock(bg, block(pool, "n1", "198.19.0.0/26"))
	if bs, _ := s.Blocks(bg, pool); len(bs) != 0 {
		t.Fatalf("holder could not release: %+v", bs)
	}
}

func checkAllocations(t *testing.T, s ipam.Store, _ string) {
	a := ipam.Allocation{IP: netip.MustParseAddr("198.19.0.5"), Pool: "p", Domain: "d", ContainerID: "c1", IfName: "eth0"}
	if err := s.PutAllocation(bg, "n1", a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Allocations(bg, "n2"); len(got) != 0 {
		t.Fatalf("n2 sees n1's allocations: %+v", got)
	}
	got, _ := s.Allocations(bg, "n1")
	if len(got) != 1 || got[0] != a {
		t.Fatalf("allocations = %+v, want [%+v]", got, a)
	}
	if err := s.DeleteAllocation(bg, "n1", a.IP); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAllocation(bg, "n1", a.IP); err != nil {
		t.Fatalf("deleting an absent allocation: %v", err)
	}
	if got, _ := s.Allocations(bg, "n1"); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

// checkDoneContext: every call with a cancelled context fails with its
// error, and no write lands.
func checkDoneContext(t *testing.T, s ipam.Store, pool string) {
	done, cancel := context.WithCancel(bg)
	cancel()
	b := block(pool, "n1", "198.19.0.0/26")
	a := ipam.Allocation{IP: netip.MustParseAddr("198.19.0.7"), Pool: "p", Domain: "d", ContainerID: "c1", IfName: "eth0"}
	calls := map[string]error{"ClaimBlock": s.ClaimBlock(done, b), "PutAllocation": s.PutAllocation(done, "n1", a)}
	_, calls["Blocks"] = s.Blocks(done, pool)
	_, calls["Allocations"] = s.Allocations(done, "n1")
	if bs, _ := s.Blocks(bg, pool); len(bs) != 0 {
		t.Errorf("a cancelled claim landed: %+v", bs)
	}
	if got, _ := s.Allocations(bg, "n1"); len(got) != 0 {
		t.Errorf("a cancelled put landed: %+v", got)
	}
	_ = s.ClaimBlock(bg, b)
	_ = s.PutAllocation(bg, "n1", a)
	calls["ReleaseBlock"] = s.ReleaseBlock(done, b)
	calls["DeleteAllocation"] = s.DeleteAllocation(done, "n1", a.IP)
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	if bs, _ := s.Blocks(bg, pool); len(bs) != 1 {
		t.Errorf("a cancelled release landed: %+v", bs)
	}
	if got, _ := s.Allocations(bg, "n1"); len(got) != 1 {
		t.Errorf("a cancelled delete landed: %+v", got)
	}
}

func checkReopen(t *testing.T, s ipam.Store, reopen func(t *testing.T) ipam.Store, pool string) {
	a := ipam.Allocation{IP: netip.MustParseAddr("198.18.9.6"), Pool: "p", Domain: "d", Block: netip.MustParsePrefix("198.18.9.0/26"),
		Subnet: netip.MustParsePrefix("198.18.9.0/24"), Gateway: netip.MustParseAddr("198.18.9.1"),
		ContainerID: "c2", IfName: "eth0", PodNamespace: "ns", PodName: "web-0"}
	_ = s.ClaimBlock(bg, block(pool, "n1", "198.18.9.0/26"))
	_ = s.PutAllocation(bg, "n1", a)
	want := concurrentWrites(t, s, "n1")
	want[a.IP] = a
	s2 := reopen(t)
	if bs, _ := s2.Blocks(bg, pool); len(bs) != 1 {
		t.Fatalf("after reopen: blocks %+v", bs)
	}
	expectAllocations(t, s2, "n1", want)
}

// concurrentWrites puts 64 allocations from 16 goroutines and deletes
// every fourth, the way parallel ADDs and DELs do, and returns what must
// be left.
func concurrentWrites(t *testing.T, s ipam.Store, node string) map[netip.Addr]ipam.Allocation {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	want := map[netip.Addr]ipam.Allocation{}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				a := ipam.Allocation{IP: netip.AddrFrom4([4]byte{198, 19, 0, byte(10 + g*4 + i)}), Pool: "p", Domain: "d", ContainerID: fmt.Sprintf("w%d-%d", g, i), IfName: "eth0"}
				if err := s.PutAllocation(bg, node, a); err != nil {
					t.Error(err)
					return
				}
				if i == 3 {
					if err := s.DeleteAllocation(bg, node, a.IP); err != nil {
						t.Error(err)
					}
					continue
				}
				mu.Lock()
				want[a.IP] = a
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return want
}

func expectAllocations(t *testing.T, s ipam.Store, node string, want map[netip.Addr]ipam.Allocation) {
	t.Helper()
	got, err := s.Allocations(bg, node)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d allocations, want %d", len(got), len(want))
	}
	for _, a := range got {
		if want[a.IP] != a {
			t.Errorf("allocation %+v, want %+v", a, want[a.IP])
		}
	}
}
