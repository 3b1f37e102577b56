// Package ipamtest has an in-memory ipam.Store, a store wrapper that
// holds or fails chosen calls, and the contract every Store implementation
// must meet.
package ipamtest

import (
	"context"
	"net/netip"
	"sync"

	"github.com/cane-cni/cane/ipam"
)

// MemStore is an in-memory ipam.Store. Fail, when set, is returned by every
// write, to test rollback. Set Fail before the store is shared.
type MemStore struct {
	mu     sync.Mutex
	blocks map[netip.Prefix]ipam.Block
	allocs map[string]map[netip.Addr]ipam.Allocation
	Fail   error
}

var _ ipam.Store = (*MemStore)(nil)

func NewMemStore() *MemStore {
	return &MemStore{blocks: map[netip.Prefix]ipam.Block{}, allocs: map[string]map[netip.Addr]ipam.Allocation{}}
}

// begin locks the store for a call, or says why the call may not run.
func (s *MemStore) begin(ctx context.Context, write bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if write && s.Fail != nil {
		s.mu.Unlock()
		return s.Fail
	}
	return nil
}

func (s *MemStore) Blocks(ctx context.Context, pool string) ([]ipam.Block, error) {
	if err := s.begin(ctx, false); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []ipam.Block
	for _, b := range s.blocks {
		if b.Pool == pool {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *MemStore) ClaimBlock(ctx context.Context, b ipam.Block) error {
	if err := s.begin(ctx, true); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.blocks[b.CIDR]; ok {
		return ipam.ErrBlockTaken
	}
	s.blocks[b.CIDR] = b
	return nil
}

func (s *MemStore) ReleaseBlock(ctx context.Context, b ipam.Block) error {
	if err := s.begin(ctx, true); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if cur, ok := s.blocks[b.CIDR]; ok && cur.Node == b.Node {
		delete(s.blocks, b.CIDR)
	}
	return nil
}

func (s *MemStore) Allocations(ctx context.Context, node string) ([]ipam.Allocation, error) {
	if err := s.begin(ctx, false); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []ipam.Allocation
	for _, a := range s.allocs[node] {
		out = append(out, a)
	}
	return out, nil
}

func (s *MemStore) PutAllocation(ctx context.Context, node string, a ipam.Allocation) error {
	if err := s.begin(ctx, true); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.allocs[node] == nil {
		s.allocs[node] = map[netip.Addr]ipam.Allocation{}
	}
	s.allocs[node][a.IP] = a
	return nil
}

func (s *MemStore) DeleteAllocation(ctx context.Context, node string, ip netip.Addr) error {
	if err := s.begin(ctx, true); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.allocs[node], ip)
	return nil
}
