package flows

import "fmt"

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
	return drop(Classifier, 0, ReasonUnknownSource, "")
}

// spoofGuardTagged drops 802.1Q-tagged frames from pods: a pod must not be
// able to put itself on a VLAN.
func spoofGuardTagged() Flow {
	return drop(SpoofGuard, 300, ReasonSpoof, "vlan_tci=0x1000/0x1000")
}

// spoofGuardDefault drops what no pod's own MAC/IP pair allowed.
func spoofGuardDefault() Flow {
	return drop(SpoofGuard, 0, ReasonSpoof, "")
}

// arpResponderPassIP sends IP traffic on to the domain policy.
func arpResponderPassIP() Flow {
	return Flow{Table: ARPResponder, Priority: 10, Cookie: NewCookie(0, KindBase, 0, 0), Match: "ip", Actions: gotoTable(DomainPolicy)}
}

// arpResponderDefault drops ARP nobody answers: replies (we never ask),
// requests for other domains' or unknown addresses. Nothing is flooded.
func arpResponderDefault() Flow {
	return drop(ARPResponder, 0, ReasonNoRoute, "")
}

// arpResponderGateway answers "who has <gateway>" from pods of the pool's
// domain with the node's gateway MAC.
func arpResponderGateway(vni uint32, p Pool, n Node) Flow {
	return Flow{
		Table: ARPResponder, Priority: 200, Cookie: NewCookie(0, KindBase, 0, 0),
		Match:   fmt.Sprintf("arp,%s=%#x,arp_tpa=%s,arp_op=1", RegDomain, vni, p.Gateway),
		Actions: arpReply(n.GatewayMAC.String(), p.Gateway.String()),
	}
}

// arpReply turns the request into a reply from mac/ip and sends it back
// out of the port it came in on. Actions are written the way OVS prints
// them back (set_field), so desired and installed flows compare equal.
func arpReply(mac, ip string) string {
	return "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:" + mac + "->eth_src" +
		",set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]" +
		",move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:" + mac + "->arp_sha" +
		",set_field:" + ip + "->arp_spa,IN_PORT"
}

// domainPolicyAllow lets traffic from domain vni into pool p (its own
// domain's pool or a peered domain's).
func domainPolicyAllow(vni uint32, p Pool) Flow {
	return Flow{
		Table: DomainPolicy, Priority: 200, Cookie: NewCookie(0, KindBase, 0, 0),
		Match:   fmt.Sprintf("ip,%s=%#x,nw_dst=%s", RegDomain, vni, p.CIDR),
		Actions: gotoTable(Forward),
	}
}

// domainPolicyIsolation drops traffic into pool p from any domain that
// domainPolicyAllow did not let through.
func domainPolicyIsolation(p Pool) Flow {
	return drop(DomainPolicy, 100, ReasonIsolation, fmt.Sprintf("ip,nw_dst=%s", p.CIDR))
}

// domainPolicyDefault drops IP traffic to addresses outside every pool.
func domainPolicyDefault() Flow {
	return drop(DomainPolicy, 0, ReasonNoRoute, "")
}

// forwardDefault drops traffic to pool addresses no pod holds.
func forwardDefault() Flow {
	return drop(Forward, 0, ReasonNoRoute, "")
}

// outputToReg sends the packet to the port Forward put in reg1.
func outputToReg() Flow {
	return Flow{Table: Output, Priority: 0, Cookie: NewCookie(0, KindBase, 0, 0), Actions: "output:NXM_NX_REG1[]"}
}
