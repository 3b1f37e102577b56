package daemon

import (
	"net/netip"
	"sort"

	"github.com/cane-cni/cane/flows"
)

// desiredLocked is the node's whole desired pipeline. Call with d.mu held.
func (d *Daemon) desiredLocked() flows.Node {
	n := d.flowNode()
	for _, a := range d.attachments {
		n.Pods = append(n.Pods, d.flowPod(a))
	}
	return n
}

// overlay: multi-node, with the VXLAN tunnel port.
func (d *Daemon) overlay() bool { return d.watcher != nil }

// uplink: VLAN domains leave through a patch to the underlay bridge.
func (d *Daemon) uplink() bool { return d.cfg.UplinkBridge != "" }

// flowPod is an attachment as the pipeline sees it.
func (d *Daemon) flowPod(a *attachment) flows.Pod {
	return flows.Pod{OFPort: uint32(a.ofport), MAC: a.mac, IP: a.alloc.IP, VNI: d.view.Load().vni(a.alloc.Domain)}
}

// roundCookie selects every flow of one round.
func roundCookie(r uint16) string { return flows.NewCookie(r, 0, 0, 0).Match(flows.RoundMask) }

// keyed indexes flows by their OVS identity (table, priority, match).
func keyed(fs []flows.Flow) map[string]flows.Flow {
	m := make(map[string]flows.Flow, len(fs))
	for _, f := range fs {
		m[f.Key()] = f
	}
	return m
}

// flowNode is the node's pipeline without pods: the view's, with the lent
// blocks of every node — this node's from IPAM at once, not only once the
// cluster echoes its Block objects back.
func (d *Daemon) flowNode() flows.Node {
	v := d.view.Load()
	n := v.flowNode(d.cfg.GatewayMAC, d.overlay(), d.uplink())
	seen := map[netip.Prefix]bool{}
	for _, lb := range v.Lent {
		seen[lb.CIDR] = true
	}
	n.LentBlocks = append(n.LentBlocks, v.Lent...)
	for _, b := range d.ipam.Blocks() {
		if b.Domain != "" && !seen[b.CIDR] {
			n.LentBlocks = append(n.LentBlocks, flows.LentBlock{CIDR: b.CIDR, Pool: b.Pool, Domain: b.Domain})
		}
	}
	sort.Slice(n.LentBlocks, func(i, j int) bool { return n.LentBlocks[i].CIDR.Addr().Less(n.LentBlocks[j].CIDR.Addr()) })
	return n
}
