package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
)

// source is where an address may come from: a pool's blocks on this node
// that serve one domain, or exactly one reserved address.
type source struct {
	pool   Pool
	domain string     // the allocation's domain
	lentTo string     // "": the pool's own blocks; else blocks lent to this domain
	loan   string     // the loan a lent block is claimed for
	want   netip.Addr // a reservation: only this address
	holder string     // the reservation's workload
}

// Allocate returns the attachment's address. It is idempotent: a second call
// for the same container and interface returns the same allocation (a
// concurrent one waits for the first). A pod whose "namespace/name" has a
// reservation gets the reserved address, and no other pod ever does.
//
// Steps: wait for the handle; decide the address and mark it pending
// (claiming a block first if the node has no room); record it durably in
// the store; commit it to memory. The store is called without mu, so
// reads, releases and other ADDs go on while this one waits on it.
//
// All or nothing: on error no allocation is recorded, in memory or in the
// store, and no address stays pending. A block claimed on the way stays
// with the node, in memory and in the store alike (another ADD may already
// use it; ReleaseEmptyBlocks gives it back when empty).
func (m *IPAM) Allocate(ctx context.Context, req Request) (Allocation, error) {
	h := Handle(req.ContainerID, req.IfName)
	unlock, err := m.handles.lock(ctx, h)
	if err != nil {
		return Allocation{}, fmt.Errorf("allocate for %s: wait for its other call: %w", h, err)
	}
	defer unlock()
	if a, ok := m.Get(req.ContainerID, req.IfName); ok {
		return a, nil
	}
	a, err := m.reserve(ctx, req)
	if err != nil {
		return Allocation{}, err
	}
	if err := m.store.PutAllocation(ctx, m.node, a); err != nil {
		m.settle(a, false)
		return Allocation{}, fmt.Errorf("record allocation of %s: %w", a.IP, err)
	}
	m.settle(a, true)
	return a, nil
}

// settle ends an address's flight: committed when recorded in the store,
// else rolled back (free again).
func (m *IPAM) settle(a Allocation, recorded bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, a.IP)
	if recorded {
		m.byIP[a.IP] = a
		m.byHandle[a.Handle()] = a.IP
	}
}

// reserve picks req's address and marks it pending: in the pool's blocks
// on this node, else in a newly claimed block, else (a loan that lends
// blocks) in a lender pool's block lent to the pool's domain.
func (m *IPAM) reserve(ctx context.Context, req Request) (Allocation, error) {
	srcs, err := m.sources(req)
	if err != nil {
		return Allocation{}, err
	}
	a, err := m.reserveFrom(ctx, req, srcs[0])
	if err == nil || len(srcs) == 1 || !errors.Is(err, ErrPoolExhausted) {
		return a, err
	}
	// The borrower's pool is dry: a block of a lender's pool, lent.
	var lerrs []error
	for _, src := range srcs[1:] {
		a, lerr := m.reserveFrom(ctx, req, src)
		if lerr == nil {
			return a, nil
		}
		lerrs = append(lerrs, lerr)
	}
	lerr := errors.Join(append(lerrs, fmt.Errorf("%w: no lender pool has a free block", ErrPoolExhausted))...)
	return Allocation{}, fmt.Errorf("%w; and no lender block: %v", err, lerr)
}

// sources lists where req's address may come from, in order: its
// reservation alone, or the pool's own blocks and then blocks of each
// lender pool (req.LendFrom) lent to the pool's domain.
func (m *IPAM) sources(req Request) ([]source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[req.Pool]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownPool, req.Pool)
	}
	own := source{pool: p, domain: p.Domain}
	if r, ok := m.reserved[req.PodNamespace+"/"+req.PodName]; ok && req.PodName != "" {
		if r.Pool != p.Name {
			return nil, fmt.Errorf("workload %q has a reservation in pool %q, not %q", r.Workload, r.Pool, p.Name)
		}
		own.want, own.holder = r.IP, r.Workload
		return []source{own}, nil
	}
	srcs := []source{own}
	for _, name := range req.LendFrom {
		if l, ok := m.pools[name]; ok {
			srcs = append(srcs, source{pool: l, domain: p.Domain, lentTo: p.Domain, loan: req.Loan})
		}
	}
	return srcs, nil
}

// reserveFrom reserves an address of src: in a block this node holds, else
// in one it claims. Claims of one pool take turns, and each turn looks
// again first: the block the previous turn claimed may have room.
func (m *IPAM) reserveFrom(ctx context.Context, req Request, src source) (Allocation, error) {
	if a, ok, err := m.tryReserve(req, src); ok || err != nil {
		return a, err
	}
	unlock, err := m.claims.lock(ctx, src.pool.Name)
	if err != nil {
		return Allocation{}, fmt.Errorf("wait to claim a block of pool %q: %w", src.pool.Name, err)
	}
	defer unlock()
	for {
		if a, ok, err := m.tryReserve(req, src); ok || err != nil {
			return a, err
		}
		if err := m.claim(ctx, src); err != nil {
			if src.want.IsValid() {
				return Allocation{}, fmt.Errorf("reservation %s of %q: %w", src.want, src.holder, err)
			}
			return Allocation{}, err
		}
	}
}

