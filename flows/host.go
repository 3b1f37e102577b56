package flows

import (
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

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
	fs := []Flow{
		classifierHost(),
		spoofGuardHost(),
		domainPolicyToHost(n),
		domainPolicyNoTransit(HostOFPort),
		forwardHostOnly(),
	}
	if n.Overlay {
		fs = append(fs, domainPolicyNoTransit(TunnelOFPort))
	}
	if n.Uplink {
		fs = append(fs, domainPolicyNoTransit(UplinkOFPort))
	}
	vni := map[string]uint32{}
	for _, d := range n.Domains {
		vni[d.Name] = d.VNI
	}
	for _, p := range n.Pools {
		fs = append(fs,
			hostSource(vni[p.Domain], p.CIDR, ClassifierHostPool),
			arpResponderHost(p.CIDR, n, ARPPoolAnswer),
			domainPolicyAllow(HostDomain, Pool{CIDR: p.CIDR}))
	}
	return fs
}

// classifierHost marks the node's own packets as the host domain.
func classifierHost() Flow {
	return base(Classifier, ClassifierPort).Match(of.InPort(HostOFPort)).Do(RegDomain.Set(HostDomain), gotoTable(SpoofGuard))
}

// spoofGuardHost passes the node's packets: the node is trusted.
func spoofGuardHost() Flow {
	return base(SpoofGuard, SpoofGuardPort).Match(of.InPort(HostOFPort)).Do(gotoTable(ARPResponder))
}

// domainPolicyToHost sends pods' packets for addresses outside every pool
// to the node, from the gateway's MAC to the host port's.
func domainPolicyToHost(n Node) Flow {
	return base(DomainPolicy, PolicyToHost).Proto(of.ProtoIP).Do(
		of.Set(of.EthSrc(n.GatewayMAC)), of.Set(of.EthDst(n.HostMAC)), RegOutPort.Set(HostOFPort), gotoTable(Output))
}

// domainPolicyNoTransit drops packets from port (the tunnel, the uplink,
// the host) for addresses outside every pool: the node is no transit.
func domainPolicyNoTransit(port uint32) Flow {
	return drop(DomainPolicy, PolicyNoHostTransit, ReasonNoRoute).Proto(of.ProtoIP).Match(of.InPort(port))
}

// forwardHostOnly drops the host domain's packets to anything but a local
// pod (forwardPod outranks it): the tunnel carries domains only.
func forwardHostOnly() Flow {
	return drop(Forward, ForwardHostOnly, ReasonNoRoute).Proto(of.ProtoIP).Match(RegDomain.Match(HostDomain))
}

// arpResponderHost answers the node's "who has <address>" for any address
// of block with the gateway MAC: its routes to pools are on-link, and the
// pipeline routes by address from there.
func arpResponderHost(block netip.Prefix, n Node, prio Priority) Flow {
	as := []of.Action{
		move(of.FieldEthSrc, of.FieldEthDst),
		of.Set(of.EthSrc(n.GatewayMAC)),
		of.Set(of.ARPOp(2)),
		move(of.FieldARPSHA, of.FieldARPTHA),
		of.Set(of.ARPSHA(n.GatewayMAC)),
	}
	as = append(as, swapARPAddresses()...)
	return arpRequest(base(ARPResponder, prio), HostDomain, block).Do(append(as, of.Output{Port: of.PortInPort})...)
}

// hostSource classifies packets the node forwards from addresses of block
// as the domain vni.
func hostSource(vni uint32, block netip.Prefix, prio Priority) Flow {
	return base(Classifier, prio).Proto(of.ProtoIP).Match(of.InPort(HostOFPort), of.IPv4Src(block)).Do(RegDomain.Set(vni), gotoTable(SpoofGuard))
}

// hostLent lets the node resolve and reach the borrower's pods in a lent
// block (above its seal), and classifies what it forwards from them as
// the borrower's.
func hostLent(n Node, borrower Domain, block netip.Prefix) []Flow {
	return []Flow{
		hostSource(borrower.VNI, block, ClassifierHostLent),
		arpResponderHost(block, n, ARPLentAnswer),
		withPriority(domainPolicyAllow(HostDomain, Pool{CIDR: block}), PolicyLentAllow),
	}
}
