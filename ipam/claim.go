package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"time"
)

const (
	// maxClaimRaces bounds how many blocks one claim may lose to other
	// nodes before it gives up.
	maxClaimRaces = 64
	// undoTimeout bounds the release that undoes a claim of unknown outcome
	// (it runs even when the caller's ctx is done).
	undoTimeout = 10 * time.Second
)

// claim records one more block of src's pool as this node's: the block of
// src.want for a reservation, else the first free one from this node's
// starting point (nextFreeBlock). The caller holds the pool's claim lock;
// mu is held only to choose and to commit, never across the store.
// A block another node wins first is skipped, even if a lagging list
// still shows it free.
func (m *IPAM) claim(ctx context.Context, src source) error {
	lost := map[netip.Prefix]bool{}
	for range maxClaimRaces {
		b, err := m.chooseBlock(ctx, src, lost)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("claim block %s of pool %q: %w", b.CIDR, b.Pool, err)
		}
		err = m.store.ClaimBlock(ctx, b)
		switch {
		case err == nil:
			m.mu.Lock()
			m.blocks[b.CIDR] = b
			m.mu.Unlock()
			return nil
		case errors.Is(err, ErrBlockTaken) && !src.want.IsValid():
			lost[b.CIDR] = true // another node won this one; look again
		case errors.Is(err, ErrBlockTaken):
			return fmt.Errorf("block %s of pool %q: %w", b.CIDR, b.Pool, err)
		default:
			return m.undoClaim(ctx, b, err)
		}
	}
	return fmt.Errorf("claim a block of pool %q: lost %d races", src.pool.Name, maxClaimRaces)
}

// chooseBlock lists the pool's blocks (without mu) and picks the one to
// claim: none that the list, this node or a lost race says is taken.
func (m *IPAM) chooseBlock(ctx context.Context, src source, lost map[netip.Prefix]bool) (Block, error) {
	p := src.pool
	bs, err := m.store.Blocks(ctx, p.Name)
	if err != nil {
		return Block{}, fmt.Errorf("list blocks of pool %q: %w", p.Name, err)
	}
	taken := maps.Clone(lost)
	for _, b := range bs {
		taken[b.CIDR] = true
	}
	m.mu.Lock()
	for cidr := range m.blocks { // ours, even before a lagging list shows them
		taken[cidr] = true
	}
	m.mu.Unlock()
	if src.want.IsValid() {
		cidr := netip.PrefixFrom(src.want, p.BlockBits).Masked()
		if taken[cidr] {
			return Block{}, fmt.Errorf("block %s of pool %q: %w", cidr, p.Name, ErrBlockTaken)
		}
		return Block{Pool: p.Name, CIDR: cidr, Node: m.node}, nil
	}
	cidr, ok := nextFreeBlock(p, m.node, taken)
	if !ok {
		return Block{}, fmt.Errorf("%w: pool %q (%s) has no free address and no free block", ErrPoolExhausted, p.Name, p.CIDR)
	}
	return Block{Pool: p.Name, CIDR: cidr, Node: m.node, Domain: src.lentTo, Loan: src.loan}, nil
}

// undoClaim handles a claim that failed without saying whether the store
// recorded it (an API call cut off by ctx, a lost connection): it
// releases the block, a no-op if the claim never landed, so no block stays
// held that this node does not know of. If the undo fails too, the block
// may stay held until caned restarts and loads it (xray's block check
// names it meanwhile).
func (m *IPAM) undoClaim(ctx context.Context, b Block, cause error) error {
	err := fmt.Errorf("claim block %s of pool %q: %w", b.CIDR, b.Pool, cause)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if uerr := m.store.ReleaseBlock(uctx, b); uerr != nil {
		return fmt.Errorf("%w (undoing the claim failed too, the block may stay held: %v)", err, uerr)
	}
	return err
}
