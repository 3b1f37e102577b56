package flows

import (
	"net"
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

// overlayBase is the part of Base that exists only with a tunnel port.
func overlayBase(n Node) []Flow {
	fs := []Flow{classifierTunnelDefault(), tunnelVNIDefault()}
	for _, d := range n.Domains {
		if d.VLAN == 0 {
			fs = append(fs, tunnelVNI(d))
		}
	}
	return fs
}

// uplinkBase is the part of Base that exists only with an uplink port.
func uplinkBase(n Node) []Flow {
	fs := []Flow{classifierUplinkDefault()}
	for _, d := range n.Domains {
		if d.VLAN != 0 {
			fs = append(fs, classifierUplink(d))
		}
	}
	return fs
}

// RemoteFlows returns the flows for one remote node: admit its tunnel
// packets, and send traffic for its blocks to it (overlay domains) or out
// of the uplink with the domain's tag (VLAN domains). All carry the node's
// cookie (kind node, object = VTEP), so they are replaced or removed as one.
func RemoteFlows(n Node, r RemoteNode) []Flow {
	var fs []Flow
	if n.Overlay {
		fs = append(fs, classifierTunnel(r))
	}
	for _, b := range r.Blocks {
		d, ok := n.domain(b.Pool)
		switch {
		case !ok:
			// A block of a pool this node does not know: no route.
		case d.VLAN != 0 && n.Uplink:
			fs = append(fs, forwardRemoteVLAN(r, b, d))
		case d.VLAN == 0 && n.Overlay:
			fs = append(fs, forwardRemote(r, b))
		}
	}
	return fs
}

// NodeCookie selects all flows of the remote node with this VTEP, any round.
func NodeCookie(vtep netip.Addr) of.Selector {
	return NewCookie(0, KindNode, 0, addr32(vtep)).Select(ObjectMask)
}

func nodeCookie(r RemoteNode) Cookie { return NewCookie(0, KindNode, 0, addr32(r.VTEP)) }

func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// classifierTunnel admits tunnel packets whose outer source is a known
// node's VTEP; TunnelVNI then checks the VNI.
func classifierTunnel(r RemoteNode) Flow {
	return flow(Classifier, ClassifierPort, nodeCookie(r)).Match(of.TunSrc(of.Host(r.VTEP)), of.InPort(TunnelOFPort)).Do(gotoTable(TunnelVNI))
}

// classifierTunnelDefault drops tunnel packets from unknown VTEPs: an
// underlay host forging VXLAN gets nowhere.
func classifierTunnelDefault() Flow {
	return drop(Classifier, ClassifierPortDrop, ReasonUnknownVNI).Match(of.InPort(TunnelOFPort))
}

// tunnelVNI sets the source domain of a tunnel packet from its VNI, and
// skips the pod-only tables (the sender's node checked spoofing).
func tunnelVNI(d Domain) Flow {
	return base(TunnelVNI, TunnelVNIKnown).Match(of.TunID(uint64(d.VNI))).Do(RegDomain.Set(d.VNI), gotoTable(DomainPolicy))
}

// tunnelVNIDefault drops tunnel packets with a VNI no domain has.
func tunnelVNIDefault() Flow {
	return drop(TunnelVNI, TunnelVNIDefault, ReasonUnknownVNI)
}

// classifierUplink admits frames from the underlay uplink only with a VLAN
// domain's tag; the tag is removed and names the source domain.
func classifierUplink(d Domain) Flow {
	return base(Classifier, ClassifierPort).Match(of.InPort(UplinkOFPort), of.DLVLAN(d.VLAN)).Do(
		of.PopVLAN{}, RegDomain.Set(d.VNI), gotoTable(DomainPolicy))
}

// classifierUplinkDefault drops untagged or unknown-tag frames from the uplink.
func classifierUplinkDefault() Flow {
	return drop(Classifier, ClassifierPortDrop, ReasonUnknownVNI).Match(of.InPort(UplinkOFPort))
}

// podMACPrefix is the 0a:58 of every pod MAC (0a:58 + IPv4), as a value
// and mask over the 16 bits above the address.
var (
	podMACPrefix     = net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 0}
	podMACPrefixMask = net.HardwareAddr{0xff, 0xff, 0, 0, 0, 0}
)

// arpResponderPool answers "who has <address>" for any address of a pool,
// from pods of the pool's domain, with the MAC Cane gives that address
// (0a:58 + IPv4): local and remote pods alike, with no per-pod flow.
// The gateway's own, higher-priority flow wins for the gateway address.
func arpResponderPool(vni uint32, p Pool) Flow {
	as := []of.Action{
		move(of.FieldEthSrc, of.FieldEthDst),
		of.Set(of.EthSrcMasked(podMACPrefix, podMACPrefixMask)),
		of.Move{Src: of.Whole(of.FieldARPTPA), Dst: of.Bits(of.FieldEthSrc, 0, 31)},
		of.Set(of.ARPOp(2)),
		move(of.FieldARPSHA, of.FieldARPTHA),
		move(of.FieldEthSrc, of.FieldARPSHA),
	}
	as = append(as, swapARPAddresses()...)
	return arpRequest(base(ARPResponder, ARPPoolAnswer), vni, p.CIDR).Do(append(as, of.Output{Port: of.PortInPort})...)
}

// forwardRemote sends traffic for a remote block into the tunnel to the
// block's node, with the source domain's VNI (the receiver checks it again).
func forwardRemote(r RemoteNode, b RemoteBlock) Flow {
	return flow(Forward, ForwardRemote, nodeCookie(r)).Proto(of.ProtoIP).Match(of.IPv4Dst(b.CIDR)).Do(
		of.Set(of.TunDst(of.Host(r.VTEP))),
		of.Move{Src: RegDomainVNI.Subfield(), Dst: of.Bits(of.FieldTunID, 0, 23)},
		RegOutPort.Set(TunnelOFPort),
		gotoTable(Output))
}

// forwardRemoteVLAN sends traffic for a remote block of a VLAN domain out
// of the uplink, tagged, to the MAC Cane gives the destination address.
func forwardRemoteVLAN(r RemoteNode, b RemoteBlock, d Domain) Flow {
	return flow(Forward, ForwardRemote, nodeCookie(r)).Proto(of.ProtoIP).Match(of.IPv4Dst(b.CIDR)).Do(
		of.Move{Src: of.Whole(of.FieldIPv4Dst), Dst: of.Bits(of.FieldEthDst, 0, 31)},
		of.Set(of.EthDstMasked(podMACPrefix, podMACPrefixMask)),
		of.PushVLAN{EtherType: 0x8100},
		of.Set(of.ExactUint(of.FieldVLANVID, 0x1000|uint64(d.VLAN))),
		RegOutPort.Set(UplinkOFPort),
		gotoTable(Output))
}
