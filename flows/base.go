package flows

import (
	"net"
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

// Base returns the pipeline skeleton for a node: default drops with their
// reasons, the gateway ARP answers, and the domain policy between pools.
// Pod flows come from PodFlows.
func Base(n Node) []Flow {
	fs := []Flow{
		classifierDefault(),
		spoofGuardTagged(),
		spoofGuardDefault(),
		arpResponderPassIP(),
		arpResponderDefault(),
		policyToLoopback(),
		policyToOverlayPort(),
		policyPodOut(),
		domainPolicyDefault(),
		toNodeDefault(),
		forwardDefault(),
		toHostDefault(),
		outputToReg(),
	}
	fs = append(fs, conntrackFlows()...)
	vni := map[string]uint32{}
	for _, d := range n.Domains {
		vni[d.Name] = d.VNI
	}
	for _, p := range n.Pools {
		fs = append(fs, arpResponderGateway(vni[p.Domain], p, n), arpResponderPool(vni[p.Domain], p), domainPolicyIsolation(p))
	}
	if n.Overlay {
		fs = append(fs, overlayBase(n)...)
	}
	if n.Uplink {
		fs = append(fs, uplinkBase(n)...)
	}
	for _, hp := range n.HostPorts {
		fs = append(fs, hostPortFlows(n, hp)...)
	}
	for _, a := range n.NodeAddrs {
		fs = append(fs, policyOwnNode(a))
	}
	for _, d := range n.Domains {
		if d.VLAN != 0 {
			fs = append(fs, toNodeVLAN(d))
		}
	}
	for _, d := range n.Domains {
		for _, p := range n.Pools {
			if p.Domain == d.Name || peered(n.Domains, d.Name, p.Domain) {
				fs = append(fs, domainPolicyAllow(d.VNI, p))
			}
		}
	}
	return fs
}

// peered reports whether domain a may reach domain b: either lists the other.
func peered(ds []Domain, a, b string) bool {
	for _, d := range ds {
		for _, peer := range d.Peers {
			if (d.Name == a && peer == b) || (d.Name == b && peer == a) {
				return true
			}
		}
	}
	return false
}

// classifierDefault drops anything from a port that is not a known source
// (the bridge's own port, a stray port).
func classifierDefault() Flow {
	return drop(Classifier, ClassifierDefault, ReasonUnknownSource)
}

// spoofGuardTagged drops 802.1Q-tagged frames from pods: a pod must not be
// able to put itself on a VLAN.
func spoofGuardTagged() Flow {
	return drop(SpoofGuard, SpoofGuardTagged, ReasonSpoof).Match(of.VLANTCI(0x1000, 0x1000))
}

// spoofGuardDefault drops what no pod's own MAC/IP pair allowed.
func spoofGuardDefault() Flow {
	return drop(SpoofGuard, SpoofGuardDefault, ReasonSpoof)
}

// arpResponderPassIP sends IP traffic on to conntrack.
func arpResponderPassIP() Flow {
	return base(ARPResponder, ARPPassIP).Proto(of.ProtoIP).Do(gotoTable(Conntrack))
}

// arpResponderDefault drops ARP nobody answers: replies (we never ask),
// requests for other domains' or unknown addresses. Nothing is flooded.
func arpResponderDefault() Flow {
	return drop(ARPResponder, ARPDefault, ReasonNoRoute)
}

// arpRequest is an ARP request from domain vni for an address in p.
func arpRequest(f Flow, vni uint32, p netip.Prefix) Flow {
	return f.Proto(of.ProtoARP).Match(RegDomain.Match(vni), of.ARPTPA(p), of.ARPOp(1))
}

// arpResponderGateway answers "who has <gateway>" from pods of the pool's
// domain with the node's gateway MAC.
func arpResponderGateway(vni uint32, p Pool, n Node) Flow {
	return arpRequest(base(ARPResponder, ARPGateway), vni, of.Host(p.Gateway)).Do(arpReply(n.GatewayMAC, p.Gateway)...)
}

// arpReply turns the request into a reply from mac/ip and sends it back
// out of the port it came in on.
func arpReply(mac net.HardwareAddr, ip netip.Addr) []of.Action {
	return []of.Action{
		move(of.FieldEthSrc, of.FieldEthDst),
		of.Set(of.EthSrc(mac)),
		of.Set(of.ARPOp(2)),
		move(of.FieldARPSHA, of.FieldARPTHA),
		move(of.FieldARPSPA, of.FieldARPTPA),
		of.Set(of.ARPSHA(mac)),
		of.Set(of.ARPSPA(of.Host(ip))),
		of.Output{Port: of.PortInPort},
	}
}

// move copies the whole of field src into dst.
func move(src, dst of.FieldID) of.Action { return of.Move{Src: of.Whole(src), Dst: of.Whole(dst)} }

// swapARPAddresses swaps the ARP source and target addresses through
// RegScratch (the asked address becomes the answer's source).
func swapARPAddresses() []of.Action {
	return []of.Action{
		of.Move{Src: of.Whole(of.FieldARPTPA), Dst: RegScratch.Subfield()},
		move(of.FieldARPSPA, of.FieldARPTPA),
		of.Move{Src: RegScratch.Subfield(), Dst: of.Whole(of.FieldARPSPA)},
	}
}

// domainPolicyAllow lets traffic from domain vni into pool p (its own
// domain's pool or a peered domain's).
func domainPolicyAllow(vni uint32, p Pool) Flow {
	return base(DomainPolicy, PolicyAllow).Proto(of.ProtoIP).Match(RegDomain.Match(vni), of.IPv4Dst(p.CIDR)).Do(gotoTable(Forward))
}

// domainPolicyIsolation drops traffic into pool p from any domain that
// domainPolicyAllow did not let through.
func domainPolicyIsolation(p Pool) Flow {
	return drop(DomainPolicy, PolicyIsolation, ReasonIsolation).Proto(of.ProtoIP).Match(of.IPv4Dst(p.CIDR))
}

// policyToLoopback drops a pod's packets for 127.0.0.0/8: the node's
// loopback is never a pod's to reach (portmap's route_localnet must not
// open it).
func policyToLoopback() Flow {
	return drop(DomainPolicy, PolicyNodeProtect, ReasonNodeProtect).Proto(of.ProtoIP).Match(
		sourceIs(SourcePod), of.IPv4Dst(netip.MustParsePrefix("127.0.0.0/8")))
}

// policyToOverlayPort drops a pod's UDP to the overlay's port outside the
// pools: a pod must not speak VXLAN to any node's tunnel endpoint.
func policyToOverlayPort() Flow {
	return drop(DomainPolicy, PolicyNodeProtect, ReasonNodeProtect).Proto(of.ProtoUDP).Match(sourceIs(SourcePod), of.UDPDst(VXLANPort))
}

// VXLANPort is the overlay's UDP port.
const VXLANPort = 4789

// policyPodOut sends a pod's packet for an address outside every pool on
// to ToNode: another node's through the tunnel, anything else to the node.
func policyPodOut() Flow {
	return base(DomainPolicy, PolicyPodOut).Proto(of.ProtoIP).Match(sourceIs(SourcePod)).Do(gotoTable(ToNode))
}

// domainPolicyDefault drops what the tunnel, the uplink or a host port
// brings for addresses outside every pool (the node is no transit), and
// anything else no flow allowed.
func domainPolicyDefault() Flow {
	return drop(DomainPolicy, PolicyDefault, ReasonNoRoute)
}

// toNodeVLAN sends a VLAN domain's packets outside the pools to the node,
// which routes them natively: a VLAN domain never uses the tunnel.
func toNodeVLAN(d Domain) Flow {
	return base(ToNode, ToNodeVLAN).Match(RegDomain.Match(d.VNI)).Do(gotoTable(ToHost))
}

// toNodeDefault sends what is not another node's to the node.
func toNodeDefault() Flow { return base(ToNode, ToNodeDefault).Do(gotoTable(ToHost)) }

// forwardDefault drops traffic to pool addresses no pod holds.
func forwardDefault() Flow {
	return drop(Forward, ForwardDefault, ReasonNoRoute)
}

// outputToReg sends the packet to the port Forward put in RegOutPort.
func outputToReg() Flow {
	return base(Output, OutputDefault).Do(of.OutputReg{Src: RegOutPort.Subfield()})
}
