package ipam

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
)

// retirement is why a block receives no address any more.
type retirement uint8

const (
	releasing     retirement = iota + 1 // its release is in flight
	releaseFailed                       // its release failed; the store may have freed it anyway
)

// ReleaseEmptyBlocks gives back every block of this node with no live,
// pending or reserved address in it, and returns them.
func (m *IPAM) ReleaseEmptyBlocks(ctx context.Context) ([]Block, error) {
	return m.ReleaseEmptyBlocksIf(ctx, func(Block) bool { return true })
}

// ReleaseEmptyBlocksIf is ReleaseEmptyBlocks for the blocks that which
// selects only, e.g. a borrower's blocks on a lent node after the loan.
// which is called with IPAM's lock held: it must not call IPAM. On error
// it returns the blocks freed before it; the rest stay held, and the one
// that failed is retired: no address is picked from it (the store may have
// freed it anyway, an API call cut off by ctx), and the next call tries
// to release it again.
func (m *IPAM) ReleaseEmptyBlocksIf(ctx context.Context, which func(Block) bool) ([]Block, error) {
	var freed []Block
	for _, b := range m.emptyBlocks(which) {
		ok, err := m.releaseBlock(ctx, b)
		if err != nil {
			return freed, fmt.Errorf("release block %s: %w", b.CIDR, err)
		}
		if ok {
			freed = append(freed, b)
		}
	}
	return freed, nil
}

// emptyBlocks are the node's blocks that which selects and nothing uses,
// lowest first: those not retired, and those whose release failed (to try
// again).
func (m *IPAM) emptyBlocks(which func(Block) bool) []Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Block
	for cidr, b := range m.blocks {
		if m.retired[cidr] != releasing && !m.inUse(cidr) && which(b) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Block) int { return a.CIDR.Addr().Compare(b.CIDR.Addr()) })
	return out
}

// releaseBlock gives b back if it is still this node's, still empty and
// not being released by another call: retired while the store works (no
// address is picked from it), then forgotten. If the store fails, b stays
// retired: whether it is still held is unknown, so it must not receive an
// address. No claim lock is needed: until it is forgotten b is in blocks,
// which this node's claims count as taken.
func (m *IPAM) releaseBlock(ctx context.Context, b Block) (bool, error) {
	m.mu.Lock()
	if cur, ok := m.blocks[b.CIDR]; !ok || cur != b || m.retired[b.CIDR] == releasing || m.inUse(b.CIDR) {
		m.mu.Unlock()
		return false, nil // used, gone or taken in hand since emptyBlocks looked
	}
	m.retired[b.CIDR] = releasing
	m.mu.Unlock()

	err := m.store.ReleaseBlock(ctx, b)

	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.retired[b.CIDR] = releaseFailed
		return false, err
	}
	delete(m.retired, b.CIDR)
	delete(m.blocks, b.CIDR)
	return true, nil
}

// inUse reports whether any allocated, pending or reserved address is in
// cidr. Call with mu held.
func (m *IPAM) inUse(cidr netip.Prefix) bool {
	for _, addrs := range []iter.Seq[netip.Addr]{maps.Keys(m.byIP), maps.Keys(m.pending), maps.Keys(m.resIPs)} {
		for ip := range addrs {
			if cidr.Contains(ip) {
				return true
			}
		}
	}
	return false
}
