package of

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"strings"
)

// Value holds a field's value (or mask) in network byte order, in its
// first Field.Bytes bytes; the rest is zero.
type Value [16]byte

// Uint is the value of an n-byte field (n <= 8) as a number.
func (v Value) Uint(n int) uint64 {
	var x uint64
	for i := 0; i < n && i < 8; i++ {
		x = x<<8 | uint64(v[i])
	}
	return x
}

// uintValue is an n-byte field's value x.
func uintValue(x uint64, n int) Value {
	var v Value
	for i := n - 1; i >= 0; i-- {
		v[i] = byte(x)
		x >>= 8
	}
	return v
}

// ones is the all-ones mask of an n-byte field.
func ones(n int) Value {
	var v Value
	for i := 0; i < n; i++ {
		v[i] = 0xff
	}
	return v
}

func (v Value) and(m Value) Value {
	for i := range v {
		v[i] &= m[i]
	}
	return v
}

func (v Value) isZero(n int) bool {
	for i := 0; i < n; i++ {
		if v[i] != 0 {
			return false
		}
	}
	return true
}

// prefixLen is the CIDR length of an n-byte mask, or -1 if it is not one.
func (v Value) prefixLen(n int) int {
	l := 0
	for i := 0; i < n; i++ {
		if v[i] == 0xff {
			l += 8
			continue
		}
		l += bits.LeadingZeros8(^v[i])
		if v[i]<<uint(bits.LeadingZeros8(^v[i])) != 0 {
			return -1
		}
		for j := i + 1; j < n; j++ {
			if v[j] != 0 {
				return -1
			}
		}
		return l
	}
	return l
}

// prefixMask is the n-byte mask of a /l prefix.
func prefixMask(l, n int) Value {
	var v Value
	for i := 0; i < n && l > 0; i++ {
		if l >= 8 {
			v[i] = 0xff
			l -= 8
			continue
		}
		v[i] = byte(0xff << uint(8-l))
		l = 0
	}
	return v
}

// hexC is C's "%#x": 0x64, and 0 for zero.
func hexC(x uint64) string {
	if x == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", x)
}

// hexBytes is OVS's ds_put_hex: the bytes as one hex number without
// leading zeros, 0 for zero.
func hexBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if s.Len() == 0 {
			if c == 0 {
				continue
			}
			fmt.Fprintf(&s, "0x%x", c)
			continue
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	if s.Len() == 0 {
		return "0"
	}
	return s.String()
}

func macOf(v Value) net.HardwareAddr { return net.HardwareAddr(append([]byte(nil), v[:6]...)) }

func macValue(mac net.HardwareAddr) Value {
	var v Value
	copy(v[:6], mac)
	return v
}

func ip4Value(a netip.Addr) Value {
	var v Value
	b := a.As4()
	copy(v[:4], b[:])
	return v
}

func ip6Value(a netip.Addr) Value { return Value(a.As16()) }

func ip4Of(v Value) netip.Addr { return netip.AddrFrom4([4]byte(v[:4])) }

func ip6Of(v Value) netip.Addr { return netip.AddrFrom16(v) }

// ipMasked is OVS's ip_format_masked / ipv6_format_masked: the address,
// "/len" for a CIDR mask short of the whole address, "/mask" otherwise.
func ipMasked(v, m Value, n int) string {
	addr := ip4Of(v)
	if n == 16 {
		addr = ip6Of(v)
	}
	switch l := m.prefixLen(n); {
	case l == n*8:
		return addr.String()
	case l >= 0:
		return fmt.Sprintf("%s/%d", addr, l)
	case n == 16:
		return addr.String() + "/" + ip6Of(m).String()
	default:
		return addr.String() + "/" + ip4Of(m).String()
	}
}

// macMasked is OVS's eth_format_masked.
func macMasked(v, m Value) string {
	if m.prefixLen(6) == 48 {
		return macOf(v).String()
	}
	return macOf(v).String() + "/" + macOf(m).String()
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
