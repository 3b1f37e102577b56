package flows

import "fmt"

// PodFlows returns every flow of one local pod. All carry the pod's cookie
// (kind pod, object = ofport), so they are removed together by PodCookie.
func PodFlows(p Pod) []Flow {
	return []Flow{
		classifierPod(p),
		spoofGuardIP(p),
		spoofGuardARP(p),
		forwardPod(p),
	}
}

// PodCookie selects all flows of the pod on ofport, any round.
func PodCookie(ofport uint32) string {
	return NewCookie(0, KindPod, 0, ofport).Match(ObjectMask)
}

func podCookie(p Pod) Cookie { return NewCookie(0, KindPod, 0, p.OFPort) }

// classifierPod marks packets from the pod's port with its domain.
func classifierPod(p Pod) Flow {
	return Flow{
		Table: Classifier, Priority: 200, Cookie: podCookie(p),
		Match:   fmt.Sprintf("in_port=%d", p.OFPort),
		Actions: fmt.Sprintf("set_field:%#x->%s,%s", p.VNI, RegDomain, gotoTable(SpoofGuard)),
	}
}

// spoofGuardIP passes IPv4 from the pod only with its own MAC and address.
func spoofGuardIP(p Pod) Flow {
	return Flow{
		Table: SpoofGuard, Priority: 200, Cookie: podCookie(p),
		Match:   fmt.Sprintf("ip,in_port=%d,dl_src=%s,nw_src=%s", p.OFPort, p.MAC, p.IP),
		Actions: gotoTable(ARPResponder),
	}
}

// spoofGuardARP passes ARP from the pod only if the frame and the ARP
// payload both carry its own MAC and address (no ARP poisoning).
func spoofGuardARP(p Pod) Flow {
	return Flow{
		Table: SpoofGuard, Priority: 200, Cookie: podCookie(p),
		Match:   fmt.Sprintf("arp,in_port=%d,dl_src=%s,arp_spa=%s,arp_sha=%s", p.OFPort, p.MAC, p.IP, p.MAC),
		Actions: gotoTable(ARPResponder),
	}
}

// forwardPod delivers traffic for the pod's address to its port, with its
// MAC as destination (so routed and switched traffic look the same to it).
func forwardPod(p Pod) Flow {
	return Flow{
		Table: Forward, Priority: 200, Cookie: podCookie(p),
		Match:   fmt.Sprintf("ip,nw_dst=%s", p.IP),
		Actions: fmt.Sprintf("set_field:%s->eth_dst,set_field:%#x->%s,%s", p.MAC, p.OFPort, RegOutPort, gotoTable(Output)),
	}
}
