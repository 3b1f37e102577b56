package ipam

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// Config is what an IPAM needs to start.
type Config struct {
	Node         string
	Store        Store
	Pools        []Pool
	Reservations []Reservation
}

// IPAM allocates addresses for one node. All methods may be called
// concurrently; each is all-or-nothing: on error, no allocation is
// recorded or forgotten, in memory or in the store (see Allocate for the
// one thing that may stay: a block claimed on the way).
//
// No lock of IPAM is held across a Store call on mu, the lock every ADD,
// DEL and read takes. A call that does I/O goes in named steps: decide
// under mu and mark what it is about to do, do the I/O without mu, then
// commit or roll back under mu. The marks:
//   - pending: an address picked but not yet durable. No other call picks
//     it, and no block holding it is released. Get and List do not show it.
//   - retired: a block whose release is in flight, or failed (the store may
//     have freed it all the same). No address is picked from it.
//   - an address being released stays in byIP until its deletion is
//     durable, so it is not handed out again before that.
//
// Lock order (a lock is never taken while holding one later in the list):
//
//	handles (per attachment handle) → claims (per pool) → mu → keyLocks.mu
//
// handles serializes the calls on one attachment: a second Allocate of a
// handle waits for the first and then returns its allocation; different
// attachments never wait for each other there. claims serializes the
// block claims of one pool: concurrent ADDs that all find the node's
// blocks full claim one block between them, not one each. An ADD with room
// in the node's blocks takes no claim lock, and no lock is held while a
// block is released. Waits for handles and claims honour ctx; keyLocks.mu
// only guards those two tables.
type IPAM struct {
	node    string
	store   Store
	handles keyLocks
	claims  keyLocks

	mu       sync.Mutex
	pools    map[string]Pool
	reserved map[string]Reservation // by workload
	resIPs   map[netip.Addr]bool
	blocks   map[netip.Prefix]Block      // held by this node
	retired  map[netip.Prefix]retirement // blocks being released, or whose release failed
	byIP     map[netip.Addr]Allocation
	byHandle map[string]netip.Addr
	pending  map[netip.Addr]bool   // picked, not yet durable
	last     map[string]netip.Addr // per pool: last address handed out
	loaded   map[string]bool       // pools whose blocks of this node came from the store
}

// New loads the node's blocks (of cfg.Pools) and allocations from the
// store.
func New(ctx context.Context, cfg Config) (*IPAM, error) {
	if err := ValidatePools(cfg.Pools); err != nil {
		return nil, err
	}
	m := &IPAM{
		node: cfg.Node, store: cfg.Store,
		pools: map[string]Pool{}, reserved: map[string]Reservation{}, resIPs: map[netip.Addr]bool{},
		blocks: map[netip.Prefix]Block{}, retired: map[netip.Prefix]retirement{},
		byIP: map[netip.Addr]Allocation{}, byHandle: map[string]netip.Addr{}, pending: map[netip.Addr]bool{},
		last: map[string]netip.Addr{}, loaded: map[string]bool{},
	}
	for _, p := range cfg.Pools {
		m.pools[p.Name] = p
	}
	if err := m.loadReservations(cfg.Reservations); err != nil {
		return nil, err
	}
	found, err := m.loadBlocks(ctx, cfg.Pools)
	if err != nil {
		return nil, err
	}
	allocs, err := cfg.Store.Allocations(ctx, cfg.Node)
	if err != nil {
		return nil, fmt.Errorf("load allocations: %w", err)
	}
	// m is not shared yet; the lock only keeps the helpers' contract.
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adoptBlocks(found)
	for _, a := range allocs {
		m.byIP[a.IP] = a
		m.byHandle[a.Handle()] = a.IP
	}
	m.fillSubnets()
	return m, nil
}

