package flows

import "fmt"

// The node's own network stack reaches pods through the host port, an
// internal port on the bridge (HostOFPort) with a route per pool via the
// pool (on-link: the pipeline answers the node's ARP): kubelet probes, hostPort DNAT (portmap) and anything the
// node itself opens. The rules keep domains apart through the node too:
//   - A packet from the host whose source is a pool address was forwarded
//     by the node for a pod (a hostPort or Service DNAT of a pod's
//     connection): it is classified as that pool's domain, so a
//     production pod cannot reach a test pod by way of the node.
//   - Any other packet from the host (the node's own address, an outside
//     client of a hostPort) is the host domain, which may reach every
//     pool's local pods — not remote ones: the tunnel carries domains only.
//   - Pods (not tunnel, uplink or host packets) send what is addressed
//     outside every pool to the host port; the node routes it on.

// HostDomain is the value of RegDomain for packets the node itself sends:
// above every 24-bit VNI, so it never matches a domain's.
const HostDomain uint32 = 1 << 24

// hostBase is the part of Base that exists only with a host port.
func hostBase(n Node) []Flow {
	base := NewCookie(0, KindBase, 0, 0)
	fs := []Flow{
		{Table: Classifier, Priority: 200, Cookie: base, Match: fmt.Sprintf("in_port=%d", HostOFPort),
			Actions: fmt.Sprintf("set_field:%#x->%s,%s", HostDomain, RegDomain, gotoTable(SpoofGuard))},
		{Table: SpoofGuard, Priority: 200, Cookie: base, Match: fmt.Sprintf("in_port=%d", HostOFPort), Actions: gotoTable(ARPResponder)},
		{Table: DomainPolicy, Priority: 10, Cookie: base, Match: "ip",
			Actions: fmt.Sprintf("set_field:%s->eth_src,set_field:%s->eth_dst,set_field:%#x->%s,%s", n.GatewayMAC, n.HostMAC, HostOFPort, RegOutPort, gotoTable(Output))},
		drop(DomainPolicy, 20, ReasonNoRoute, fmt.Sprintf("ip,in_port=%d", HostOFPort)),
		// The node reaches its own pods only (forwardPod outranks this).
		drop(Forward, 150, ReasonNoRoute, fmt.Sprintf("ip,%s=%#x", RegDomain, HostDomain)),
	}
	if n.Overlay {
		fs = append(fs, drop(DomainPolicy, 20, ReasonNoRoute, fmt.Sprintf("ip,in_port=%d", TunnelOFPort)))
	}
	if n.Uplink {
		fs = append(fs, drop(DomainPolicy, 20, ReasonNoRoute, fmt.Sprintf("ip,in_port=%d", UplinkOFPort)))
	}
	vni := map[string]uint32{}
	for _, d := range n.Domains {
		vni[d.Name] = d.VNI
	}
	for _, p := range n.Pools {
		fs = append(fs,
			hostSource(vni[p.Domain], Pool{CIDR: p.CIDR}, 210),
			arpResponderHost(p, n),
			domainPolicyAllow(HostDomain, p))
	}
	return fs
}

// arpResponderHost answers the node's "who has <address>" for any address
// of pool p with the gateway MAC: its routes to pools are on-link, and the
// pipeline routes by address from there.
func arpResponderHost(p Pool, n Node) Flow {
	return Flow{
		Table: ARPResponder, Priority: 100, Cookie: NewCookie(0, KindBase, 0, 0),
		Match: fmt.Sprintf("arp,%s=%#x,arp_tpa=%s,arp_op=1", RegDomain, HostDomain, p.CIDR),
		Actions: "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:" + n.GatewayMAC.String() + "->eth_src" +
			",set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:" + n.GatewayMAC.String() + "->arp_sha" +
			",move:NXM_OF_ARP_TPA[]->NXM_NX_REG2[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_NX_REG2[]->NXM_OF_ARP_SPA[]" +
			",IN_PORT",
	}
}

// hostSource classifies packets the node forwards from addresses of p as
// p's domain (vni).
func hostSource(vni uint32, p Pool, prio uint16) Flow {
	return Flow{
		Table: Classifier, Priority: prio, Cookie: NewCookie(0, KindBase, 0, 0),
		Match:   fmt.Sprintf("ip,in_port=%d,nw_src=%s", HostOFPort, p.CIDR),
		Actions: fmt.Sprintf("set_field:%#x->%s,%s", vni, RegDomain, gotoTable(SpoofGuard)),
	}
}

// hostLent lets the node resolve and reach the borrower's pods in a lent
// block (above its seal), and
// classifies what it forwards from them as the borrower's.
func hostLent(n Node, borrower Domain, block Pool) []Flow {
	return []Flow{
		hostSource(borrower.VNI, block, 220),
		withPriority(arpResponderHost(block, n), 150),
		withPriority(domainPolicyAllow(HostDomain, block), 250),
	}
}
