package daemon

import (
	"log/slog"
	"net/netip"
	"sort"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/ipam"
)

// inspector answers the on-call questions (canectl): status, pods,
// pools, blocks, flows, trace and xray. Read-only: it changes nothing on
// the node, and takes no lock but the leaf locks of what it reads.
type inspector struct {
	cfg     *Config
	hostNS  ns.NetNS
	log     *slog.Logger
	sess    *session
	pipe    *pipeline
	atts    *attachmentStore
	ipam    *ipam.IPAM
	views   *clusterView
	want    *desired
	bridge  *nodeBridge
	mon     *monitorLoop
	cni     *attacher
	watcher *kube.Watcher // nil in static mode
}

// Status reports readiness and what the node holds.
func (i *inspector) Status() api.Status {
	s := api.Status{Ready: i.sess.isReady(), Reason: i.sess.reason(), Node: i.cfg.Node, Bridge: i.cfg.Bridge,
		Datapath: i.sess.dp(), Round: i.pipe.currentRound(), Resyncs: i.sess.resyncs.Load(), Pods: i.atts.count()}
	if _, err := i.sess.current(); err != nil && s.Ready {
		s.Ready, s.Reason = false, err.Error()
	}
	return s
}

// Pods lists the node's attachments, by address.
func (i *inspector) Pods() []api.Pod {
	atts := i.atts.list()
	out := make([]api.Pod, 0, len(atts))
	for _, a := range atts {
		out = append(out, apiPod(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

// apiPod is an attachment as the API shows it.
func apiPod(a *attachment) api.Pod {
	return api.Pod{
		ContainerID: a.alloc.ContainerID, IfName: a.alloc.IfName, PodNamespace: a.alloc.PodNamespace, PodName: a.alloc.PodName,
		Pool: a.alloc.Pool, Domain: a.alloc.Domain, IP: a.alloc.IP, MAC: a.mac.String(), Port: a.port, OFPort: a.ofport, Netns: a.netns,
	}
}

// Pools lists the configured pools with this node's use of them.
func (i *inspector) Pools() []api.Pool {
	used := map[string]int{}
	for _, a := range i.ipam.List() {
		used[a.Pool]++
	}
	blocks := map[string][]netip.Prefix{}
	for _, b := range i.ipam.Blocks() {
		blocks[b.Pool] = append(blocks[b.Pool], b.CIDR)
	}
	var out []api.Pool
	for _, p := range i.views.load().Pools {
		out = append(out, api.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, Blocks: blocks[p.Name], Allocated: used[p.Name]})
	}
	return out
}

// Blocks lists the address blocks this node holds, with their use.
func (i *inspector) Blocks() []api.Block {
	used := map[netip.Prefix]int{}
	for _, a := range i.ipam.List() {
		used[a.Block]++
	}
	var out []api.Block
	for _, b := range i.ipam.Blocks() {
		p, _ := i.ipam.Pool(b.Pool) // a block of a vanished pool still shows, its domain unknown
		out = append(out, api.Block{Pool: b.Pool, Domain: p.Domain, CIDR: b.CIDR, Used: used[b.CIDR], Size: 1 << (32 - b.CIDR.Bits()), LentTo: b.Domain, Loan: b.Loan})
	}
	return out
}
