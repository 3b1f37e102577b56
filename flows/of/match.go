package of

import (
	"fmt"
	"net"
	"net/netip"
)

// Match is one match field of a flow: the packet's Field, under Mask,
// equals Value. Mask is all ones over the field for an exact match and is
// never zero (a match on nothing is no match). Value has no bits outside
// Mask. Build matches with the constructors below; they keep both rules.
//
// Match implements go-openvswitch's ovs.Match: MarshalText is the match's
// text as OVS prints it ("nw_dst=198.19.0.0/24").
type Match struct {
	Field FieldID
	Value Value
	Mask  Value
}

// Exact is a match of the whole field on v (v holds the field's bytes).
func Exact(id FieldID, v Value) Match { return Masked(id, v, ones(int(id.Def().Bytes))) }

// Masked is a match of the bits of mask on v.
func Masked(id FieldID, v, mask Value) Match {
	n := int(id.Def().Bytes)
	mask = mask.and(ones(n))
	return Match{Field: id, Value: v.and(mask), Mask: mask}
}

// MaskedUint is a match on a field of up to 8 bytes by number.
func MaskedUint(id FieldID, v, mask uint64) Match {
	n := int(id.Def().Bytes)
	return Masked(id, uintValue(v, n), uintValue(mask, n))
}

// ExactUint is an exact match on a field of up to 8 bytes by number.
func ExactUint(id FieldID, v uint64) Match { return Exact(id, uintValue(v, int(id.Def().Bytes))) }

// IsExact reports whether the match covers the whole field.
func (m Match) IsExact() bool {
	n := int(m.Field.Def().Bytes)
	return m.Mask.prefixLen(n) == n*8
}

// Uint is the value as a number (fields of up to 8 bytes).
func (m Match) Uint() uint64 { return m.Value.Uint(int(m.Field.Def().Bytes)) }

// MaskUint is the mask as a number (fields of up to 8 bytes).
func (m Match) MaskUint() uint64 { return m.Mask.Uint(int(m.Field.Def().Bytes)) }

// Prefix is the value of an address field as a prefix, and whether its
// mask is a CIDR mask.
func (m Match) Prefix() (netip.Prefix, bool) {
	n := int(m.Field.Def().Bytes)
	l := m.Mask.prefixLen(n)
	if l < 0 || (n != 4 && n != 16) {
		return netip.Prefix{}, false
	}
	a := ip4Of(m.Value)
	if n == 16 {
		a = ip6Of(m.Value)
	}
	return netip.PrefixFrom(a, l), true
}

// Port matches.

func InPort(port uint32) Match { return ExactUint(FieldInPort, uint64(port)) }

// Ethernet.

func EthSrc(mac net.HardwareAddr) Match { return Exact(FieldEthSrc, macValue(mac)) }
func EthDst(mac net.HardwareAddr) Match { return Exact(FieldEthDst, macValue(mac)) }
func EthSrcMasked(mac, mask net.HardwareAddr) Match {
	return Masked(FieldEthSrc, macValue(mac), macValue(mask))
}
func EthDstMasked(mac, mask net.HardwareAddr) Match {
	return Masked(FieldEthDst, macValue(mac), macValue(mask))
}

// EthType matches an ethertype no Protocol names (use Flow.Proto for IP,
// IPv6 and ARP).
func EthType(t uint16) Match { return ExactUint(FieldEthType, uint64(t)) }

// VLANTCI matches the 802.1Q TCI under mask (0x1000/0x1000: any tag).
func VLANTCI(tci, mask uint16) Match { return MaskedUint(FieldVLANTCI, uint64(tci), uint64(mask)) }

// DLVLAN matches frames tagged with VLAN vid (any priority).
func DLVLAN(vid uint16) Match { return VLANTCI(0x1000|vid&0xfff, 0x1fff) }

// IP.

func IPv4Src(p netip.Prefix) Match { return prefixMatch(FieldIPv4Src, p) }
func IPv4Dst(p netip.Prefix) Match { return prefixMatch(FieldIPv4Dst, p) }
func IPv6Src(p netip.Prefix) Match { return prefixMatch(FieldIPv6Src, p) }
func IPv6Dst(p netip.Prefix) Match { return prefixMatch(FieldIPv6Dst, p) }

// IPProto matches an IP protocol no Protocol names (use Flow.Proto for
// TCP, UDP, SCTP, ICMP and ICMPv6).
func IPProto(p uint8) Match { return ExactUint(FieldIPProto, uint64(p)) }
func IPTTL(ttl uint8) Match { return ExactUint(FieldIPTTL, uint64(ttl)) }

