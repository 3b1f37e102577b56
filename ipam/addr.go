package ipam

import "net/netip"

// lastAddr is the highest address of a prefix (the broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// blocks lists every block of the given size in a pool, lowest first.
func blocks(pool netip.Prefix, bits int) []netip.Prefix {
	var out []netip.Prefix
	size := uint64(1) << (32 - bits)
	n := uint64(1) << (bits - pool.Bits())
	a := pool.Masked().Addr()
	for i := uint64(0); i < n; i++ {
		out = append(out, netip.PrefixFrom(a, bits))
		for j := uint64(0); j < size; j++ {
			a = a.Next()
		}
	}
	return out
}

// nextFreeBlock returns the lowest block of the pool that nobody holds.
func nextFreeBlock(p Pool, taken map[netip.Prefix]bool) (netip.Prefix, bool) {
	for _, b := range blocks(p.CIDR, p.BlockBits) {
		if !taken[b] {
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

// freeAddr finds a usable address in block that is neither used nor
// reserved, scanning from just after `after` and wrapping around, so a
// freshly released address is the last to be handed out again.
func freeAddr(p Pool, block netip.Prefix, after netip.Addr, used, reserved map[netip.Addr]bool) (netip.Addr, bool) {
	first := block.Masked().Addr()
	last := lastAddr(block)
	start := first
	if block.Contains(after) && after != last {
		start = after.Next()
	}
	a := start
	for {
		if usable(p, a) && !used[a] && !reserved[a] {
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
