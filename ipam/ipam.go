package ipam

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"sync"
)

// Store keeps IPAM state. Blocks are cluster-wide (every node sees every
// claim); allocations are per node. Implementations: cluster/local (bbolt).
type Store interface {
	// Blocks lists every claimed block of a pool, any node.
	Blocks(pool string) ([]Block, error)
	// ClaimBlock records b as held by b.Node. It is compare-and-swap: if any
	// node holds b.CIDR already it fails with ErrBlockTaken and changes nothing.
	ClaimBlock(b Block) error
	// ReleaseBlock frees b if b.Node still holds it; otherwise it does nothing.
	ReleaseBlock(b Block) error
	// Allocations lists the node's allocations.
	Allocations(node string) ([]Allocation, error)
	// PutAllocation records a; it is durable when PutAllocation returns.
	PutAllocation(node string, a Allocation) error
	// DeleteAllocation forgets the allocation of ip; absent is not an error.
	DeleteAllocation(node string, ip netip.Addr) error
}

// Config is what an IPAM needs to start.
type Config struct {
	Node         string
	Store        Store
	Pools        []Pool
	Reservations []Reservation
}

// IPAM allocates addresses for one node. All methods may be called
// concurrently; each is all-or-nothing: on error, neither memory nor the
// store has changed.
type IPAM struct {
	mu       sync.Mutex
	node     string
	store    Store
	pools    map[string]Pool
	reserved map[string]Reservation // by workload
	resIPs   map[netip.Addr]bool
	blocks   map[netip.Prefix]Block // held by this node
	byIP     map[netip.Addr]Allocation
	byHandle map[string]netip.Addr
	last     map[string]netip.Addr // per pool: last address handed out
	loaded   map[string]bool       // pools whose blocks of this node came from the store
}

// New loads the node's blocks and allocations from the store.
func New(cfg Config) (*IPAM, error) {
	if err := ValidatePools(cfg.Pools); err != nil {
		return nil, err
	}
	m := &IPAM{
		node: cfg.Node, store: cfg.Store,
		pools: map[string]Pool{}, reserved: map[string]Reservation{}, resIPs: map[netip.Addr]bool{},
		blocks: map[netip.Prefix]Block{}, byIP: map[netip.Addr]Allocation{}, byHandle: map[string]netip.Addr{},
		last: map[string]netip.Addr{}, loaded: map[string]bool{},
	}
	for _, p := range cfg.Pools {
		m.pools[p.Name] = p
		m.loaded[p.Name] = true
		bs, err := cfg.Store.Blocks(p.Name)
		if err != nil {
			return nil, fmt.Errorf("load blocks of pool %q: %w", p.Name, err)
		}
		for _, b := range bs {
			if b.Node == cfg.Node {
				m.blocks[b.CIDR] = b
			}
		}
	}
	for _, r := range cfg.Reservations {
		p, ok := m.pools[r.Pool]
		if !ok {
			return nil, fmt.Errorf("reservation for %q: %w %q", r.Workload, ErrUnknownPool, r.Pool)
		}
		if !usable(p, r.IP) {
			return nil, fmt.Errorf("reservation for %q: %s is not a usable address of pool %q", r.Workload, r.IP, r.Pool)
		}
		if m.resIPs[r.IP] {
			return nil, fmt.Errorf("reservation for %q: %s is reserved twice", r.Workload, r.IP)
		}
		m.reserved[r.Workload] = r
		m.resIPs[r.IP] = true
	}
	allocs, err := cfg.Store.Allocations(cfg.Node)
	if err != nil {
		return nil, fmt.Errorf("load allocations: %w", err)
	}
	for _, a := range allocs {
		m.byIP[a.IP] = a
		m.byHandle[a.Handle()] = a.IP
	}
	return m, nil
}

