package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// clusterView holds the view this node acts on: fixed in static mode,
// rebuilt from the watcher's caches on every change in Kubernetes mode.
// Readers load it without locks; refresh replaces it whole.
type clusterView struct {
	v       atomic.Pointer[view]
	watcher *kube.Watcher // nil in static (single-node) mode
	node    string
	log     *slog.Logger
}

func newClusterView(cfg Config, w *kube.Watcher, log *slog.Logger) *clusterView {
	c := &clusterView{watcher: w, node: cfg.Node, log: log}
	if w == nil {
		c.v.Store(staticView(cfg))
	} else {
		c.v.Store(&view{Usable: map[string]bool{}})
	}
	return c
}

func (c *clusterView) load() *view { return c.v.Load() }

// refresh rebuilds the view from the watcher's caches and hands the pools
// to pools (IPAM), logging every object it leaves out.
func (c *clusterView) refresh(pools func([]ipam.Pool) error) {
	v, warnings := kubeView(c.watcher.View(), c.node)
	for _, w := range warnings {
		c.log.Warn("cluster object ignored", "why", w)
	}
	if err := pools(v.ipamPools()); err != nil {
		c.log.Error("pools not applied", "err", err)
	}
	c.v.Store(v)
}

// view is the cluster state this node acts on. Static mode: from the
// config file, once. Kubernetes mode: rebuilt on every watched change.
type view struct {
	Domains []DomainConf
	Pools   []PoolConf      // every pool: flows need them all
	Usable  map[string]bool // pools this node may allocate from (node selector)
	Remotes []flows.RemoteNode
	VTEP    netip.Addr   // this node's underlay address, if known
	Addrs   []netip.Addr // this node's own addresses
	Nodes   []netip.Addr // every node's addresses (this one's too)
	Labels  map[string]string
	MaxPods int
	Loans   []ipam.Loan
	Lent    []flows.LentBlock // every node's lent blocks
}

// staticView is the view of a config file.
func staticView(cfg Config) *view {
	v := &view{Domains: cfg.Domains, Pools: cfg.Pools, Usable: map[string]bool{}}
	for _, p := range cfg.Pools {
		v.Usable[p.Name] = true
	}
	return v
}

// kubeView turns a cluster snapshot into a view for node self. Objects
// that contradict others (a second domain with a VNI in use, a pool of an
// unknown domain, overlapping pools) are left out and reported; kv lists
// the oldest first, so the object already in use is the one kept.
func kubeView(kv kube.View, self string) (*view, []string) {
	warn := append([]string(nil), kv.Errors...)
	v := &view{Usable: map[string]bool{}}
	names, vnis := map[string]bool{}, map[uint32]string{}
	for _, d := range kv.Domains {
		if other, ok := vnis[d.VNI]; ok || d.VNI == 0 {
			warn = append(warn, fmt.Sprintf("domain %s: vni %d already used by %q", d.Name, d.VNI, other))
			continue
		}
		if err := validEgress(d.Egress); err != nil {
			warn = append(warn, fmt.Sprintf("domain %s: %v", d.Name, err))
			continue
		}
		names[d.Name], vnis[d.VNI] = true, d.Name
		v.Domains = append(v.Domains, DomainConf{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers, Egress: d.Egress})
	}
	var selfLabels map[string]string
	for _, n := range kv.Nodes {
		if n.Name == self {
			selfLabels, v.VTEP, v.MaxPods, v.Addrs = n.Labels, n.VTEP, n.MaxPods, n.Addrs
		}
	}
	v.Labels = selfLabels
	for _, l := range kv.Loans {
		il := ipamLoan(l)
		err := il.Validate()
		if err == nil && !names[l.Borrower] {
			err = fmt.Errorf("unknown borrower domain %q", l.Borrower)
		}
		if err != nil {
			warn = append(warn, fmt.Sprintf("loan %s: %v", l.Name, err))
			continue
		}
		v.Loans = append(v.Loans, il)
	}
	var accepted []ipam.Pool
	for _, p := range kv.Pools {
		ip := ipam.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockBits: p.BlockSize}
		if err := ipam.ValidatePools(append(accepted, ip)); err != nil || !names[p.Domain] {
			if err == nil {
				err = fmt.Errorf("unknown domain %q", p.Domain)
			}
			warn = append(warn, fmt.Sprintf("pool %s: %v", p.Name, err))
			continue
		}
		accepted = append(accepted, ip)
		v.Pools = append(v.Pools, PoolConf{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockSize: p.BlockSize})
		v.Usable[p.Name] = selects(p.NodeSelector, selfLabels)
	}
	blocks := map[string][]flows.RemoteBlock{}
	for _, b := range kv.Blocks {
		if b.Domain != "" {
			v.Lent = append(v.Lent, flows.LentBlock{CIDR: b.CIDR, Pool: b.Pool, Domain: b.Domain})
		}
		blocks[b.Node] = append(blocks[b.Node], flows.RemoteBlock{CIDR: b.CIDR, Pool: b.Pool})
	}
	for _, n := range kv.Nodes {
		if n.Name == self {
			continue
		}
		if p, ok := inPool(accepted, n.VTEP); ok {
			// A pod address (borrowed or not) is never a tunnel endpoint:
			// a pod could otherwise forge that node's tunnel traffic.
			warn = append(warn, fmt.Sprintf("node %s: tunnel endpoint %s is inside pool %s; node ignored", n.Name, n.VTEP, p))
			continue
		}
		if !n.VTEP.Is4() {
			if len(blocks[n.Name]) > 0 {
				warn = append(warn, fmt.Sprintf("node %s holds blocks but has no underlay address (InternalIP or %s annotation)", n.Name, kube.AnnotationVTEP))
			}
			continue
		}
		v.Remotes = append(v.Remotes, flows.RemoteNode{Name: n.Name, VTEP: n.VTEP, Addrs: n.Addrs, Blocks: blocks[n.Name]})
	}
	v.Nodes = append(v.Nodes, v.Addrs...)
	for _, r := range v.Remotes {
		v.Nodes = append(v.Nodes, r.Addrs...)
	}
	return v, warn
}

// inPool names the pool containing ip, if any.
func inPool(pools []ipam.Pool, ip netip.Addr) (string, bool) {
	for _, p := range pools {
		if p.CIDR.Contains(ip) {
			return p.Name, true
		}
	}
	return "", false
}

// selects reports whether a node selector matches labels (empty: all nodes).
func selects(selector, labels map[string]string) bool {
	for k, want := range selector {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

func (v *view) vni(domain string) uint32 {
	for _, d := range v.Domains {
		if d.Name == domain {
			return d.VNI
		}
	}
	return 0
}

// ipamPools are every pool: this node allocates from those it may use
// (Usable) and, under a loan, from a borrower's; add() decides which.
func (v *view) ipamPools() []ipam.Pool {
	var out []ipam.Pool
	for _, p := range v.Pools {
		out = append(out, ipam.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockBits: p.BlockSize})
	}
	return out
}

// flowNode is the node's desired pipeline without pods.
func (v *view) flowNode(gatewayMAC string, overlay, uplink bool) flows.Node {
	mac, _ := net.ParseMAC(gatewayMAC)
	n := flows.Node{GatewayMAC: mac, Overlay: overlay, Uplink: uplink, Remotes: v.Remotes, NodeAddrs: v.Addrs}
	for _, d := range v.Domains {
		n.Domains = append(n.Domains, flows.Domain{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers})
	}
	for _, p := range v.Pools {
		n.Pools = append(n.Pools, flows.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway})
	}
	return n
}
