package daemon

import (
	"hash/maphash"
	"net/netip"
	"sort"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
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
func roundCookie(r uint16) of.Selector { return flows.NewCookie(r, 0, 0, 0).Select(flows.RoundMask) }

// flowHash stands for a whole flow (match, cookie, actions) in the map of
// installed flows: on a 10,000-node cluster that map holds 20,000 flows,
// and a hash is 8 bytes where the flow is a few hundred (of.Flow.Hash:
// its canonical encoding). The map lives only in this process, so the
// process's seed will do.
func flowHash(f flows.Flow) uint64 { return f.Hash(hashSeed) }

var hashSeed = maphash.MakeSeed()

// hashed is flowHash of every flow but the pods', by key: what syncFlows
// diffs the cluster's flows against (pod flows come and go with CNI).
func hashed(fs map[flows.Key]flows.Flow) map[flows.Key]uint64 {
	m := make(map[flows.Key]uint64, len(fs))
	for k, f := range fs {
		if flows.CookieOf(f).Kind() != flows.KindPod {
			m[k] = flowHash(f)
		}
	}
	return m
}

// keyed indexes flows by their OVS identity (table, priority, match).
func keyed(fs []flows.Flow) map[flows.Key]flows.Flow {
	m := make(map[flows.Key]flows.Flow, len(fs))
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
