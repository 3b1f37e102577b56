package flows

import "github.com/cane-cni/cane/flows/of"

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
func PodCookie(ofport uint32) of.Selector {
	return NewCookie(0, KindPod, 0, ofport).Select(ObjectMask)
}

func podCookie(p Pod) Cookie { return NewCookie(0, KindPod, 0, p.OFPort) }

// classifierPod marks packets from the pod's port with its domain.
func classifierPod(p Pod) Flow {
	return flow(Classifier, ClassifierPort, podCookie(p)).Match(of.InPort(p.OFPort)).Do(RegDomain.Set(p.VNI), RegSource.Set(SourcePod), gotoTable(SpoofGuard))
}

// spoofGuardIP passes IPv4 from the pod only with its own MAC and address.
func spoofGuardIP(p Pod) Flow {
	return flow(SpoofGuard, SpoofGuardPort, podCookie(p)).Proto(of.ProtoIP).Match(
		of.InPort(p.OFPort), of.EthSrc(p.MAC), of.IPv4Src(of.Host(p.IP))).Do(gotoTable(ARPResponder))
}

// spoofGuardARP passes ARP from the pod only if the frame and the ARP
// payload both carry its own MAC and address (no ARP poisoning).
func spoofGuardARP(p Pod) Flow {
	return flow(SpoofGuard, SpoofGuardPort, podCookie(p)).Proto(of.ProtoARP).Match(
		of.InPort(p.OFPort), of.EthSrc(p.MAC), of.ARPSPA(of.Host(p.IP)), of.ARPSHA(p.MAC)).Do(gotoTable(ARPResponder))
}

// forwardPod delivers traffic for the pod's address to its port, with its
// MAC as destination (so routed and switched traffic look the same to it).
func forwardPod(p Pod) Flow {
	return flow(Forward, ForwardPod, podCookie(p)).Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(p.IP))).Do(
		of.Set(of.EthDst(p.MAC)), RegOutPort.Set(p.OFPort), gotoTable(Output))
}