// SetPools replaces the pools this node allocates from (the cluster's
// pools changed). Allocations in a pool that disappears stay until they
// are released; no new ones are made. All or nothing.
func (m *IPAM) SetPools(pools []Pool) error {
	if err := ValidatePools(pools); err != nil {
		return err
	}
	next := make(map[string]Pool, len(pools))
	for _, p := range pools {
		next[p.Name] = p
	}
	// The node's blocks of pools it did not know yet (after a restart in
	// Kubernetes mode, every pool arrives here): without them it would
	// claim new blocks and never give the old ones back.
	m.mu.Lock()
	var unseen []string
	for name := range next {
		if !m.loaded[name] {
			unseen = append(unseen, name)
		}
	}
	m.mu.Unlock()
	found := map[string][]Block{}
	for _, name := range unseen {
		bs, err := m.store.Blocks(name)
		if err != nil {
			return fmt.Errorf("load blocks of pool %q: %w", name, err)
		}
		found[name] = bs
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, bs := range found {
		for _, b := range bs {
			if _, ok := m.blocks[b.CIDR]; !ok && b.Node == m.node {
				m.blocks[b.CIDR] = b
			}
		}
		m.loaded[name] = true
	}
	m.pools = next
	return nil
}

// Pool returns a configured pool by name.
func (m *IPAM) Pool(name string) (Pool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[name]
	return p, ok
}

// Allocate returns the attachment's address. It is idempotent: a second call
// for the same container and interface returns the same allocation. A pod
// whose "namespace/name" has a reservation gets the reserved address.
func (m *IPAM) Allocate(req Request) (Allocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ip, ok := m.byHandle[Handle(req.ContainerID, req.IfName)]; ok {
		return m.byIP[ip], nil
	}
	p, ok := m.pools[req.Pool]
	if !ok {
		return Allocation{}, fmt.Errorf("%w %q", ErrUnknownPool, req.Pool)
	}
	domain := p.Domain
	ip, block, err := m.pick(p, req)
	if errors.Is(err, ErrPoolExhausted) && len(req.LendFrom) > 0 {
		// The borrower's pool is dry: a block of a lender's pool, lent.
		var lerr error
		if ip, block, p, lerr = m.pickLent(domain, req); lerr == nil {
			err = nil
		} else {
			err = fmt.Errorf("%w; and no lender block: %v", err, lerr)
		}
	}
	if err != nil {
		return Allocation{}, err
	}
	a := Allocation{
		IP: ip, Pool: p.Name, Domain: domain, Block: block,
		ContainerID: req.ContainerID, IfName: req.IfName, PodNamespace: req.PodNamespace, PodName: req.PodName,
	}
	if err := m.store.PutAllocation(m.node, a); err != nil {
		return Allocation{}, fmt.Errorf("record allocation of %s: %w", ip, err)
	}
	m.byIP[ip] = a
	m.byHandle[a.Handle()] = ip
	if !m.resIPs[ip] {
		m.last[p.Name] = ip
	}
	return a, nil
}

// pick chooses the address for req: its reservation, else a free address in
// a block this node holds, else one in a newly claimed block.
func (m *IPAM) pick(p Pool, req Request) (netip.Addr, netip.Prefix, error) {
	if r, ok := m.reserved[req.PodNamespace+"/"+req.PodName]; ok && req.PodName != "" {
		return m.pickReserved(p, r)
	}
	used := m.usedSet()
	for _, b := range m.ownBlocks(p.Name, "") {
		if ip, ok := freeAddr(p, b, m.last[p.Name], used, m.resIPs); ok {
			return ip, b, nil
		}
	}
	for {
		b, err := m.claim(p, nil, "", "")
		if err != nil {
			return netip.Addr{}, netip.Prefix{}, err
		}
		if ip, ok := freeAddr(p, b, netip.Addr{}, used, m.resIPs); ok {
			return ip, b, nil
		}
		// A block with only reserved addresses; keep it (the reservations
		// will need it) and claim the next one.
	}
}

func (m *IPAM) pickReserved(p Pool, r Reservation) (netip.Addr, netip.Prefix, error) {
	if r.Pool != p.Name {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("workload %q has a reservation in pool %q, not %q", r.Workload, r.Pool, p.Name)
	}
	if holder, ok := m.byIP[r.IP]; ok {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("%w: %s of workload %q is held by container %s", ErrReservationBusy, r.IP, r.Workload, holder.ContainerID)
	}
	for _, b := range m.ownBlocks(p.Name, "") {
		if b.Contains(r.IP) {
			return r.IP, b, nil
		}
	}
	want := netip.PrefixFrom(r.IP, p.BlockBits).Masked()
	b, err := m.claim(p, &want, "", "")
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("reservation %s of %q: %w", r.IP, r.Workload, err)
	}
	return r.IP, b, nil
}

// pickLent finds an address for a pod of domain in a block lent to it by
// one of req.LendFrom's pools: one this node already lends it, else a newly
// claimed one. It returns the lender pool too.
func (m *IPAM) pickLent(domain string, req Request) (netip.Addr, netip.Prefix, Pool, error) {
	used := m.usedSet()
	var errs []error
	for _, name := range req.LendFrom {
		p, ok := m.pools[name]
		if !ok {
			continue
		}
		for _, b := range m.ownBlocks(p.Name, domain) {
			if ip, ok := freeAddr(p, b, netip.Addr{}, used, m.resIPs); ok {
				return ip, b, p, nil
			}
		}
		b, err := m.claim(p, nil, domain, req.Loan)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ip, ok := freeAddr(p, b, netip.Addr{}, used, m.resIPs); ok {
			return ip, b, p, nil
		}
	}
	return netip.Addr{}, netip.Prefix{}, Pool{}, errors.Join(append(errs, fmt.Errorf("%w: no lender pool has a free block", ErrPoolExhausted))...)
}

