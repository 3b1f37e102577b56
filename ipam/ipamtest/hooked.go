package ipamtest

import (
	"context"
	"net/netip"
	"sync"

	"github.com/cane-cni/cane/ipam"
)

// Op names a Store method.
type Op string

const (
	OpBlocks           Op = "Blocks"
	OpClaimBlock       Op = "ClaimBlock"
	OpReleaseBlock     Op = "ReleaseBlock"
	OpAllocations      Op = "Allocations"
	OpPutAllocation    Op = "PutAllocation"
	OpDeleteAllocation Op = "DeleteAllocation"
)

// Call is one Store call as a Hooked store's hook sees it; only the fields
// of its Op are set.
type Call struct {
	Op    Op
	Pool  string          // Blocks
	Node  string          // Allocations, PutAllocation, DeleteAllocation
	Block ipam.Block      // ClaimBlock, ReleaseBlock
	Alloc ipam.Allocation // PutAllocation
	IP    netip.Addr      // DeleteAllocation
}

// Hooked is a Store that calls Before ahead of every call it passes to
// Store, and After (if set) once Store has answered. A Before that blocks
// holds the call; one that returns an error fails it without reaching
// Store. After sees Store's answer and returns the one the caller gets
// (to fail a call that did happen, like an API call cut off after the
// server acted).
type Hooked struct {
	ipam.Store
	Before func(ctx context.Context, c Call) error
	After  func(c Call, err error) error
}

var _ ipam.Store = (*Hooked)(nil)

func (h *Hooked) do(ctx context.Context, c Call, call func() error) error {
	if h.Before != nil {
		if err := h.Before(ctx, c); err != nil {
			return err
		}
	}
	err := call()
	if h.After != nil {
		err = h.After(c, err)
	}
	return err
}

func (h *Hooked) Blocks(ctx context.Context, pool string) (bs []ipam.Block, err error) {
	err = h.do(ctx, Call{Op: OpBlocks, Pool: pool}, func() error {
		bs, err = h.Store.Blocks(ctx, pool)
		return err
	})
	return bs, err
}

func (h *Hooked) ClaimBlock(ctx context.Context, b ipam.Block) error {
	return h.do(ctx, Call{Op: OpClaimBlock, Block: b}, func() error { return h.Store.ClaimBlock(ctx, b) })
}

func (h *Hooked) ReleaseBlock(ctx context.Context, b ipam.Block) error {
	return h.do(ctx, Call{Op: OpReleaseBlock, Block: b}, func() error { return h.Store.ReleaseBlock(ctx, b) })
}

func (h *Hooked) Allocations(ctx context.Context, node string) (as []ipam.Allocation, err error) {
	err = h.do(ctx, Call{Op: OpAllocations, Node: node}, func() error {
		as, err = h.Store.Allocations(ctx, node)
		return err
	})
	return as, err
}

func (h *Hooked) PutAllocation(ctx context.Context, node string, a ipam.Allocation) error {
	return h.do(ctx, Call{Op: OpPutAllocation, Node: node, Alloc: a}, func() error { return h.Store.PutAllocation(ctx, node, a) })
}

func (h *Hooked) DeleteAllocation(ctx context.Context, node string, ip netip.Addr) error {
	return h.do(ctx, Call{Op: OpDeleteAllocation, Node: node, IP: ip}, func() error { return h.Store.DeleteAllocation(ctx, node, ip) })
}

// Gate holds the calls Match selects until Open (or until the call's ctx
// is done: the call then fails with ctx's error and never reaches the
// store). Use its Hold as a Hooked store's Before.
type Gate struct {
	Match   func(Call) bool
	entered chan Call
	open    chan struct{}
	once    sync.Once
}

// NewGate returns a closed gate for the calls match selects.
func NewGate(match func(Call) bool) *Gate {
	return &Gate{Match: match, entered: make(chan Call, 64), open: make(chan struct{})}
}

// Hold is a Before hook: it holds a matching call at the gate.
func (g *Gate) Hold(ctx context.Context, c Call) error {
	if !g.Match(c) {
		return nil
	}
	select {
	case g.entered <- c:
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Entered delivers each call that reached the closed gate.
func (g *Gate) Entered() <-chan Call { return g.entered }

// Open lets every held call, and every later one, through. Opening an
// open gate does nothing.
func (g *Gate) Open() { g.once.Do(func() { close(g.open) }) }
