package flows

import (
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

// The node's own network stack meets pods through one host port per
// domain (an internal port of the bridge; nodenet keeps the domain on the
// node's side of it):
//   - What comes in through a domain's host port is that domain's —
//     whatever its addresses, which the node may have translated (a
//     Service's or hostPort's DNAT, a masquerade). So a packet the node
//     DNATs from a test pod to a production pod is still the test domain's
//     here and drops as isolation; the kernel refused it already.
//   - A domain's pods reach the node (its addresses, ClusterIPs, anything
//     outside the pools) through their domain's host port, as does what the
//     tunnel or the uplink brings for this node's own addresses.
//   - The node's ARP for a pool address on a host port is answered: its
//     own domain's pools (the pod's MAC) and its peers' (the gateway's).
//   - Replies of connections that came in through a host port go back to
//     it (conntrack.go), so they meet the node's conntrack entry and are
//     translated back.

// hostPortFlows are the flows of one domain's host port.
func hostPortFlows(n Node, hp HostPort) []Flow {
	d, ok := n.domainNamed(hp.Domain)
	if !ok {
		return nil
	}
	fs := []Flow{
		classifierHostPort(d, hp),
		spoofGuardHostPort(hp),
		spoofGuardRedirect(hp),
		toHost(n, d, hp),
		outputCommitHost(hp),
		forwardSteer(n, hp),
	}
	for _, src := range n.Domains {
		if src.Name == d.Name || peered(n.Domains, src.Name, d.Name) {
			fs = append(fs, ctReplyToHost(hp, src))
		}
	}
	for _, p := range n.Pools {
		fs = append(fs, spoofGuardHostARP(hp, p.CIDR))
		if p.Domain != d.Name && peered(n.Domains, d.Name, p.Domain) {
			fs = append(fs, arpResponderHostPort(hp, d, p.CIDR, n))
		}
	}
	return fs
}

// classifierHostPort marks what comes in through a domain's host port as
// that domain's, from the node.
func classifierHostPort(d Domain, hp HostPort) Flow {
	return base(Classifier, ClassifierPort).Match(of.InPort(hp.OFPort)).Do(
		RegDomain.Set(d.VNI), RegSource.Set(SourceHost), gotoTable(SpoofGuard))
}

// spoofGuardHostPort passes the node's packets: the node is trusted, and
// nodenet drops pool sources that reach it from anywhere but a host port.
func spoofGuardHostPort(hp HostPort) Flow {
	return base(SpoofGuard, SpoofGuardPort).Match(of.InPort(hp.OFPort)).Do(gotoTable(ARPResponder))
}

// spoofGuardRedirect drops ICMP redirects the node would send a pod about
// a packet it DNATed back out of the port it came in on.
func spoofGuardRedirect(hp HostPort) Flow {
	return drop(SpoofGuard, SpoofGuardHostDrop, ReasonNodeProtect).Proto(of.ProtoICMP).Match(of.InPort(hp.OFPort), of.ICMPType(5))
}

// spoofGuardHostARP drops the node's ARP from a pool's address: a host
// port has none (the kernel asks from the node's own), so such a request
// would make the pipeline's answer speak to a pod's address.
func spoofGuardHostARP(hp HostPort, pool netip.Prefix) Flow {
	return drop(SpoofGuard, SpoofGuardHostDrop, ReasonSpoof).Proto(of.ProtoARP).Match(of.InPort(hp.OFPort), of.ARPSPA(pool))
}

// toHost sends the domain's packets for the node to its host port, from
// the gateway's MAC to the port's.
func toHost(n Node, d Domain, hp HostPort) Flow {
	return base(ToHost, ToHostDomain).Match(RegDomain.Match(d.VNI)).Do(
		of.Set(of.EthSrc(n.GatewayMAC)), of.Set(of.EthDst(hp.MAC)), RegOutPort.Set(hp.OFPort), gotoTable(Output))
}

// toHostDefault drops what has no host port for its domain.
func toHostDefault() Flow { return drop(ToHost, ToHostDefault, ReasonNoRoute) }

// arpResponderHostPort answers the node's "who has <address>" on a host
// port for an address of a peer's pool with the gateway's MAC (Forward
// sets the pod's own).
func arpResponderHostPort(hp HostPort, d Domain, block netip.Prefix, n Node) Flow {
	as := []of.Action{
		move(of.FieldEthSrc, of.FieldEthDst),
		of.Set(of.EthSrc(n.GatewayMAC)),
		of.Set(of.ARPOp(2)),
		move(of.FieldARPSHA, of.FieldARPTHA),
		of.Set(of.ARPSHA(n.GatewayMAC)),
	}
	as = append(as, swapARPAddresses()...)
	return base(ARPResponder, ARPPoolAnswer).Proto(of.ProtoARP).Match(of.InPort(hp.OFPort), RegDomain.Match(d.VNI), of.ARPTPA(block), of.ARPOp(1)).
		Do(append(as, of.Output{Port: of.PortInPort})...)
}

// policyOwnNode sends a pod's, the tunnel's or the uplink's packet for
// one of this node's own addresses to the host port of its domain (not a
// host port's own: the node never sends itself packets through a port).
func policyOwnNode(a netip.Addr) Flow {
	return base(DomainPolicy, PolicyOwnNode).Proto(of.ProtoIP).Match(sourceNot(SourceHost), of.IPv4Dst(of.Host(a))).Do(gotoTable(ToHost))
}