// claim takes a block of the pool for this node: `want` if given, else the
// lowest free one; lent to domain for loan if domain is set. Races with
// other nodes are retried on the next block.
func (m *IPAM) claim(p Pool, want *netip.Prefix, domain, loan string) (netip.Prefix, error) {
	lost := map[netip.Prefix]bool{} // races lost in this call, even if a store's list lags
	for attempt := 0; attempt < 64; attempt++ {
		bs, err := m.store.Blocks(p.Name)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("list blocks of pool %q: %w", p.Name, err)
		}
		taken := maps.Clone(lost)
		for _, b := range bs {
			taken[b.CIDR] = true
		}
		cidr, ok := nextFreeBlock(p, taken)
		if want != nil {
			cidr, ok = *want, !taken[*want]
		}
		if !ok {
			if want != nil {
				return netip.Prefix{}, fmt.Errorf("block %s of pool %q: %w", *want, p.Name, ErrBlockTaken)
			}
			return netip.Prefix{}, fmt.Errorf("%w: pool %q (%s) has no free address and no free block", ErrPoolExhausted, p.Name, p.CIDR)
		}
		b := Block{Pool: p.Name, CIDR: cidr, Node: m.node, Domain: domain, Loan: loan}
		err = m.store.ClaimBlock(b)
		if errors.Is(err, ErrBlockTaken) {
			lost[cidr] = true // another node won this one; look again
			continue
		}
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("claim block %s of pool %q: %w", cidr, p.Name, err)
		}
		m.blocks[cidr] = b
		return cidr, nil
	}
	return netip.Prefix{}, fmt.Errorf("claim a block of pool %q: lost too many races", p.Name)
}

// Release frees the attachment's address. It is idempotent: releasing an
// unknown handle returns ok=false and no error.
func (m *IPAM) Release(containerID, ifName string) (Allocation, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := Handle(containerID, ifName)
	ip, ok := m.byHandle[h]
	if !ok {
		return Allocation{}, false, nil
	}
	a := m.byIP[ip]
	if err := m.store.DeleteAllocation(m.node, ip); err != nil {
		return Allocation{}, false, fmt.Errorf("release %s: %w", ip, err)
	}
	delete(m.byIP, ip)
	delete(m.byHandle, h)
	return a, true, nil
}

// Get returns the allocation of a container's interface.
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

// Blocks returns the blocks this node holds, sorted.
func (m *IPAM) Blocks() []Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.blocks), func(a, b Block) int { return a.CIDR.Addr().Compare(b.CIDR.Addr()) })
}

// ReleaseEmptyBlocks gives back every block of this node with no live
// allocation and no reserved address in it, and returns them.
func (m *IPAM) ReleaseEmptyBlocks() ([]Block, error) {
	return m.ReleaseEmptyBlocksIf(func(Block) bool { return true })
}

// ReleaseEmptyBlocksIf is ReleaseEmptyBlocks for the blocks that which
// selects only, e.g. a borrower's blocks on a lent node after the loan.
func (m *IPAM) ReleaseEmptyBlocksIf(which func(Block) bool) ([]Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var freed []Block
	for cidr, b := range m.blocks {
		if m.inUse(cidr) || !which(b) {
			continue
		}
		if err := m.store.ReleaseBlock(b); err != nil {
			return freed, fmt.Errorf("release block %s: %w", cidr, err)
		}
		delete(m.blocks, cidr)
		freed = append(freed, b)
	}
	return freed, nil
}

// inUse reports whether any allocated or reserved address is in cidr.
func (m *IPAM) inUse(cidr netip.Prefix) bool {
	for _, addrs := range []iter.Seq[netip.Addr]{maps.Keys(m.byIP), maps.Keys(m.resIPs)} {
		for ip := range addrs {
			if cidr.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// ownBlocks are this node's blocks of pool serving lentTo ("" for the
// pool's own domain; a lent block serves only its borrower).
func (m *IPAM) ownBlocks(pool, lentTo string) []netip.Prefix {
	var out []netip.Prefix
	for cidr, b := range m.blocks {
		if b.Pool == pool && b.Domain == lentTo {
			out = append(out, cidr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out
}

func (m *IPAM) usedSet() map[netip.Addr]bool {
	used := make(map[netip.Addr]bool, len(m.byIP))
	for ip := range m.byIP {
		used[ip] = true
	}
	return used
}
