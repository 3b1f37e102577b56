package ipam_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

// patience is how long a test waits for something that must happen at
// once before it calls it blocked.
const patience = 10 * time.Second

type result struct {
	a   ipam.Allocation
	err error
}

// allocAsync runs Allocate in a goroutine and delivers its outcome.
func allocAsync(ctx context.Context, m *ipam.IPAM, r ipam.Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		a, err := m.Allocate(ctx, r)
		ch <- result{a, err}
	}()
	return ch
}

func wait[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("%s: still waiting after %s", what, patience)
		panic("unreachable")
	}
}

// within fails the test if f does not return in time: it is blocked.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	wait(t, what, done)
}

// waitUntil waits for cond, checking it often.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, patience)
		}
		time.Sleep(time.Millisecond)
	}
}

// gated is an IPAM over a fresh MemStore whose calls gate selects are
// held until the gate opens (at the latest when the test ends).
func gated(t *testing.T, node string, match func(ipamtest.Call) bool) (*ipam.IPAM, *ipamtest.MemStore, *ipamtest.Gate) {
	t.Helper()
	mem := ipamtest.NewMemStore()
	gate := ipamtest.NewGate(match)
	t.Cleanup(gate.Open)
	return newIPAM(t, &ipamtest.Hooked{Store: mem, Before: gate.Hold}, node), mem, gate
}

// TestStoreCallDoesNotBlockOthers: while one ADD waits on the store (a
// block claim, or the allocation's record), reads return at once, and an
// ADD and a DEL that need no claim complete.
func TestStoreCallDoesNotBlockOthers(t *testing.T) {
	for _, op := range []ipamtest.Op{ipamtest.OpClaimBlock, ipamtest.OpPutAllocation} {
		t.Run(string(op), func(t *testing.T) {
			m, _, gate := gated(t, "n1", func(c ipamtest.Call) bool {
				return c.Op == op && (c.Block.Pool == "tiny" || c.Alloc.ContainerID == "slow")
			})
			warm := mustAllocate(t, m, req("prod", "warm"))
			slow := allocAsync(ctx, m, req("tiny", "slow"))
			wait(t, "the slow ADD reaches the store", gate.Entered())
			within(t, "reads, an ADD with room and a DEL", func() {
				if a, ok := m.Get("warm", "eth0"); !ok || a != warm {
					t.Errorf("Get(warm) = %+v, %v", a, ok)
				}
				if got := m.List(); len(got) != 1 || got[0] != warm {
					t.Errorf("List = %+v, want only warm (slow is not durable yet)", got)
				}
				if bs := m.Blocks(); len(bs) < 1 {
					t.Errorf("Blocks = %+v", bs)
				}
				if p, ok := m.Pool("tiny"); !ok || p != tiny {
					t.Errorf("Pool(tiny) = %+v, %v", p, ok)
				}
				fast, err := m.Allocate(ctx, req("prod", "fast"))
				if err != nil || fast.Block != warm.Block {
					t.Errorf("fast ADD = %+v, %v; want an address in %s", fast, err, warm.Block)
				}
				if _, ok, err := m.Release(ctx, "warm", "eth0"); !ok || err != nil {
					t.Errorf("Release(warm) = %v, %v", ok, err)
				}
			})
			gate.Open()
			r := wait(t, "the slow ADD", slow)
			if r.err != nil || r.a.Pool != "tiny" || !tiny.CIDR.Contains(r.a.IP) {
				t.Fatalf("slow ADD = %+v, %v", r.a, r.err)
			}
		})
	}
}

