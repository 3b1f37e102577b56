package of

import "fmt"

// FieldID names one OpenFlow match/action field. The order of the
// constants is the order OVS prints a match in (lib/match.c,
// match_format), which is also the canonical order of a flow's matches.
type FieldID uint8

// Fields, in OVS's print order.
const (
	FieldNone FieldID = iota
	FieldPktMark
	FieldConjID
	FieldCTState
	FieldCTZone
	FieldCTMark
	FieldCTLabel
	FieldReg0
	FieldReg1
	FieldReg2
	FieldReg3
	FieldReg4
	FieldReg5
	FieldReg6
	FieldReg7
	FieldReg8
	FieldReg9
	FieldReg10
	FieldReg11
	FieldReg12
	FieldReg13
	FieldReg14
	FieldReg15
	FieldTunID
	FieldTunSrc
	FieldTunDst
	FieldInPort
	FieldVLANTCI
	FieldEthSrc
	FieldEthDst
	FieldEthType // only for an ethertype no Protocol names
	FieldIPv6Src
	FieldIPv6Dst
	FieldARPSPA
	FieldARPTPA
	FieldIPv4Src
	FieldIPv4Dst
	FieldIPProto // only for an IP protocol no Protocol names
	FieldARPOp
	FieldARPSHA
	FieldARPTHA
	FieldIPTTL
	FieldICMPType
	FieldICMPCode
	FieldICMPv6Type
	FieldICMPv6Code
	FieldNDTarget
	FieldNDSLL
	FieldNDTLL
	FieldTCPSrc
	FieldTCPDst
	FieldUDPSrc
	FieldUDPDst
	FieldSCTPSrc
	FieldSCTPDst
	FieldVLANVID // set_field only: matches on the VLAN use FieldVLANTCI
	numFields
)

// Text is how a field's value is written.
type Text uint8

const (
	TextDecimal  Text = iota // 4126
	TextHex                  // 0x64 (C's %#x: zero is "0")
	TextHex16                // exact decimal, masked 0x50/0xfff0 (OVS's 16-bit format)
	TextHexBytes             // the whole field in hex, leading zeros dropped (ct_label)
	TextMAC
	TextIPv4
	TextIPv6
	TextPort // an OpenFlow port: a number, or IN_PORT
	TextCTState
	TextVLANTCI
	TextEthType // 0x0800
)

// Header is an OXM/NXM header without its mask bit and length: the class
// (0x0000 NXM_OF, 0x0001 NXM_NX, 0x8000 OpenFlow basic) and field number.
type Header struct {
	Class uint16
	Code  uint8
}

// Field is what a field is, as data.
type Field struct {
	Name     string // in a match, as OVS prints it: "dl_src", "tp_dst", "reg0"
	SetName  string // after set_field's "->": OVS's field name ("eth_src", "tcp_dst")
	NXMName  string // in a subfield (move, output:, ct zone): "NXM_OF_ETH_SRC"
	Bytes    uint8  // value length on the wire
	Maskable bool
	OXM      Header // the OpenFlow 1.5 header OVS uses for it (zero: none)
	NXM      Header // its Nicira header (zero class 0 and code 0 is NXM_OF_IN_PORT, unused here)
	Match    Text   // how a match on it prints
	Set      Text   // how a set_field value prints (OVS's mf_format)
}

var (
	nxm0 = func(c uint8) Header { return Header{0x0000, c} }
	nxm1 = func(c uint8) Header { return Header{0x0001, c} }
	oxm  = func(c uint8) Header { return Header{0x8000, c} }
)

