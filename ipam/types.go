// Package ipam hands out pod addresses: pools per domain, node-local blocks
// claimed from the cluster store, allocation inside a block, reservations by
// workload name, and release of empty blocks. It is pure logic over the Store
// interface; it never does I/O of its own.
package ipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// Pool is a range of addresses that belongs to one isolation domain.
type Pool struct {
	Name      string
	Domain    string
	CIDR      netip.Prefix
	Gateway   netip.Addr
	BlockBits int // prefix length of the blocks nodes claim, e.g. 26 (64 addresses)
}

// Block is a piece of a pool held by one node. Only that node allocates in it.
type Block struct {
	Pool string
	CIDR netip.Prefix
	Node string
	// A lent block: its addresses serve Domain (not its pool's) for Loan.
	Domain string `json:",omitempty"`
	Loan   string `json:",omitempty"`
}

// Allocation is one address held by one attachment (container + interface).
//
// It carries what the pod's interface needs from its pool (Subnet and
// Gateway), copied when the address was picked, so a caller never has to
// look the pool up separately and get nothing back when the pool has gone
// (or has moved to another CIDR) since. Use Address for the interface's
// address: it fails rather than return a /0.
type Allocation struct {
	IP           netip.Addr
	Pool         string
	Domain       string
	Block        netip.Prefix
	Subnet       netip.Prefix `json:",omitzero"` // the pool's CIDR when IP was picked
	Gateway      netip.Addr   `json:",omitzero"` // the pool's gateway when IP was picked
	ContainerID  string
	IfName       string
	PodNamespace string `json:",omitempty"`
	PodName      string `json:",omitempty"`
}

// Address is the pod's address with its pool's prefix length, e.g.
// 198.19.0.5/24. It fails with ErrNoSubnet for an allocation that does not
// know its pool's subnet: one recorded by a caned older than Subnet whose
// pool IPAM has not been told about (see IPAM.New and SetPools, which fill
// it in from the pool when the pool still contains the address).
func (a Allocation) Address() (netip.Prefix, error) {
	if !a.Subnet.IsValid() || !a.Subnet.Contains(a.IP) || !a.Gateway.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w: %s of pool %q", ErrNoSubnet, a.IP, a.Pool)
	}
	return netip.PrefixFrom(a.IP, a.Subnet.Bits()), nil
}

// Handle is the key of an allocation: one per container interface.
func (a Allocation) Handle() string { return Handle(a.ContainerID, a.IfName) }

// Handle builds the allocation key of a container's interface.
func Handle(containerID, ifName string) string { return containerID + "/" + ifName }

// Reservation pins an address to a named workload ("namespace/name"), so a
// re-created pod (a StatefulSet member) gets the same address back.
type Reservation struct {
	Workload string
	Pool     string
	IP       netip.Addr
}

// Request asks for an address for one attachment.
type Request struct {
	Pool         string
	ContainerID  string
	IfName       string
	PodNamespace string
	PodName      string
	// Under a loan that lends blocks: when Pool runs dry, take a block of
	// one of these (lender) pools, lent to Pool's domain for Loan.
	LendFrom []string
	Loan     string
}

// Errors callers tell apart. Wrapped with context; test with errors.Is.
var (
	// ErrUnknownPool: the request names a pool nobody configured.
	ErrUnknownPool = errors.New("unknown pool")
	// ErrPoolExhausted: no free address in the node's blocks and no free block left.
	ErrPoolExhausted = errors.New("pool exhausted")
	// ErrReservationBusy: the workload's reserved address is still held by another attachment.
	ErrReservationBusy = errors.New("reserved address still in use")
	// ErrBlockTaken: the block is already held (returned by Store.ClaimBlock).
	ErrBlockTaken = errors.New("block already claimed")
	// ErrInvalidPool: a pool definition is unusable.
	ErrInvalidPool = errors.New("invalid pool")
	// ErrNoSubnet: an allocation does not know its pool's subnet and
	// gateway (Allocation.Address).
	ErrNoSubnet = errors.New("allocation has no subnet (its pool is unknown)")
)

// Validate checks a pool on its own: IPv4 CIDR in canonical form, gateway
// inside it and not its network or broadcast address, sane block size.
func (p Pool) Validate() error {
	switch {
	case p.Name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidPool)
	case p.Domain == "":
		return fmt.Errorf("%w %q: no domain", ErrInvalidPool, p.Name)
	case !p.CIDR.IsValid() || !p.CIDR.Addr().Is4():
		return fmt.Errorf("%w %q: CIDR %s is not IPv4", ErrInvalidPool, p.Name, p.CIDR)
	case p.CIDR.Masked() != p.CIDR:
		return fmt.Errorf("%w %q: CIDR %s has host bits set (did you mean %s?)", ErrInvalidPool, p.Name, p.CIDR, p.CIDR.Masked())
	case p.CIDR.Bits() > 30:
		return fmt.Errorf("%w %q: CIDR %s is too small", ErrInvalidPool, p.Name, p.CIDR)
	case !p.CIDR.Contains(p.Gateway) || p.Gateway == p.CIDR.Addr() || p.Gateway == lastAddr(p.CIDR):
		return fmt.Errorf("%w %q: gateway %s is not a host address of %s", ErrInvalidPool, p.Name, p.Gateway, p.CIDR)
	case p.BlockBits < p.CIDR.Bits() || p.BlockBits > 30:
		return fmt.Errorf("%w %q: block size /%d must be between /%d and /30", ErrInvalidPool, p.Name, p.BlockBits, p.CIDR.Bits())
	}
	return nil
}

// ValidatePools checks every pool and that no two pools overlap or share a name.
func ValidatePools(pools []Pool) error {
	for i, p := range pools {
		if err := p.Validate(); err != nil {
			return err
		}
		for _, q := range pools[:i] {
			if p.Name == q.Name {
				return fmt.Errorf("%w: pool %q defined twice", ErrInvalidPool, p.Name)
			}
			if p.CIDR.Overlaps(q.CIDR) {
				return fmt.Errorf("%w: pools %q (%s) and %q (%s) overlap", ErrInvalidPool, q.Name, q.CIDR, p.Name, p.CIDR)
			}
		}
	}
	return nil
}
