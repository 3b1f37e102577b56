package of

import (
	"fmt"
	"net"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"
)

var _ ovs.Match = Match{}

// MarshalText is the match as OVS prints it in dump-flows (lib/match.c).
// Where go-openvswitch's constructor prints the same, the text is its.
func (m Match) MarshalText() ([]byte, error) {
	if !m.Field.Valid() {
		return nil, fmt.Errorf("match on unknown field %d", m.Field)
	}
	if om := m.ovsMatch(); om != nil {
		return om.MarshalText()
	}
	if m.Field == FieldVLANTCI { // dl_vlan and dl_vlan_pcp both
		tci := m.Uint()
		return []byte(fmt.Sprintf("dl_vlan=%d,dl_vlan_pcp=%d", tci&0xfff, tci>>13)), nil
	}
	return []byte(m.Field.Def().Name + "=" + m.valueText()), nil
}

// ovsMatch is go-openvswitch's match for m, where its text is OVS's.
func (m Match) ovsMatch() ovs.Match {
	exact := m.IsExact()
	switch m.Field {
	case FieldInPort:
		if m.Uint() < 0xffffff00 {
			return ovs.InPortMatch(int(m.Uint()))
		}
	case FieldEthSrc:
		return ovs.DataLinkSource(macMasked(m.Value, m.Mask))
	case FieldEthDst:
		return ovs.DataLinkDestination(macMasked(m.Value, m.Mask))
	case FieldIPv4Src, FieldIPv4Dst, FieldARPSPA, FieldARPTPA, FieldTunSrc, FieldTunDst:
		if m.Mask.prefixLen(4) < 0 {
			return nil // a non-CIDR mask: go-openvswitch takes only CIDRs
		}
		return ipv4Matches[m.Field](ipMasked(m.Value, m.Mask, 4))
	case FieldIPv6Src, FieldIPv6Dst:
		if m.Mask.prefixLen(16) < 0 {
			return nil
		}
		if m.Field == FieldIPv6Src {
			return ovs.IPv6Source(ipMasked(m.Value, m.Mask, 16))
		}
		return ovs.IPv6Destination(ipMasked(m.Value, m.Mask, 16))
	case FieldNDTarget:
		if exact {
			return ovs.NeighborDiscoveryTarget(ip6Of(m.Value).String())
		}
	case FieldARPSHA, FieldARPTHA, FieldNDSLL, FieldNDTLL:
		if exact {
			return macMatches[m.Field](macOf(m.Value))
		}
	case FieldARPOp:
		return ovs.ARPOperation(uint16(m.Uint()))
	case FieldIPProto:
		return ovs.NetworkProtocol(uint8(m.Uint()))
	case FieldIPTTL:
		return ovs.NetworkTTL(int(m.Uint()))
	case FieldICMPType, FieldICMPv6Type: // OVS prints icmp_type for both
		return ovs.ICMPType(uint8(m.Uint()))
	case FieldICMPCode, FieldICMPv6Code:
		return ovs.ICMPCode(uint8(m.Uint()))
	case FieldTCPSrc, FieldUDPSrc, FieldSCTPSrc: // OVS prints tp_src for all three
		if exact {
			return ovs.TransportSourcePort(uint16(m.Uint()))
		}
	case FieldTCPDst, FieldUDPDst, FieldSCTPDst:
		if exact {
			return ovs.TransportDestinationPort(uint16(m.Uint()))
		}
	case FieldTunID:
		if m.Uint() != 0 { // Go's %#x prints 0x0 where C prints 0
			if exact {
				return ovs.TunnelID(m.Uint())
			}
			return ovs.TunnelIDWithMask(m.Uint(), m.MaskUint())
		}
	case FieldConjID:
		return ovs.ConjunctionID(uint32(m.Uint()))
	case FieldCTZone:
		if exact {
			return ovs.ConnectionTrackingZone(uint16(m.Uint()))
		}
	case FieldCTState:
		if m.MaskUint() != 0xff {
			return ovs.ConnectionTrackingState(ctFlags(m.Uint(), m.MaskUint())...)
		}
	case FieldVLANTCI:
		return vlanMatch(uint16(m.Uint()), uint16(m.MaskUint()))
	}
	return nil
}

// go-openvswitch's constructors for the address fields, by field.
var (
	ipv4Matches = map[FieldID]func(string) ovs.Match{
		FieldIPv4Src: ovs.NetworkSource, FieldIPv4Dst: ovs.NetworkDestination,
		FieldARPSPA: ovs.ARPSourceProtocolAddress, FieldARPTPA: ovs.ARPTargetProtocolAddress,
		FieldTunSrc: ovs.TunnelSrc, FieldTunDst: ovs.TunnelDst,
	}
	macMatches = map[FieldID]func(net.HardwareAddr) ovs.Match{
		FieldARPSHA: ovs.ARPSourceHardwareAddress, FieldARPTHA: ovs.ARPTargetHardwareAddress,
		FieldNDSLL: ovs.NeighborDiscoverySourceLinkLayer, FieldNDTLL: ovs.NeighborDiscoveryTargetLinkLayer,
	}
)

