package ipam

import (
	"hash/fnv"
	"net/netip"
)

func addrUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// lastAddr is the highest address of a prefix (the broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	host := uint32(1)<<(32-p.Bits()) - 1
	return uintAddr(addrUint(p.Masked().Addr()) | host)
}

// blockCount is how many blocks of its block size a pool has.
func blockCount(p Pool) uint64 { return uint64(1) << (p.BlockBits - p.CIDR.Bits()) }

// nthBlock is the pool's i-th block, lowest first.
func nthBlock(p Pool, i uint64) netip.Prefix {
	base := addrUint(p.CIDR.Masked().Addr())
	return netip.PrefixFrom(uintAddr(base+uint32(i<<(32-p.BlockBits))), p.BlockBits)
}

// blockStart is the index where node starts looking for a free block of a
// pool of n blocks: a hash of its name (FNV-1a), so nodes that start at
// once spread over the pool instead of all racing for its lowest block
// (Calico's stampede). The claim is still compare-and-swap; this only
// makes losing it rare.
func blockStart(node string, n uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	return h.Sum64() % n
}

// nextFreeBlock returns the first block of the pool nobody holds,
// searching from node's start and wrapping around past the pool's end;
// false when every block is taken.
func nextFreeBlock(p Pool, node string, taken map[netip.Prefix]bool) (netip.Prefix, bool) {
	n := blockCount(p)
	start := blockStart(node, n)
	for k := range n {
		if b := nthBlock(p, (start+k)%n); !taken[b] {
			return b, true
		}
	}
	return netip.Prefix{}, false
}

// usable reports whether a can be given to a pod: not the pool's network or
// broadcast address, not its gateway.
func usable(p Pool, a netip.Addr) bool {
	return p.CIDR.Contains(a) && a != p.CIDR.Masked().Addr() && a != lastAddr(p.CIDR) && a != p.Gateway
}

// freeAddr finds a usable address in block that is not busy, scanning from
// just after `after` and wrapping around, so a freshly released address is
// the last to be handed out again.
func freeAddr(p Pool, block netip.Prefix, after netip.Addr, busy func(netip.Addr) bool) (netip.Addr, bool) {
	first := block.Masked().Addr()
	last := lastAddr(block)
	start := first
	if block.Contains(after) && after != last {
		start = after.Next()
	}
	a := start
	for {
		if usable(p, a) && !busy(a) {
			return a, true
		}
		if a == last {
			a = first
		} else {
			a = a.Next()
		}
		if a == start {
			return netip.Addr{}, false
		}
	}
}