func (m *IPAM) loadReservations(rs []Reservation) error {
	for _, r := range rs {
		p, ok := m.pools[r.Pool]
		if !ok {
			return fmt.Errorf("reservation for %q: %w %q", r.Workload, ErrUnknownPool, r.Pool)
		}
		if !usable(p, r.IP) {
			return fmt.Errorf("reservation for %q: %s is not a usable address of pool %q", r.Workload, r.IP, r.Pool)
		}
		if m.resIPs[r.IP] {
			return fmt.Errorf("reservation for %q: %s is reserved twice", r.Workload, r.IP)
		}
		m.reserved[r.Workload] = r
		m.resIPs[r.IP] = true
	}
	return nil
}

// loadBlocks lists the blocks of pools from the store (no lock held).
func (m *IPAM) loadBlocks(ctx context.Context, pools []Pool) (map[string][]Block, error) {
	found := map[string][]Block{}
	for _, p := range pools {
		bs, err := m.store.Blocks(ctx, p.Name)
		if err != nil {
			return nil, fmt.Errorf("load blocks of pool %q: %w", p.Name, err)
		}
		found[p.Name] = bs
	}
	return found, nil
}

// adoptBlocks takes this node's blocks of each pool not loaded yet and
// marks the pool loaded. A pool loaded in the meantime (a concurrent
// SetPools) is skipped: its list may predate a release. Call with mu held.
func (m *IPAM) adoptBlocks(found map[string][]Block) {
	for name, bs := range found {
		if m.loaded[name] {
			continue
		}
		for _, b := range bs {
			if _, ok := m.blocks[b.CIDR]; !ok && b.Node == m.node {
				m.blocks[b.CIDR] = b
			}
		}
		m.loaded[name] = true
	}
}

// fillSubnets gives allocations recorded without Subnet (by an older
// caned) their pool's, where the pool is known and still contains the
// address. Call with mu held.
func (m *IPAM) fillSubnets() {
	for ip, a := range m.byIP {
		if p, ok := m.pools[a.Pool]; ok && !a.Subnet.IsValid() && p.CIDR.Contains(ip) {
			a.Subnet, a.Gateway = p.CIDR, p.Gateway
			m.byIP[ip] = a
		}
	}
}

// SetPools replaces the pools this node allocates from (the cluster's
// pools changed). Allocations in a pool that disappears stay until they
// are released; no new ones are made. All or nothing.
//
// The node's blocks of pools it did not know yet are loaded from the store
// first (after a restart in Kubernetes mode, every pool arrives here):
// without them it would claim new blocks and never give the old ones back.
// Nothing claims or releases in a pool before it is known, so the list
// cannot miss a change of this node's own.
func (m *IPAM) SetPools(ctx context.Context, pools []Pool) error {
	if err := ValidatePools(pools); err != nil {
		return err
	}
	m.mu.Lock()
	var unseen []Pool
	for _, p := range pools {
		if !m.loaded[p.Name] {
			unseen = append(unseen, p)
		}
	}
	m.mu.Unlock()
	found, err := m.loadBlocks(ctx, unseen)
	if err != nil {
		return err
	}
	next := make(map[string]Pool, len(pools))
	for _, p := range pools {
		next[p.Name] = p
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adoptBlocks(found)
	m.pools = next
	m.fillSubnets()
	return nil
}

// Pool returns a configured pool by name. To build a pod's interface, use
// the allocation's own Subnet and Gateway (Allocation.Address) instead:
// the pool may be gone, or changed, since the address was picked.
func (m *IPAM) Pool(name string) (Pool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[name]
	return p, ok
}

// Get returns the allocation of a container's interface. An allocation in
// flight (not durable yet) is not there; one being released still is.
func (m *IPAM) Get(containerID, ifName string) (Allocation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ip, ok := m.byHandle[Handle(containerID, ifName)]
	return m.byIP[ip], ok
}

// List returns every allocation of the node, sorted by address.
func (m *IPAM) List() []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.byIP), func(a, b Allocation) int { return a.IP.Compare(b.IP) })
}

// Blocks returns the blocks this node holds, sorted; a block whose release
// is in flight (or failed) is still there.
func (m *IPAM) Blocks() []Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.blocks), func(a, b Block) int { return a.CIDR.Addr().Compare(b.CIDR.Addr()) })
}
