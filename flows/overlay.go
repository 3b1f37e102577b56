package flows

import (
	"fmt"
	"net/netip"
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
func NodeCookie(vtep netip.Addr) string {
	return NewCookie(0, KindNode, 0, addr32(vtep)).Match(ObjectMask)
}

func nodeCookie(r RemoteNode) Cookie { return NewCookie(0, KindNode, 0, addr32(r.VTEP)) }

func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// classifierTunnel admits tunnel packets whose outer source is a known
// node's VTEP; TunnelVNI then checks the VNI.
func classifierTunnel(r RemoteNode) Flow {
	return Flow{
		Table: Classifier, Priority: 200, Cookie: nodeCookie(r),
		Match:   fmt.Sprintf("tun_src=%s,in_port=%d", r.VTEP, TunnelOFPort),
		Actions: gotoTable(TunnelVNI),
	}
}

// classifierTunnelDefault drops tunnel packets from unknown VTEPs: an
// underlay host forging VXLAN gets nowhere.
func classifierTunnelDefault() Flow {
	return drop(Classifier, 100, ReasonUnknownVNI, fmt.Sprintf("in_port=%d", TunnelOFPort))
}

// tunnelVNI sets the source domain of a tunnel packet from its VNI, and
// skips the pod-only tables (the sender's node checked spoofing).
func tunnelVNI(d Domain) Flow {
	return Flow{
		Table: TunnelVNI, Priority: 200, Cookie: NewCookie(0, KindBase, 0, 0),
		Match:   fmt.Sprintf("tun_id=%#x", d.VNI),
		Actions: fmt.Sprintf("set_field:%#x->%s,%s", d.VNI, RegDomain, gotoTable(DomainPolicy)),
	}
}

// tunnelVNIDefault drops tunnel packets with a VNI no domain has.
func tunnelVNIDefault() Flow {
	return drop(TunnelVNI, 0, ReasonUnknownVNI, "")
}

// classifierUplink admits frames from the underlay uplink only with a VLAN
// domain's tag; the tag is removed and names the source domain.
func classifierUplink(d Domain) Flow {
	return Flow{
		Table: Classifier, Priority: 200, Cookie: NewCookie(0, KindBase, 0, 0),
		Match:   fmt.Sprintf("in_port=%d,dl_vlan=%d", UplinkOFPort, d.VLAN),
		Actions: fmt.Sprintf("pop_vlan,set_field:%#x->%s,%s", d.VNI, RegDomain, gotoTable(DomainPolicy)),
	}
}

// classifierUplinkDefault drops untagged or unknown-tag frames from the uplink.
func classifierUplinkDefault() Flow {
	return drop(Classifier, 100, ReasonUnknownVNI, fmt.Sprintf("in_port=%d", UplinkOFPort))
}

// arpResponderPool answers "who has <address>" for any address of a pool,
// from pods of the pool's domain, with the MAC Cane gives that address
// (0a:58 + IPv4): local and remote pods alike, with no per-pod flow.
// The gateway's own, higher-priority flow wins for the gateway address.
func arpResponderPool(vni uint32, p Pool) Flow {
	return Flow{
		Table: ARPResponder, Priority: 100, Cookie: NewCookie(0, KindBase, 0, 0),
		Match: fmt.Sprintf("arp,%s=%#x,arp_tpa=%s,arp_op=1", RegDomain, vni, p.CIDR),
		Actions: "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]" +
			",set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_src,move:NXM_OF_ARP_TPA[]->NXM_OF_ETH_SRC[0..31]" +
			",set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ETH_SRC[]->NXM_NX_ARP_SHA[]" +
			",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[]" +
			",IN_PORT",
	}
}

// forwardRemote sends traffic for a remote block into the tunnel to the
// block's node, with the source domain's VNI (the receiver checks it again).
func forwardRemote(r RemoteNode, b RemoteBlock) Flow {
	return Flow{
		Table: Forward, Priority: 100, Cookie: nodeCookie(r),
		Match: fmt.Sprintf("ip,nw_dst=%s", b.CIDR),
		Actions: fmt.Sprintf("set_field:%s->tun_dst,move:NXM_NX_REG0[0..23]->NXM_NX_TUN_ID[0..23],set_field:%#x->%s,%s",
			r.VTEP, TunnelOFPort, RegOutPort, gotoTable(Output)),
	}
}

// forwardRemoteVLAN sends traffic for a remote block of a VLAN domain out
// of the uplink, tagged, to the MAC Cane gives the destination address.
func forwardRemoteVLAN(r RemoteNode, b RemoteBlock, d Domain) Flow {
	return Flow{
		Table: Forward, Priority: 100, Cookie: nodeCookie(r),
		Match: fmt.Sprintf("ip,nw_dst=%s", b.CIDR),
		Actions: fmt.Sprintf("move:NXM_OF_IP_DST[]->NXM_OF_ETH_DST[0..31],set_field:0a:58:00:00:00:00/ff:ff:00:00:00:00->eth_dst,push_vlan:0x8100,set_field:%d->vlan_vid,set_field:%#x->%s,%s",
			0x1000|uint32(d.VLAN), UplinkOFPort, RegOutPort, gotoTable(Output)),
	}
}