// fields is the field table, indexed by FieldID. Numbers are OVS's
// (include/openvswitch/meta-flow.h).
var fields = func() [numFields]Field {
	var t [numFields]Field
	t[FieldPktMark] = Field{"pkt_mark", "pkt_mark", "NXM_NX_PKT_MARK", 4, true, Header{}, nxm1(33), TextHex, TextHex}
	t[FieldConjID] = Field{"conj_id", "conj_id", "NXM_NX_CONJ_ID", 4, false, Header{}, nxm1(37), TextDecimal, TextDecimal}
	t[FieldCTState] = Field{"ct_state", "ct_state", "NXM_NX_CT_STATE", 4, true, Header{}, nxm1(105), TextCTState, TextCTState}
	t[FieldCTZone] = Field{"ct_zone", "ct_zone", "NXM_NX_CT_ZONE", 2, true, Header{}, nxm1(106), TextHex16, TextDecimal}
	t[FieldCTMark] = Field{"ct_mark", "ct_mark", "NXM_NX_CT_MARK", 4, true, Header{}, nxm1(107), TextHex, TextHex}
	t[FieldCTLabel] = Field{"ct_label", "ct_label", "NXM_NX_CT_LABEL", 16, true, Header{}, nxm1(108), TextHexBytes, TextHexBytes}
	for i := 0; i < 16; i++ {
		n := fmt.Sprint(i)
		t[FieldReg0+FieldID(i)] = Field{"reg" + n, "reg" + n, "NXM_NX_REG" + n, 4, true, Header{}, nxm1(uint8(i)), TextHex, TextHexBytes}
	}
	t[FieldTunID] = Field{"tun_id", "tun_id", "NXM_NX_TUN_ID", 8, true, oxm(38), nxm1(16), TextHex, TextHexBytes}
	t[FieldTunSrc] = Field{"tun_src", "tun_src", "NXM_NX_TUN_IPV4_SRC", 4, true, Header{}, nxm1(31), TextIPv4, TextIPv4}
	t[FieldTunDst] = Field{"tun_dst", "tun_dst", "NXM_NX_TUN_IPV4_DST", 4, true, Header{}, nxm1(32), TextIPv4, TextIPv4}
	t[FieldInPort] = Field{"in_port", "in_port_oxm", "OXM_OF_IN_PORT", 4, false, oxm(0), Header{}, TextPort, TextPort}
	t[FieldVLANTCI] = Field{"vlan_tci", "vlan_tci", "NXM_OF_VLAN_TCI", 2, true, Header{}, nxm0(4), TextVLANTCI, TextHexBytes}
	t[FieldEthSrc] = Field{"dl_src", "eth_src", "NXM_OF_ETH_SRC", 6, true, oxm(4), nxm0(2), TextMAC, TextMAC}
	t[FieldEthDst] = Field{"dl_dst", "eth_dst", "NXM_OF_ETH_DST", 6, true, oxm(3), nxm0(1), TextMAC, TextMAC}
	t[FieldEthType] = Field{"dl_type", "eth_type", "NXM_OF_ETH_TYPE", 2, false, oxm(5), nxm0(3), TextEthType, TextHexBytes}
	t[FieldIPv6Src] = Field{"ipv6_src", "ipv6_src", "NXM_NX_IPV6_SRC", 16, true, oxm(26), nxm1(19), TextIPv6, TextIPv6}
	t[FieldIPv6Dst] = Field{"ipv6_dst", "ipv6_dst", "NXM_NX_IPV6_DST", 16, true, oxm(27), nxm1(20), TextIPv6, TextIPv6}
	t[FieldARPSPA] = Field{"arp_spa", "arp_spa", "NXM_OF_ARP_SPA", 4, true, oxm(22), nxm0(16), TextIPv4, TextIPv4}
	t[FieldARPTPA] = Field{"arp_tpa", "arp_tpa", "NXM_OF_ARP_TPA", 4, true, oxm(23), nxm0(17), TextIPv4, TextIPv4}
	t[FieldIPv4Src] = Field{"nw_src", "ip_src", "NXM_OF_IP_SRC", 4, true, oxm(11), nxm0(7), TextIPv4, TextIPv4}
	t[FieldIPv4Dst] = Field{"nw_dst", "ip_dst", "NXM_OF_IP_DST", 4, true, oxm(12), nxm0(8), TextIPv4, TextIPv4}
	t[FieldIPProto] = Field{"nw_proto", "nw_proto", "NXM_OF_IP_PROTO", 1, false, oxm(10), nxm0(6), TextDecimal, TextDecimal}
	t[FieldARPOp] = Field{"arp_op", "arp_op", "NXM_OF_ARP_OP", 2, false, oxm(21), nxm0(15), TextDecimal, TextDecimal}
	t[FieldARPSHA] = Field{"arp_sha", "arp_sha", "NXM_NX_ARP_SHA", 6, true, oxm(24), nxm1(17), TextMAC, TextMAC}
	t[FieldARPTHA] = Field{"arp_tha", "arp_tha", "NXM_NX_ARP_THA", 6, true, oxm(25), nxm1(18), TextMAC, TextMAC}
	t[FieldIPTTL] = Field{"nw_ttl", "nw_ttl", "NXM_NX_IP_TTL", 1, false, Header{}, nxm1(29), TextDecimal, TextDecimal}
	t[FieldICMPType] = Field{"icmp_type", "icmp_type", "NXM_OF_ICMP_TYPE", 1, false, oxm(19), nxm0(13), TextDecimal, TextDecimal}
	t[FieldICMPCode] = Field{"icmp_code", "icmp_code", "NXM_OF_ICMP_CODE", 1, false, oxm(20), nxm0(14), TextDecimal, TextDecimal}
	t[FieldICMPv6Type] = Field{"icmp_type", "icmpv6_type", "NXM_NX_ICMPV6_TYPE", 1, false, oxm(29), nxm1(21), TextDecimal, TextDecimal}
	t[FieldICMPv6Code] = Field{"icmp_code", "icmpv6_code", "NXM_NX_ICMPV6_CODE", 1, false, oxm(30), nxm1(22), TextDecimal, TextDecimal}
	t[FieldNDTarget] = Field{"nd_target", "nd_target", "NXM_NX_ND_TARGET", 16, true, oxm(31), nxm1(23), TextIPv6, TextIPv6}
	t[FieldNDSLL] = Field{"nd_sll", "nd_sll", "NXM_NX_ND_SLL", 6, true, oxm(32), nxm1(24), TextMAC, TextMAC}
	t[FieldNDTLL] = Field{"nd_tll", "nd_tll", "NXM_NX_ND_TLL", 6, true, oxm(33), nxm1(25), TextMAC, TextMAC}
	t[FieldTCPSrc] = Field{"tp_src", "tcp_src", "NXM_OF_TCP_SRC", 2, true, oxm(13), nxm0(9), TextHex16, TextDecimal}
	t[FieldTCPDst] = Field{"tp_dst", "tcp_dst", "NXM_OF_TCP_DST", 2, true, oxm(14), nxm0(10), TextHex16, TextDecimal}
	t[FieldUDPSrc] = Field{"tp_src", "udp_src", "NXM_OF_UDP_SRC", 2, true, oxm(15), nxm0(11), TextHex16, TextDecimal}
	t[FieldUDPDst] = Field{"tp_dst", "udp_dst", "NXM_OF_UDP_DST", 2, true, oxm(16), nxm0(12), TextHex16, TextDecimal}
	t[FieldSCTPSrc] = Field{"tp_src", "sctp_src", "OXM_OF_SCTP_SRC", 2, true, oxm(17), Header{}, TextHex16, TextDecimal}
	t[FieldSCTPDst] = Field{"tp_dst", "sctp_dst", "OXM_OF_SCTP_DST", 2, true, oxm(18), Header{}, TextHex16, TextDecimal}
	t[FieldVLANVID] = Field{"vlan_vid", "vlan_vid", "OXM_OF_VLAN_VID", 2, true, oxm(6), Header{}, TextDecimal, TextDecimal}
	return t
}()

