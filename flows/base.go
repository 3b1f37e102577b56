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
		domainPolicyDefault(),
		forwardDefault(),
		outputToReg(),
	}
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
	if n.Host {
		fs = append(fs, hostBase(n)...)
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

// arpResponderPassIP sends IP traffic on to the domain policy.
func arpResponderPassIP() Flow {
	return base(ARPResponder, ARPPassIP).Proto(of.ProtoIP).Do(gotoTable(DomainPolicy))
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

// domainPolicyDefault drops IP traffic to addresses outside every pool.
func domainPolicyDefault() Flow {
	return drop(DomainPolicy, PolicyDefault, ReasonNoRoute)
}

// forwardDefault drops traffic to pool addresses no pod holds.
func forwardDefault() Flow {
	return drop(Forward, ForwardDefault, ReasonNoRoute)
}

// outputToReg sends the packet to the port Forward put in RegOutPort.
func outputToReg() Flow {
	return base(Output, OutputDefault).Do(of.OutputReg{Src: RegOutPort.Subfield()})
}
