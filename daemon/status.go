package daemon

import (
	"net/netip"
	"sort"

	"github.com/cane-cni/cane/api"
)

// Status reports readiness and what the node holds.
func (d *Daemon) Status() api.Status {
	dp, _ := d.datapath.Load().(string)
	s := api.Status{Ready: d.ready.Load(), Node: d.cfg.Node, Bridge: d.cfg.Bridge, Datapath: dp, Round: uint16(d.round.Load()), Resyncs: d.resyncs.Load()}
	if _, err := d.ovsdb(); err != nil && s.Ready {
		s.Ready, s.Reason = false, err.Error()
	}
	if !d.ready.Load() {
		s.Reason, _ = d.notReady.Load().(string)
	}
	d.mu.Lock()
	s.Pods = len(d.attachments)
	d.mu.Unlock()
	return s
}

// Pods lists the node's attachments, by address.
func (d *Daemon) Pods() []api.Pod {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.Pod, 0, len(d.attachments))
	for _, a := range d.attachments {
		out = append(out, d.apiPod(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

// Pools lists the configured pools with this node's use of them.
func (d *Daemon) Pools() []api.Pool {
	used := map[string]int{}
	for _, a := range d.ipam.List() {
		used[a.Pool]++
	}
	blocks := map[string][]netip.Prefix{}
	for _, b := range d.ipam.Blocks() {
		blocks[b.Pool] = append(blocks[b.Pool], b.CIDR)
	}
	var out []api.Pool
	for _, p := range d.view.Load().Pools {
		out = append(out, api.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, Blocks: blocks[p.Name], Allocated: used[p.Name]})
	}
	return out
}