// tryReserve marks an address of src pending if one of the node's blocks
// has room; ok=false if none has.
func (m *IPAM) tryReserve(req Request, src source) (a Allocation, ok bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, known := m.pools[src.pool.Name]; !known || cur != src.pool {
		return Allocation{}, false, fmt.Errorf("%w %q (it changed during the allocation)", ErrUnknownPool, src.pool.Name)
	}
	var ip netip.Addr
	var block netip.Prefix
	if src.want.IsValid() {
		ip, block, ok, err = m.pickReserved(src)
	} else {
		ip, block, ok = m.pickFree(src)
	}
	if !ok || err != nil {
		return Allocation{}, false, err
	}
	m.pending[ip] = true
	if !src.want.IsValid() {
		m.last[src.pool.Name] = ip
	}
	return Allocation{
		IP: ip, Pool: src.pool.Name, Domain: src.domain, Block: block,
		Subnet: src.pool.CIDR, Gateway: src.pool.Gateway,
		ContainerID: req.ContainerID, IfName: req.IfName, PodNamespace: req.PodNamespace, PodName: req.PodName,
	}, true, nil
}

// pickFree finds a free address in src's blocks, scanning each from just
// after the last address handed out. Call with mu held.
func (m *IPAM) pickFree(src source) (netip.Addr, netip.Prefix, bool) {
	for _, b := range m.ownBlocks(src.pool.Name, src.lentTo) {
		if ip, ok := freeAddr(src.pool, b, m.last[src.pool.Name], m.busy); ok {
			return ip, b, true
		}
	}
	return netip.Addr{}, netip.Prefix{}, false
}

// pickReserved returns src's reserved address if a block of the node holds
// it; ErrReservationBusy if another attachment holds or is getting it.
// Call with mu held.
func (m *IPAM) pickReserved(src source) (netip.Addr, netip.Prefix, bool, error) {
	if holder, ok := m.byIP[src.want]; ok {
		return netip.Addr{}, netip.Prefix{}, false, fmt.Errorf("%w: %s of workload %q is held by container %s", ErrReservationBusy, src.want, src.holder, holder.ContainerID)
	}
	if m.pending[src.want] {
		return netip.Addr{}, netip.Prefix{}, false, fmt.Errorf("%w: %s of workload %q is being allocated to another container", ErrReservationBusy, src.want, src.holder)
	}
	for _, b := range m.ownBlocks(src.pool.Name, "") {
		if b.Contains(src.want) {
			return src.want, b, true, nil
		}
	}
	return netip.Addr{}, netip.Prefix{}, false, nil
}

// busy: the address is held, in flight, or reserved for a workload.
// Call with mu held.
func (m *IPAM) busy(a netip.Addr) bool {
	_, held := m.byIP[a]
	return held || m.pending[a] || m.resIPs[a]
}

// ownBlocks are this node's blocks of pool serving lentTo ("" for the
// pool's own domain; a lent block serves only its borrower), lowest
// first, without retired ones. Call with mu held.
func (m *IPAM) ownBlocks(pool, lentTo string) []netip.Prefix {
	var out []netip.Prefix
	for cidr, b := range m.blocks {
		if b.Pool == pool && b.Domain == lentTo && m.retired[cidr] == 0 {
			out = append(out, cidr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out
}

// Release frees the attachment's address. It is idempotent: releasing an
// unknown handle returns ok=false and no error. The address stays held
// (not handed out again) until its deletion is durable; on error it is
// still allocated, in memory and in the store.
func (m *IPAM) Release(ctx context.Context, containerID, ifName string) (Allocation, bool, error) {
	h := Handle(containerID, ifName)
	unlock, err := m.handles.lock(ctx, h)
	if err != nil {
		return Allocation{}, false, fmt.Errorf("release %s: wait for its other call: %w", h, err)
	}
	defer unlock()
	a, ok := m.Get(containerID, ifName)
	if !ok {
		return Allocation{}, false, nil
	}
	if err := m.store.DeleteAllocation(ctx, m.node, a.IP); err != nil {
		return Allocation{}, false, fmt.Errorf("release %s: %w", a.IP, err)
	}
	m.mu.Lock()
	delete(m.byIP, a.IP)
	delete(m.byHandle, h)
	m.mu.Unlock()
	return a, true, nil
}