// Host is the prefix of one address.
func Host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func prefixMatch(id FieldID, p netip.Prefix) Match {
	p = p.Masked()
	n := int(id.Def().Bytes)
	if (n == 16) != p.Addr().Is6() || !p.IsValid() {
		return Match{} // the wrong family: encoding fails on it
	}
	v := ip6Value(p.Addr())
	if n == 4 {
		v = ip4Value(p.Addr())
	}
	return Masked(id, v, prefixMask(p.Bits(), n))
}

// ARP.

func ARPOp(op uint16) Match             { return ExactUint(FieldARPOp, uint64(op)) }
func ARPSPA(p netip.Prefix) Match       { return prefixMatch(FieldARPSPA, p) }
func ARPTPA(p netip.Prefix) Match       { return prefixMatch(FieldARPTPA, p) }
func ARPSHA(mac net.HardwareAddr) Match { return Exact(FieldARPSHA, macValue(mac)) }
func ARPTHA(mac net.HardwareAddr) Match { return Exact(FieldARPTHA, macValue(mac)) }
func ICMPType(t uint8) Match            { return ExactUint(FieldICMPType, uint64(t)) }
func ICMPCode(c uint8) Match            { return ExactUint(FieldICMPCode, uint64(c)) }
func ICMPv6Type(t uint8) Match          { return ExactUint(FieldICMPv6Type, uint64(t)) }
func ICMPv6Code(c uint8) Match          { return ExactUint(FieldICMPv6Code, uint64(c)) }
func NDTarget(a netip.Addr) Match       { return prefixMatch(FieldNDTarget, Host(a)) }
func NDSLL(mac net.HardwareAddr) Match  { return Exact(FieldNDSLL, macValue(mac)) }
func NDTLL(mac net.HardwareAddr) Match  { return Exact(FieldNDTLL, macValue(mac)) }
func TCPSrc(port uint16) Match          { return ExactUint(FieldTCPSrc, uint64(port)) }
func TCPDst(port uint16) Match          { return ExactUint(FieldTCPDst, uint64(port)) }
func UDPSrc(port uint16) Match          { return ExactUint(FieldUDPSrc, uint64(port)) }
func UDPDst(port uint16) Match          { return ExactUint(FieldUDPDst, uint64(port)) }
func SCTPSrc(port uint16) Match         { return ExactUint(FieldSCTPSrc, uint64(port)) }
func SCTPDst(port uint16) Match         { return ExactUint(FieldSCTPDst, uint64(port)) }
func PortMasked(id FieldID, port, mask uint16) Match {
	return MaskedUint(id, uint64(port), uint64(mask))
}

// PortRange is the masked matches on id (a TCP, UDP or SCTP port field)
// that together cover the ports lo..hi, fewest first-fit blocks.
func PortRange(id FieldID, lo, hi uint16) []Match {
	var ms []Match
	for x := uint32(lo); x <= uint32(hi); {
		size := uint32(1)
		for x%(size*2) == 0 && x+size*2-1 <= uint32(hi) && size < 1<<16 {
			size *= 2
		}
		ms = append(ms, PortMasked(id, uint16(x), uint16(0x10000-size)))
		x += size
	}
	return ms
}

// Tunnel metadata.

func TunID(id uint64) Match               { return ExactUint(FieldTunID, id) }
func TunIDMasked(id, m uint64) Match      { return MaskedUint(FieldTunID, id, m) }
func TunSrc(p netip.Prefix) Match         { return prefixMatch(FieldTunSrc, p) }
func TunDst(p netip.Prefix) Match         { return prefixMatch(FieldTunDst, p) }
func PktMark(v, mask uint32) Match        { return MaskedUint(FieldPktMark, uint64(v), uint64(mask)) }
func ConjID(id uint32) Match              { return ExactUint(FieldConjID, uint64(id)) }
func CTZone(z uint16) Match               { return ExactUint(FieldCTZone, uint64(z)) }
func CTMark(v, mask uint32) Match         { return MaskedUint(FieldCTMark, uint64(v), uint64(mask)) }
func CTLabel(v, mask Value) Match         { return Masked(FieldCTLabel, v, mask) }
func RegMatch(n uint8, v, m uint32) Match { return MaskedUint(Reg(n), uint64(v), uint64(m)) }

// CTFlag is one conntrack state bit (ovs-fields(7), ct_state).
type CTFlag uint32

const (
	CTNew  CTFlag = 0x01
	CTEst  CTFlag = 0x02
	CTRel  CTFlag = 0x04
	CTRpl  CTFlag = 0x08
	CTInv  CTFlag = 0x10
	CTTrk  CTFlag = 0x20
	CTSNAT CTFlag = 0x40
	CTDNAT CTFlag = 0x80
)

var ctFlagNames = []string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}

// CTState matches conntrack state: the flags in on set, those in off
// clear ("+trk+est-rel"), others any.
func CTState(on, off CTFlag) Match {
	return MaskedUint(FieldCTState, uint64(on), uint64(on|off))
}

func (m Match) String() string {
	b, err := m.MarshalText()
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
