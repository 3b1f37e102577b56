// Package ipamtest has an in-memory ipam.Store and the contract every Store
// implementation must meet.
package ipamtest

import (
	"net/netip"
	"sync"

	"github.com/cane-cni/cane/ipam"
)

// MemStore is an in-memory ipam.Store. Fail, when set, is returned by every
// write, to test rollback.
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

func (s *MemStore) Blocks(pool string) ([]ipam.Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ipam.Block
	for _, b := range s.blocks {
		if b.Pool == pool {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *MemStore) ClaimBlock(b ipam.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	if _, ok := s.blocks[b.CIDR]; ok {
		return ipam.ErrBlockTaken
	}
	s.blocks[b.CIDR] = b
	return nil
}

func (s *MemStore) ReleaseBlock(b ipam.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	if cur, ok := s.blocks[b.CIDR]; ok && cur.Node == b.Node {
		delete(s.blocks, b.CIDR)
	}
	return nil
}

func (s *MemStore) Allocations(node string) ([]ipam.Allocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ipam.Allocation
	for _, a := range s.allocs[node] {
		out = append(out, a)
	}
	return out, nil
}

func (s *MemStore) PutAllocation(node string, a ipam.Allocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	if s.allocs[node] == nil {
		s.allocs[node] = map[netip.Addr]ipam.Allocation{}
	}
	s.allocs[node][a.IP] = a
	return nil
}

func (s *MemStore) DeleteAllocation(node string, ip netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	delete(s.allocs[node], ip)
	return nil
}