// Def is the field's definition.
func (id FieldID) Def() Field {
	if id >= numFields {
		return Field{}
	}
	return fields[id]
}

// Valid reports whether id names a field.
func (id FieldID) Valid() bool { return id > FieldNone && id < numFields }

func (id FieldID) String() string {
	if !id.Valid() {
		return fmt.Sprintf("field%d", uint8(id))
	}
	return fields[id].SetName
}

// Header is the header OVS uses for the field in OpenFlow 1.5: the
// standard OXM one where there is one, else the Nicira one.
func (id FieldID) Header() Header {
	d := id.Def()
	if d.OXM.Class != 0 {
		return d.OXM
	}
	return d.NXM
}

// Bits is the field's width in bits.
func (id FieldID) Bits() int { return int(id.Def().Bytes) * 8 }

// Reg is the field of register n (0-15).
func Reg(n uint8) FieldID { return FieldReg0 + FieldID(n&15) }

// byHeader maps every header OVS may use for a field to the field,
// including the Nicira names of fields that OpenFlow 1.5 names otherwise.
var byHeader = func() map[Header]FieldID {
	m := map[Header]FieldID{}
	for id := FieldPktMark; id < numFields; id++ {
		d := fields[id]
		if d.OXM.Class != 0 {
			m[d.OXM] = id
		}
		if d.NXM != (Header{}) {
			m[d.NXM] = id
		}
	}
	return m
}()

// Headers OVS sends that decode into other fields (see decodeOXM).
var (
	hdrXReg       = Header{Class: 0x8001} // OXM_OF_PKT_REG<N>: the code is N
	hdrPacketType = Header{0x8000, 44}
	hdrVLANPCP    = Header{0x8000, 7}
)