// TestClaimsTakeTurns: eight ADDs that all find the node's blocks full
// claim one block between them, not one each.
func TestClaimsTakeTurns(t *testing.T) {
	var claims atomic.Int32
	mem := ipamtest.NewMemStore()
	gate := ipamtest.NewGate(func(c ipamtest.Call) bool { return c.Op == ipamtest.OpClaimBlock })
	t.Cleanup(gate.Open)
	m := newIPAM(t, &ipamtest.Hooked{Store: mem, Before: func(ctx context.Context, c ipamtest.Call) error {
		if c.Op == ipamtest.OpClaimBlock {
			claims.Add(1)
		}
		return gate.Hold(ctx, c)
	}}, "n1")
	results := []<-chan result{allocAsync(ctx, m, req("prod", "c0"))}
	wait(t, "the first claim reaches the store", gate.Entered())
	for i := 1; i < 8; i++ {
		results = append(results, allocAsync(ctx, m, req("prod", fmt.Sprint("c", i))))
	}
	waitUntil(t, "seven ADDs wait to claim", func() bool { return ipam.ClaimWaiters(m, "prod") == 7 })
	gate.Open()
	seen := map[netip.Addr]bool{}
	var block netip.Prefix
	for i, ch := range results {
		r := wait(t, "an ADD", ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if i == 0 {
			block = r.a.Block
		}
		if r.a.Block != block || seen[r.a.IP] {
			t.Errorf("c%d got %s in %s; want a fresh address in %s", i, r.a.IP, r.a.Block, block)
		}
		seen[r.a.IP] = true
	}
	if n := claims.Load(); n != 1 {
		t.Fatalf("%d claims for 8 addresses of one block", n)
	}
}

// TestConcurrentAllocateRelease: three nodes share a store and a small
// pool; on each, goroutines allocate, release and give back empty blocks
// at once. No address is ever held twice, and at the end memory and store
// agree.
func TestConcurrentAllocateRelease(t *testing.T) {
	mid := ipam.Pool{Name: "mid", Domain: "production", CIDR: netip.MustParsePrefix("198.19.2.0/25"), Gateway: netip.MustParseAddr("198.19.2.1"), BlockBits: 28}
	// Every store call yields, so the goroutines interleave between steps.
	shared := &ipamtest.Hooked{Store: ipamtest.NewMemStore(), Before: func(context.Context, ipamtest.Call) error { runtime.Gosched(); return nil }}
	nodes := map[string]*ipam.IPAM{}
	for _, name := range []string{"n1", "n2", "n3"} {
		m, err := ipam.New(ctx, ipam.Config{Node: name, Store: shared, Pools: []ipam.Pool{mid}})
		if err != nil {
			t.Fatal(err)
		}
		nodes[name] = m
	}
	var mu sync.Mutex
	held := map[netip.Addr]string{} // address → handle, while Allocate has returned and Release not begun
	var allocated atomic.Int32
	var wg sync.WaitGroup
	for name, m := range nodes {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), uint64(len(name))))
				var mine []ipam.Allocation
				for i := range 60 {
					id := fmt.Sprintf("%s-g%d-%d", name, g, i)
					a, err := m.Allocate(ctx, req("mid", id))
					switch {
					case errors.Is(err, ipam.ErrPoolExhausted):
					case err != nil:
						t.Error(err)
						return
					default:
						allocated.Add(1)
						mu.Lock()
						if prev, dup := held[a.IP]; dup {
							t.Errorf("%s handed out twice: to %s and %s", a.IP, prev, id)
						}
						held[a.IP] = id
						mu.Unlock()
						mine = append(mine, a)
					}
					for len(mine) > 0 && (rng.IntN(3) == 0 || err != nil) {
						k := rng.IntN(len(mine))
						a := mine[k]
						mine = append(mine[:k], mine[k+1:]...)
						mu.Lock()
						delete(held, a.IP)
						mu.Unlock()
						if _, ok, err := m.Release(ctx, a.ContainerID, a.IfName); !ok || err != nil {
							t.Errorf("release %s: %v, %v", a.IP, ok, err)
						}
						if rng.IntN(4) == 0 {
							if _, err := m.ReleaseEmptyBlocks(ctx); err != nil {
								t.Error(err)
							}
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	if allocated.Load() < 100 {
		t.Fatalf("only %d allocations succeeded", allocated.Load())
	}
	checkConsistent(t, shared, nodes, "mid")
}

// checkConsistent: every node's blocks are its own in the store and no one
// else's, its allocations are in the store and in its blocks.
func checkConsistent(t *testing.T, s ipam.Store, nodes map[string]*ipam.IPAM, pool string) {
	t.Helper()
	stored, err := s.Blocks(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[netip.Prefix]string{}
	for _, b := range stored {
		owner[b.CIDR] = b.Node
	}
	for name, m := range nodes {
		mine := map[netip.Prefix]bool{}
		for _, b := range m.Blocks() {
			mine[b.CIDR] = true
			if owner[b.CIDR] != name {
				t.Errorf("%s holds %s, the store says %q", name, b.CIDR, owner[b.CIDR])
			}
		}
		for cidr, n := range owner {
			if n == name && !mine[cidr] {
				t.Errorf("the store gives %s to %s, which does not know it", cidr, name)
			}
		}
		recorded, _ := s.Allocations(ctx, name)
		if list := m.List(); len(list) != len(recorded) {
			t.Errorf("%s: %d allocations in memory, %d in the store", name, len(list), len(recorded))
		}
		for _, a := range m.List() {
			if !mine[a.Block] || !a.Block.Contains(a.IP) {
				t.Errorf("%s: %s is in %s, not one of its blocks", name, a.IP, a.Block)
			}
		}
	}
}

// TestConcurrentSameHandle: concurrent ADDs of one attachment get one
// allocation.
func TestConcurrentSameHandle(t *testing.T) {
	s := ipamtest.NewMemStore()
	m := newIPAM(t, s, "n1")
	var chans []<-chan result
	for range 8 {
		chans = append(chans, allocAsync(ctx, m, req("prod", "c1")))
	}
	first := wait(t, "an ADD", chans[0])
	for _, ch := range chans[1:] {
		if r := wait(t, "an ADD", ch); r.err != nil || r.a != first.a {
			t.Errorf("ADD = %+v, %v; want %+v", r.a, r.err, first.a)
		}
	}
	if got, _ := s.Allocations(ctx, "n1"); len(got) != 1 {
		t.Fatalf("store holds %+v, want one allocation", got)
	}
}

// TestFailedStoreLeavesNothing: an ADD whose store call fails records no
// allocation anywhere and leaves no address in flight; a block claim of
// unknown outcome is undone; memory and store agree on the blocks.
func TestFailedStoreLeavesNothing(t *testing.T) {
	boom := errors.New("boom")
	failOn := func(op ipamtest.Op) func(context.Context, ipamtest.Call) error {
		return func(_ context.Context, c ipamtest.Call) error {
			if c.Op == op {
				return boom
			}
			return nil
		}
	}
	tests := []struct {
		name       string
		before     func(context.Context, ipamtest.Call) error
		after      func(ipamtest.Call, error) error
		wantBlocks int
	}{
		{"list of blocks fails", failOn(ipamtest.OpBlocks), nil, 0},
		{"claim fails", failOn(ipamtest.OpClaimBlock), nil, 0},
		{"claim lands, then its answer is lost", nil, func(c ipamtest.Call, err error) error {
			if c.Op == ipamtest.OpClaimBlock {
				return boom
			}
			return err
		}, 0},
		{"record fails", failOn(ipamtest.OpPutAllocation), nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := ipamtest.NewMemStore()
			hooked := &ipamtest.Hooked{Store: mem}
			m := newIPAM(t, hooked, "n1")
			hooked.Before, hooked.After = tc.before, tc.after
			if _, err := m.Allocate(ctx, req("prod", "c1")); !errors.Is(err, boom) {
				t.Fatalf("Allocate = %v, want boom", err)
			}
			if got := m.List(); len(got) != 0 {
				t.Errorf("memory holds %+v", got)
			}
			if got, _ := mem.Allocations(ctx, "n1"); len(got) != 0 {
				t.Errorf("store holds %+v", got)
			}
			if bs, _ := mem.Blocks(ctx, "prod"); len(bs) != tc.wantBlocks || len(m.Blocks()) != tc.wantBlocks {
				t.Errorf("blocks: store %+v, memory %+v; want %d in both", bs, m.Blocks(), tc.wantBlocks)
			}
			// With the store healthy again, the whole block is free: the
			// failed attempt's address is not stuck in flight.
			hooked.Before, hooked.After = nil, nil
			for i := range 62 {
				mustAllocate(t, m, req("prod", fmt.Sprint("again", i)))
			}
			if bs := m.Blocks(); len(bs) != 1 {
				t.Errorf("62 addresses took blocks %+v, want one", bs)
			}
		})
	}
	t.Run("release fails", func(t *testing.T) {
		mem := ipamtest.NewMemStore()
		hooked := &ipamtest.Hooked{Store: mem}
		m := newIPAM(t, hooked, "n1")
		a := mustAllocate(t, m, req("prod", "c1"))
		hooked.Before = failOn(ipamtest.OpDeleteAllocation)
		if _, _, err := m.Release(ctx, "c1", "eth0"); !errors.Is(err, boom) {
			t.Fatalf("Release = %v", err)
		}
		if got, ok := m.Get("c1", "eth0"); !ok || got != a {
			t.Errorf("after a failed release Get = %+v, %v", got, ok)
		}
		if got, _ := mem.Allocations(ctx, "n1"); len(got) != 1 {
			t.Errorf("after a failed release the store holds %+v", got)
		}
	})
}

// TestCancelWhileStoreHolds: an ADD whose context ends while the store
// holds its claim or its record returns the context's error at once and
// leaves no block, allocation or address in flight behind.
func TestCancelWhileStoreHolds(t *testing.T) {
	for _, op := range []ipamtest.Op{ipamtest.OpClaimBlock, ipamtest.OpPutAllocation} {
		t.Run(string(op), func(t *testing.T) {
			m, mem, gate := gated(t, "n1", func(c ipamtest.Call) bool { return c.Op == op })
			cctx, cancel := context.WithCancel(ctx)
			ch := allocAsync(cctx, m, req("tiny", "c1"))
			wait(t, "the call reaches the store", gate.Entered())
			cancel()
			if r := wait(t, "the cancelled ADD", ch); !errors.Is(r.err, context.Canceled) {
				t.Fatalf("Allocate = %v", r.err)
			}
			recorded, _ := mem.Allocations(ctx, "n1")
			claimed, _ := mem.Blocks(ctx, "tiny")
			if len(recorded) != 0 || len(m.List()) != 0 || len(claimed) != len(m.Blocks()) {
				t.Fatalf("left allocations %+v / %+v, blocks %+v / %+v", recorded, m.List(), claimed, m.Blocks())
			}
			gate.Open()
			for i := range 5 { // all of tiny's addresses: none stuck in flight
				mustAllocate(t, m, req("tiny", fmt.Sprint("again", i)))
			}
		})
	}
}

// TestCancelWhileWaiting: an ADD whose context ends while it waits for
// another ADD (claiming a block of its pool, or working on the same
// attachment) returns the context's error at once; the other finishes.
func TestCancelWhileWaiting(t *testing.T) {
	tests := []struct {
		name    string
		second  string // the waiting ADD's container
		waiting func(m *ipam.IPAM) bool
	}{
		{"for the pool's claim", "c2", func(m *ipam.IPAM) bool { return ipam.ClaimWaiters(m, "prod") == 1 }},
		{"for its handle", "c1", func(m *ipam.IPAM) bool { return ipam.HandleWaiters(m, "c1/eth0") == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, gate := gated(t, "n1", func(c ipamtest.Call) bool { return c.Op == ipamtest.OpClaimBlock })
			first := allocAsync(ctx, m, req("prod", "c1"))
			wait(t, "the first claim reaches the store", gate.Entered())
			cctx, cancel := context.WithCancel(ctx)
			second := allocAsync(cctx, m, req("prod", tc.second))
			waitUntil(t, "the second ADD waits", func() bool { return tc.waiting(m) })
			cancel()
			if r := wait(t, "the cancelled ADD", second); !errors.Is(r.err, context.Canceled) {
				t.Fatalf("second Allocate = %v", r.err)
			}
			gate.Open()
			r := wait(t, "the first ADD", first)
			if got := m.List(); r.err != nil || len(got) != 1 || got[0] != r.a {
				t.Fatalf("first ADD %+v, %v; allocations %+v", r.a, r.err, got)
			}
		})
	}
}

// TestCancelRelease: a DEL whose context ends while the store holds its
// delete fails and keeps the allocation, in memory and in the store.
func TestCancelRelease(t *testing.T) {
	m, mem, gate := gated(t, "n1", func(c ipamtest.Call) bool { return c.Op == ipamtest.OpDeleteAllocation })
	a := mustAllocate(t, m, req("prod", "c1"))
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, _, err := m.Release(cctx, "c1", "eth0"); done <- err }()
	wait(t, "the delete reaches the store", gate.Entered())
	cancel()
	if err := wait(t, "the cancelled DEL", done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Release = %v", err)
	}
	if got, ok := m.Get("c1", "eth0"); !ok || got != a {
		t.Fatalf("after a cancelled release Get = %+v, %v", got, ok)
	}
	if got, _ := mem.Allocations(ctx, "n1"); len(got) != 1 {
		t.Fatalf("after a cancelled release the store holds %+v", got)
	}
}

// TestCancelledBeforeStart: an ADD with a context already done does
// nothing.
func TestCancelledBeforeStart(t *testing.T) {
	mem := ipamtest.NewMemStore()
	m := newIPAM(t, mem, "n1")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Allocate(cctx, req("prod", "c1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allocate = %v", err)
	}
	if bs, _ := mem.Blocks(ctx, "prod"); len(bs) != 0 || len(m.List()) != 0 {
		t.Fatalf("left %+v, %+v", bs, m.List())
	}
}

// TestBlockBeingReleased: no address is picked from a block whose release
// is in flight, or failed (the store may have freed it anyway); the ADD
// claims another block, and the next release retries the failed one.
func TestBlockBeingReleased(t *testing.T) {
	emptied := func(t *testing.T, m *ipam.IPAM) netip.Prefix {
		a := mustAllocate(t, m, req("tiny", "c1"))
		if _, _, err := m.Release(ctx, "c1", "eth0"); err != nil {
			t.Fatal(err)
		}
		return a.Block
	}
	t.Run("in flight", func(t *testing.T) {
		m, mem, gate := gated(t, "n1", func(c ipamtest.Call) bool { return c.Op == ipamtest.OpReleaseBlock })
		old := emptied(t, m)
		done := make(chan []ipam.Block, 1)
		go func() {
			freed, err := m.ReleaseEmptyBlocks(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- freed
		}()
		wait(t, "the release reaches the store", gate.Entered())
		a := mustAllocate(t, m, req("tiny", "c2"))
		if a.Block == old {
			t.Fatalf("%s was handed out of %s while it was being released", a.IP, old)
		}
		gate.Open()
		if freed := wait(t, "the release", done); len(freed) != 1 || freed[0].CIDR != old {
			t.Fatalf("freed %+v, want %s", freed, old)
		}
		if bs, _ := mem.Blocks(ctx, "tiny"); len(bs) != 1 || bs[0].CIDR != a.Block || len(m.Blocks()) != 1 {
			t.Fatalf("blocks: store %+v, memory %+v; want only %s", bs, m.Blocks(), a.Block)
		}
	})
	t.Run("failed", func(t *testing.T) {
		mem := ipamtest.NewMemStore()
		hooked := &ipamtest.Hooked{Store: mem}
		m := newIPAM(t, hooked, "n1")
		old := emptied(t, m)
		hooked.After = func(c ipamtest.Call, err error) error {
			if c.Op == ipamtest.OpReleaseBlock {
				return errors.New("answer lost") // the store did free it
			}
			return err
		}
		if _, err := m.ReleaseEmptyBlocks(ctx); err == nil {
			t.Fatal("a failed release reported success")
		}
		if a := mustAllocate(t, m, req("tiny", "c2")); a.Block == old {
			t.Fatalf("%s was handed out of %s, whose release failed", a.IP, old)
		}
		hooked.After = nil
		if freed, err := m.ReleaseEmptyBlocks(ctx); err != nil || len(freed) != 1 || freed[0].CIDR != old {
			t.Fatalf("retry freed %+v, %v; want %s", freed, err, old)
		}
	})
}

// TestAllocationCarriesSubnet: an allocation knows its pool's subnet and
// gateway, also after the pool is gone or changed; one recorded without
// them gets them from its pool when the pool contains it, and Address
// fails (never a /0) when nothing is known.
func TestAllocationCarriesSubnet(t *testing.T) {
	mem := ipamtest.NewMemStore()
	m := newIPAM(t, mem, "n1")
	a := mustAllocate(t, m, req("prod", "c1"))
	if addr, err := a.Address(); err != nil || addr != netip.PrefixFrom(a.IP, 24) || a.Gateway != prod.Gateway {
		t.Fatalf("Address = %s, %v; gateway %s", addr, err, a.Gateway)
	}
	if err := m.SetPools(ctx, []ipam.Pool{tiny}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("c1", "eth0"); got != a {
		t.Fatalf("after its pool went: %+v, want %+v", got, a)
	}
	// Records of an older caned have no subnet.
	moved := prod
	moved.CIDR, moved.Gateway = netip.MustParsePrefix("198.19.8.0/24"), netip.MustParseAddr("198.19.8.1")
	for _, old := range []ipam.Allocation{
		{IP: netip.MustParseAddr("198.19.1.2"), Pool: "tiny", ContainerID: "old-tiny", IfName: "eth0"},
		{IP: netip.MustParseAddr("198.19.0.9"), Pool: "prod", ContainerID: "old-prod", IfName: "eth0"},
		{IP: netip.MustParseAddr("198.19.5.9"), Pool: "gone", ContainerID: "old-gone", IfName: "eth0"},
	} {
		if err := mem.PutAllocation(ctx, "n2", old); err != nil {
			t.Fatal(err)
		}
	}
	n2, err := ipam.New(ctx, ipam.Config{Node: "n2", Store: mem, Pools: []ipam.Pool{tiny, moved}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		container string
		want      string // "" = ErrNoSubnet
	}{
		{"old-tiny", "198.19.1.2/29"}, // its pool still contains it
		{"old-prod", ""},              // its pool moved elsewhere
		{"old-gone", ""},              // its pool is unknown
	}
	for _, tc := range tests {
		got, _ := n2.Get(tc.container, "eth0")
		addr, err := got.Address()
		if tc.want == "" && !errors.Is(err, ipam.ErrNoSubnet) || tc.want != "" && (err != nil || addr.String() != tc.want) {
			t.Errorf("%s: Address = %s, %v; want %q", tc.container, addr, err, tc.want)
		}
	}
}
