package ipam

import (
	"context"
	"net/netip"
)

// Store keeps IPAM state. Blocks are cluster-wide (every node sees every
// claim); allocations are per node. Implementations: cluster/local (bbolt),
// cluster/kube (blocks in the API, allocations in bbolt), ipamtest.MemStore.
//
// Every method takes the caller's context first and returns ctx's error,
// changing nothing, if ctx is done before it starts. A write cut off by ctx
// while in flight (an API call) may or may not have happened; IPAM undoes a
// claim whose outcome it does not know. All methods may be called
// concurrently.
type Store interface {
	// Blocks lists every claimed block of a pool, any node. It may lag
	// behind claims (a watch cache): ClaimBlock is what decides.
	Blocks(ctx context.Context, pool string) ([]Block, error)
	// ClaimBlock records b as held by b.Node. It is compare-and-swap: if any
	// node holds b.CIDR already it fails with ErrBlockTaken and changes nothing.
	ClaimBlock(ctx context.Context, b Block) error
	// ReleaseBlock frees b if b.Node still holds it; otherwise it does nothing.
	ReleaseBlock(ctx context.Context, b Block) error
	// Allocations lists the node's allocations.
	Allocations(ctx context.Context, node string) ([]Allocation, error)
	// PutAllocation records a; it is durable when PutAllocation returns nil.
	PutAllocation(ctx context.Context, node string, a Allocation) error
	// DeleteAllocation forgets the allocation of ip; absent is not an error.
	// The deletion is durable when it returns nil.
	DeleteAllocation(ctx context.Context, node string, ip netip.Addr) error
}
