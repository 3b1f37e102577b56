// Package oftest holds flows for tests of flows/of and of the switch:
// one flow per feature of the vocabulary.
package oftest

import (
	"net"
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

var (
	macA  = net.HardwareAddr{0x0a, 0x58, 0xc6, 0x13, 0, 2}
	macB  = net.HardwareAddr{0x0a, 0x58, 0xc6, 0x13, 0, 3}
	pfx   = netip.MustParsePrefix
	addr  = netip.MustParseAddr
	reg0  = of.RegField{Reg: 0, Lo: 0, Hi: 31}
	reg3l = of.RegField{Reg: 3, Lo: 4, Hi: 11}
)

// Vocabulary is one flow per feature of flows/of: every field and action
// the next work needs (conntrack, conjunctions, IPv6 and ND, masked ports,
// output to a register, VLAN push/pop), each one OVS accepts.
func Vocabulary() []of.Flow {
	nf := func(table uint8, prio uint16) of.Flow {
		return of.NewFlow(table, prio, 0xabc00000000+uint64(table)<<8+uint64(prio))
	}
	label := of.Value{15: 5}
	labelMask := of.Value{15: 0xff}
	return []of.Flow{
		nf(0, 100).Match(of.InPort(5), of.EthSrcMasked(macA, net.HardwareAddr{0xff, 0xff, 0xff, 0, 0, 0}), of.EthDst(macB)).Do(reg0.Set(0x64), of.Goto{Table: 10}),
		nf(0, 101).Proto(of.ProtoIP).Match(of.IPv4Src(pfx("198.19.0.0/24")), of.IPv4Dst(of.Host(addr("198.19.1.2"))), reg3l.Match(9), of.PktMark(1, 0xff), of.IPTTL(64)).Do(of.Output{Port: 3}),
		nf(0, 102).Proto(of.ProtoTCP).Match(of.PortRange(of.FieldTCPDst, 1024, 2047)[0], of.TCPSrc(80)).Do(
			of.CT{Commit: true, Zone: 5, Recirc: true, Table: 20, NAT: &of.NAT{Src: true, MinAddr: addr("198.18.0.10"), MaxAddr: addr("198.18.0.20"), MinPort: 1000, MaxPort: 2000},
				Exec: []of.SetField{of.Set(of.CTMark(1, 0xffffffff)), of.Set(of.CTLabel(label, labelMask))}}),
		nf(20, 103).Proto(of.ProtoUDP).Match(of.CTState(of.CTTrk|of.CTEst, of.CTRel), of.CTZone(5), of.CTMark(1, 0xff), of.CTLabel(label, labelMask), of.UDPDst(53)).Do(
			of.CT{ZoneSrc: of.Bits(of.Reg(4), 0, 15), Recirc: true, Table: 30, NAT: &of.NAT{}}),
		nf(20, 104).Proto(of.ProtoSCTP).Match(of.SCTPDst(80)).Do(of.CTClear{}, of.Resubmit{Table: 40}),
		nf(20, 105).Proto(of.ProtoICMP).Match(of.ICMPType(8), of.ICMPCode(0)).Do(of.PushVLAN{EtherType: 0x8100}, of.Set(of.ExactUint(of.FieldVLANVID, 0x1000|100)), of.Output{Port: 2}),
		nf(30, 106).Proto(of.ProtoIPv6).Match(of.IPv6Src(pfx("fd00:198:19::/64")), of.IPv6Dst(of.Host(addr("fd00:198:19::2")))).Do(of.OutputReg{Src: of.Bits(of.Reg(1), 0, 15)}),
		nf(30, 107).Proto(of.ProtoICMP6).Match(of.ICMPv6Type(135), of.ICMPv6Code(0), of.NDTarget(addr("fd00:198:19::1")), of.NDSLL(macA)).Do(of.Output{Port: of.PortInPort}),
		nf(30, 108).Proto(of.ProtoICMP6).Match(of.ICMPv6Type(136), of.NDTLL(macB)).Do(of.Drop{}),
		nf(30, 109).Proto(of.ProtoTCP6).Match(of.PortMasked(of.FieldTCPDst, 0x50, 0xfff0)).Do(of.Conjunction{ID: 7, Clause: 1, NClauses: 2}),
		nf(30, 110).Proto(of.ProtoUDP6).Match(of.PortMasked(of.FieldUDPSrc, 0x1000, 0xf000)).Do(of.Conjunction{ID: 7, Clause: 2, NClauses: 2}),
		nf(30, 111).Proto(of.ProtoSCTP6).Match(of.SCTPSrc(9)).Do(of.Conjunction{ID: 8, Clause: 1, NClauses: 3}),
		nf(30, 112).Proto(of.ProtoIP).Match(of.ConjID(7)).Do(of.Goto{Table: 40}),
		nf(40, 113).Proto(of.ProtoARP).Match(of.ARPOp(1), of.ARPSPA(pfx("198.19.0.0/24")), of.ARPTPA(of.Host(addr("198.19.0.1"))), of.ARPSHA(macA), of.ARPTHA(macB)).Do(
			of.Move{Src: of.Whole(of.FieldEthSrc), Dst: of.Whole(of.FieldEthDst)}, of.Move{Src: of.Whole(of.FieldARPSHA), Dst: of.Whole(of.FieldARPTHA)},
			of.Set(of.ARPOp(2)), of.Move{Src: of.Whole(of.FieldARPTPA), Dst: of.Bits(of.FieldEthSrc, 0, 31)}, of.Output{Port: of.PortInPort}),
		nf(0, 114).Match(of.InPort(1), of.TunID(0x64), of.TunSrc(pfx("198.18.0.0/24")), of.TunDst(of.Host(addr("198.18.0.1")))).Do(
			of.Set(of.TunDst(of.Host(addr("198.18.0.2")))), of.Move{Src: of.Bits(of.Reg(0), 0, 23), Dst: of.Bits(of.FieldTunID, 0, 23)}, of.Goto{Table: 5}),
		nf(10, 115).Match(of.VLANTCI(0x1000, 0x1000)).Do(of.PopVLAN{}, of.Output{Port: 1}),
		nf(10, 116).Match(of.DLVLAN(30)).Do(of.PopVLAN{}, of.Goto{Table: 20}),
		nf(10, 117).Match(of.VLANTCI(0x6000|0x1000|30, 0xffff)).Do(of.Drop{}),
		nf(10, 118).Match(of.VLANTCI(0x0005, 0x0fff)).Do(of.Drop{}),
		nf(50, 119).Match(of.RegMatch(0, 0, 0xff), of.RegMatch(1, 7, 0xffffffff), of.RegMatch(2, 0x100, 0xf00), of.RegMatch(15, 1, 1), of.TunIDMasked(0, 0xff)).Do(of.Drop{}),
		nf(50, 120).Proto(of.ProtoIP).Match(of.IPProto(47)).Do(of.Drop{}),
		nf(50, 121).Match(of.EthType(0x88cc)).Do(of.Drop{}),
		nf(50, 122).Proto(of.ProtoIP).Do(of.CT{}),
		nf(50, 123).Proto(of.ProtoTCP).Match(of.CTState(of.CTNew|of.CTTrk, 0xff&^(of.CTNew|of.CTTrk))).Do(of.CT{Commit: true, Exec: []of.SetField{of.Set(of.CTMark(0x10, 0xf0))}}),
		nf(50, 124).Proto(of.ProtoIP).Match(of.IPv4Dst(pfx("198.19.0.0/16"))).Do(of.CT{Commit: true, NAT: &of.NAT{Dst: true, MinAddr: addr("198.19.0.9")}}),
		nf(50, 125).Proto(of.ProtoIP).Match(of.IPv4Src(pfx("198.19.1.0/24"))).Do(reg3l.Set(3), of.Set(of.PktMark(0x10, 0xffff)), of.Resubmit{Table: 0}),
	}
}
