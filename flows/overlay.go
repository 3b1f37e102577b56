package flows

import (
	"net"
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

// overlayBase is the part of Base that exists only with a tunnel port.
func overlayBase(n Node) []Flow {
	fs := []Flow{classifierTunnelDefault(), tunnelVNIDefault(), tunnelDomainDefault()}
	for _, d := range n.Domains {
		if d.VLAN == 0 {
			fs = append(fs, tunnelDomain(d))
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
		for _, a := range r.Addrs {
			fs = append(fs, tunnelNodeAddr(r, a), toNodeRemote(r, a))
		}
	}
	for _, b := range r.Blocks {
		d, ok := n.blockDomain(b)
		switch {
		case !ok:
			// A block of a pool this node does not know: no route.
		case d.VLAN != 0 && n.Uplink:
			fs = append(fs, forwardRemoteVLAN(r, b, d))
		case d.VLAN == 0 && n.Overlay:
			fs = append(fs, forwardRemote(r, b), tunnelBlock(r, b, d))
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
// node's VTEP; TunnelVNI then binds the VNI to the inner source.
func classifierTunnel(r RemoteNode) Flow {
	return flow(Classifier, ClassifierPort, nodeCookie(r)).Match(of.TunSrc(of.Host(r.VTEP)), of.InPort(TunnelOFPort)).Do(
		RegSource.Set(SourceTunnel), gotoTable(TunnelVNI))
}

// classifierTunnelDefault drops tunnel packets from unknown VTEPs: an
// underlay host forging VXLAN gets nowhere.
func classifierTunnelDefault() Flow {
	return drop(Classifier, ClassifierPortDrop, ReasonUnknownVNI).Match(of.InPort(TunnelOFPort))
}

// tunnelBlock admits a tunnel packet from a remote block's node only in
// the domain the block serves, and skips the pod-only tables (the
// sender's node checked spoofing): a node cannot put its pods' packets
// in another domain, nor claim another node's addresses.
func tunnelBlock(r RemoteNode, b RemoteBlock, d Domain) Flow {
	return flow(TunnelVNI, TunnelBlock, nodeCookie(r)).Proto(of.ProtoIP).Match(
		of.TunSrc(of.Host(r.VTEP)), of.TunID(uint64(d.VNI)), of.IPv4Src(b.CIDR)).Do(RegDomain.Set(d.VNI), gotoTable(Conntrack))
}

// tunnelNodeAddr admits a tunnel packet a remote node sent from one of
// its own addresses (what it translated: a masqueraded NodePort, a probe)
// in any overlay domain, which TunnelDomain checks.
func tunnelNodeAddr(r RemoteNode, a netip.Addr) Flow {
	return flow(TunnelVNI, TunnelNodeAddr, nodeCookie(r)).Proto(of.ProtoIP).Match(of.TunSrc(of.Host(r.VTEP)), of.IPv4Src(of.Host(a))).Do(
		of.Move{Src: of.Bits(of.FieldTunID, 0, 23), Dst: RegDomainVNI.Subfield()}, gotoTable(TunnelDomain))
}

// tunnelVNIDefault drops tunnel packets whose VNI and inner source do not
// belong together, and anything but IPv4.
func tunnelVNIDefault() Flow {
	return drop(TunnelVNI, TunnelVNIDefault, ReasonUnknownVNI)
}

// tunnelDomain admits an overlay domain's VNI.
func tunnelDomain(d Domain) Flow {
	return base(TunnelDomain, TunnelDomainKnown).Match(RegDomain.Match(d.VNI)).Do(gotoTable(Conntrack))
}

// tunnelDomainDefault drops a VNI no overlay domain has.
func tunnelDomainDefault() Flow {
	return drop(TunnelDomain, TunnelDomainDrop, ReasonUnknownVNI)
}

// toNodeRemote sends a pod's packet for a remote node's address into the
// tunnel to that node, in the pod's domain: the remote node takes it in
// through the domain's host port, so its NodePorts and hostPorts keep the
// pod's domain too.
func toNodeRemote(r RemoteNode, a netip.Addr) Flow {
	return flow(ToNode, ToNodeRemote, nodeCookie(r)).Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(a))).Do(tunnelTo(r)...)
}

// tunnelTo is the actions that send a packet into the tunnel to r's VTEP
// with the source domain's VNI.
func tunnelTo(r RemoteNode) []of.Action {
	return []of.Action{
		of.Set(of.TunDst(of.Host(r.VTEP))),
		of.Move{Src: RegDomainVNI.Subfield(), Dst: of.Bits(of.FieldTunID, 0, 23)},
		RegOutPort.Set(TunnelOFPort),
		gotoTable(Output),
	}
}

// classifierUplink admits frames from the underlay uplink only with a VLAN
// domain's tag; the tag is removed and names the source domain.
func classifierUplink(d Domain) Flow {
	return base(Classifier, ClassifierPort).Match(of.InPort(UplinkOFPort), of.DLVLAN(d.VLAN)).Do(
		of.PopVLAN{}, RegDomain.Set(d.VNI), RegSource.Set(SourceUplink), gotoTable(Conntrack))
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
	return flow(Forward, ForwardRemote, nodeCookie(r)).Proto(of.ProtoIP).Match(of.IPv4Dst(b.CIDR)).Do(tunnelTo(r)...)
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
