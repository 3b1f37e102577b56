package ipamtest

import (
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/cane-cni/cane/ipam"
)

// StoreContract checks what ipam relies on from a Store. open returns a
// fresh, empty store; reopen (optional) returns the same store after a
// process restart.
func StoreContract(t *testing.T, open func(t *testing.T) ipam.Store, reopen func(t *testing.T) ipam.Store) {
	// Each subtest uses its own pool, so a store shared between subtests
	// (an API server) does not carry blocks from one to the next.
	var pool string
	blk := func(node, cidr string) ipam.Block {
		return ipam.Block{Pool: pool, CIDR: netip.MustParsePrefix(cidr), Node: node}
	}
	t.Run("claim is compare-and-swap", func(t *testing.T) {
		pool = "claim"
		s := open(t)
		if err := s.ClaimBlock(blk("n1", "198.19.0.0/26")); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimBlock(blk("n2", "198.19.0.0/26")); !errors.Is(err, ipam.ErrBlockTaken) {
			t.Fatalf("second claim: got %v, want ErrBlockTaken", err)
		}
		bs, _ := s.Blocks(pool)
		if len(bs) != 1 || bs[0].Node != "n1" {
			t.Fatalf("blocks = %+v, want one held by n1", bs)
		}
	})
	t.Run("concurrent claims: one winner per block", func(t *testing.T) {
		pool = "race"
		s := open(t)
		var wg sync.WaitGroup
		wins := make([]int, 8)
		for i := range wins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, c := range []string{"198.19.0.0/26", "198.19.0.64/26", "198.19.0.128/26"} {
					if s.ClaimBlock(blk(string(rune('a'+i)), c)) == nil {
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
	})
	t.Run("release only by holder", func(t *testing.T) {
		pool = "release"
		s := open(t)
		_ = s.ClaimBlock(blk("n1", "198.19.0.0/26"))
		_ = s.ReleaseBlock(blk("n2", "198.19.0.0/26"))
		if bs, _ := s.Blocks(pool); len(bs) != 1 {
			t.Fatalf("a non-holder released the block: %+v", bs)
		}
		_ = s.ReleaseBlock(blk("n1", "198.19.0.0/26"))
		if bs, _ := s.Blocks(pool); len(bs) != 0 {
			t.Fatalf("holder could not release: %+v", bs)
		}
	})
	t.Run("allocations per node", func(t *testing.T) {
		pool = "alloc"
		s := open(t)
		a := ipam.Allocation{IP: netip.MustParseAddr("198.19.0.5"), Pool: "p", Domain: "d", ContainerID: "c1", IfName: "eth0"}
		if err := s.PutAllocation("n1", a); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Allocations("n2"); len(got) != 0 {
			t.Fatalf("n2 sees n1's allocations: %+v", got)
		}
		got, _ := s.Allocations("n1")
		if len(got) != 1 || got[0] != a {
			t.Fatalf("allocations = %+v, want [%+v]", got, a)
		}
		if err := s.DeleteAllocation("n1", a.IP); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAllocation("n1", a.IP); err != nil {
			t.Fatalf("deleting an absent allocation: %v", err)
		}
		if got, _ := s.Allocations("n1"); len(got) != 0 {
			t.Fatalf("after delete: %+v", got)
		}
	})
	if reopen == nil {
		return
	}
	t.Run("state survives reopen", func(t *testing.T) {
		pool = "reopen"
		s := open(t)
		a := ipam.Allocation{IP: netip.MustParseAddr("198.19.0.6"), Pool: "p", Domain: "d", Block: netip.MustParsePrefix("198.19.0.0/26"), ContainerID: "c2", IfName: "eth0", PodNamespace: "ns", PodName: "web-0"}
		_ = s.ClaimBlock(blk("n1", "198.19.0.0/26"))
		_ = s.PutAllocation("n1", a)
		s2 := reopen(t)
		bs, _ := s2.Blocks(pool)
		got, _ := s2.Allocations("n1")
		if len(bs) != 1 || len(got) != 1 || got[0] != a {
			t.Fatalf("after reopen: blocks %+v allocations %+v", bs, got)
		}
	})
}
