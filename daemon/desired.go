package daemon

import "github.com/cane-cni/cane/flows"

// desiredLocked is the node's whole desired pipeline. Call with d.mu held.
func (d *Daemon) desiredLocked() flows.Node {
	n := d.cfg.flowNode()
	for _, a := range d.attachments {
		n.Pods = append(n.Pods, d.flowPod(a))
	}
	return n
}

// flowPod is an attachment as the pipeline sees it.
func (d *Daemon) flowPod(a *attachment) flows.Pod {
	return flows.Pod{OFPort: uint32(a.ofport), MAC: a.mac, IP: a.alloc.IP, VNI: d.cfg.domainVNI(a.alloc.Domain)}
}

func withRound(n flows.Node, round uint16) []flows.Flow { return flows.WithRound(n.All(), round) }

// roundCookie selects every flow of one round.
func roundCookie(r uint16) string { return flows.NewCookie(r, 0, 0, 0).Match(flows.RoundMask) }