// ctFlags is a ct_state value under mask as "+flag"/"-flag" in bit
// order, as OVS prints a masked ct_state.
func ctFlags(v, mask uint64) []string {
	var out []string
	for i, name := range ctFlagNames {
		bit := uint64(1) << uint(i)
		if mask&bit == 0 {
			continue
		}
		if v&bit != 0 {
			out = append(out, ovs.SetState(ovs.CTState(name)))
		} else {
			out = append(out, ovs.UnsetState(ovs.CTState(name)))
		}
	}
	return out
}

// valueText renders what go-openvswitch cannot, as lib/match.c does.
func (m Match) valueText() string {
	d := m.Field.Def()
	n := int(d.Bytes)
	exact := m.IsExact()
	switch d.Match {
	case TextHex: // format_uint32_masked, format_be64_masked
		if exact {
			return hexC(m.Uint())
		}
		return hexC(m.Uint()) + "/" + hexC(m.MaskUint())
	case TextHex16: // format_be16_masked, format_uint16_masked
		if exact {
			return fmt.Sprint(m.Uint())
		}
		return fmt.Sprintf("0x%x/0x%x", m.Uint(), m.MaskUint())
	case TextHexBytes: // format_ct_label_masked
		if exact {
			return hexBytes(m.Value[:n])
		}
		return hexBytes(m.Value[:n]) + "/" + hexBytes(m.Mask[:n])
	case TextMAC:
		return macMasked(m.Value, m.Mask)
	case TextIPv4, TextIPv6:
		return ipMasked(m.Value, m.Mask, n)
	case TextPort:
		return portText(uint32(m.Uint()))
	case TextCTState:
		return ctStateExact(m.Uint())
	case TextEthType:
		return fmt.Sprintf("0x%04x", m.Uint())
	}
	return fmt.Sprint(m.Uint())
}

// ctStateExact is a ct_state matched on all eight flags: "new|trk", or 0.
func ctStateExact(v uint64) string {
	var names []string
	for i, name := range ctFlagNames {
		if v&(1<<uint(i)) != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// vlanMatch is go-openvswitch's match for a TCI match in the form OVS
// prints (lib/match.c): dl_vlan and/or dl_vlan_pcp, else vlan_tci; nil for
// dl_vlan and dl_vlan_pcp both (MarshalText writes that).
func vlanMatch(tci, mask uint16) ovs.Match {
	vid, pcp := mask&0x0fff, mask&0xe000
	switch {
	case vlanShort(tci, mask) && pcp == 0:
		return ovs.DataLinkVLAN(int(tci & 0xfff))
	case vlanShort(tci, mask) && vid == 0:
		return ovs.DataLinkVLANPCP(int(tci >> 13))
	case vlanShort(tci, mask):
		return nil
	case mask == 0xffff:
		return ovs.VLANTCI(tci, 0)
	}
	return ovs.VLANTCI(tci, mask)
}

// vlanShort reports whether OVS prints a TCI match as dl_vlan and/or
// dl_vlan_pcp: the tag is present and the VID and PCP are each matched
// whole or not at all.
func vlanShort(tci, mask uint16) bool {
	vid, pcp := mask&0x0fff, mask&0xe000
	return mask&0x1000 != 0 && tci&0x1000 != 0 && (vid == 0 || vid == 0x0fff) &&
		(pcp == 0 || pcp == 0xe000) && (vid != 0 || pcp != 0)
}

// portText is an OpenFlow port as OVS prints it.
func portText(p uint32) string {
	if name, ok := reservedPorts[p]; ok {
		return name
	}
	return fmt.Sprint(p)
}

var reservedPorts = map[uint32]string{
	0xfffffff8: "IN_PORT", 0xfffffff9: "TABLE", 0xfffffffa: "NORMAL", 0xfffffffb: "FLOOD",
	0xfffffffc: "ALL", 0xfffffffd: "CONTROLLER", 0xfffffffe: "LOCAL", 0xffffffff: "ANY",
}

// GoString is the Go expression that builds m.
func (m Match) GoString() string {
	n := int(m.Field.Def().Bytes)
	if n <= 8 {
		return fmt.Sprintf("of.MaskedUint(of.%s, %#x, %#x)", fieldConst(m.Field), m.Uint(), m.MaskUint())
	}
	return fmt.Sprintf("of.Masked(of.%s, %#v, %#v)", fieldConst(m.Field), m.Value, m.Mask)
}

func fieldConst(id FieldID) string {
	if id >= FieldReg0 && id <= FieldReg15 {
		return fmt.Sprintf("Reg(%d)", id-FieldReg0)
	}
	return fmt.Sprintf("FieldID(%d)", uint8(id))
}

// PacketText is the match as a packet description OVS parses (ofproto/
// trace): like String, but fields that OVS prints under another field's
// name take their own — a UDP or SCTP port is "udp_src", not the "tp_src"
// a dump shows (which OVS parses as TCP's), an ICMPv6 type "icmpv6_type".
func (m Match) PacketText() string {
	switch m.Field {
	case FieldUDPSrc, FieldUDPDst, FieldSCTPSrc, FieldSCTPDst, FieldICMPv6Type, FieldICMPv6Code:
		if m.IsExact() {
			return fmt.Sprintf("%s=%d", m.Field.Def().SetName, m.Uint())
		}
	}
	return m.String()
}
