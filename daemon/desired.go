package daemon

import (
	"hash/maphash"
	"net/netip"
	"sort"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// desired computes the node's desired pipeline from what caned knows: the
// cluster view, IPAM's blocks and the attachments. Pure reads; safe for
// concurrent use.
type desired struct {
	gatewayMAC string
	overlay    bool // multi-node: the VXLAN tunnel port exists
	uplink     bool // VLAN domains leave through a patch to the underlay bridge
	views      *clusterView
	ipam       *ipam.IPAM
	atts       *attachmentStore
	hostPorts  func() []flows.HostPort // the domains' host ports as OVS has them
}

// all is the node's whole desired pipeline.
func (s *desired) all() flows.Node {
	n := s.base()
	for _, a := range s.atts.list() {
		n.Pods = append(n.Pods, s.pod(a))
	}
	return n
}

// base is the node's pipeline without pods: the view's, with the lent
// blocks of every node — this node's from IPAM at once, not only once the
// cluster echoes its Block objects back.
func (s *desired) base() flows.Node {
	v := s.views.load()
	n := v.flowNode(s.gatewayMAC, s.overlay, s.uplink)
	n.HostPorts = s.hostPorts()
	seen := map[netip.Prefix]bool{}
	for _, lb := range v.Lent {
		seen[lb.CIDR] = true
	}
	n.LentBlocks = append(n.LentBlocks, v.Lent...)
	for _, b := range s.ipam.Blocks() {
		if b.Domain != "" && !seen[b.CIDR] {
			n.LentBlocks = append(n.LentBlocks, flows.LentBlock{CIDR: b.CIDR, Pool: b.Pool, Domain: b.Domain})
		}
	}
	sort.Slice(n.LentBlocks, func(i, j int) bool { return n.LentBlocks[i].CIDR.Addr().Less(n.LentBlocks[j].CIDR.Addr()) })
	return n
}

// pod is an attachment as the pipeline sees it.
func (s *desired) pod(a *attachment) flows.Pod {
	return flows.Pod{OFPort: uint32(a.ofport), MAC: a.mac, IP: a.alloc.IP, VNI: s.views.load().vni(a.alloc.Domain)}
}

// flowHash stands for a whole flow (match, cookie, actions) in the map of
// installed flows: on a 10,000-node cluster that map holds 20,000 flows,
// and a hash is 8 bytes where the flow is a few hundred (of.Flow.Hash:
// its canonical encoding). The map lives only in this process, so the
// process's seed will do.
func flowHash(f flows.Flow) uint64 { return f.Hash(hashSeed) }

var hashSeed = maphash.MakeSeed()

// hashed is flowHash of every flow but the pods', by key: what sync diffs
// the cluster's flows against (pod flows come and go with CNI).
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
