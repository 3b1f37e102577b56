package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// clusterView holds the view this node acts on: fixed in static mode,
// rebuilt from the watcher's caches on every change in Kubernetes mode.
// Readers load it without locks; refresh replaces it whole.
type clusterView struct {
	v        atomic.Pointer[view]
	ignored  atomic.Pointer[[]ignored] // what the last refresh left out
	watcher  *kube.Watcher             // nil in static (single-node) mode
	node     string
	log      *slog.Logger
	reporter *ignoredReporter // logs, counts and reports what refresh leaves out (Kubernetes mode)
}

func newClusterView(cfg Config, w *kube.Watcher, log *slog.Logger) *clusterView {
	c := &clusterView{watcher: w, node: cfg.Node, log: log}
	if w == nil {
		c.v.Store(staticView(cfg))
	} else {
		c.v.Store(&view{Usable: map[string]bool{}})
		c.reporter = newIgnoredReporter(cfg.Node, log, func(ctx context.Context, kind, name, msg string) error {
			return w.IgnoredEvent(ctx, kind, name, cfg.Node, msg)
		})
	}
	return c
}

func (c *clusterView) load() *view { return c.v.Load() }

// refresh rebuilds the view from the watcher's caches and hands the pools
// to pools (IPAM); the reporter learns what it left out.
func (c *clusterView) refresh(ctx context.Context, pools func(context.Context, []ipam.Pool) error) {
	kv := c.watcher.View()
	v, ign := kubeView(kv, c.node, time.Now())
	c.reporter.observe(ign, nodeNames(kv, c.node))
	c.ignored.Store(&ign)
	if err := pools(ctx, v.ipamPools()); err != nil {
		c.log.Error("pools not applied", "err", err)
	}
	c.v.Store(v)
}

// nodeNames are the nodes a view knows (their CaneNodes) and self,
// sorted, each once.
func nodeNames(kv kube.View, self string) []string {
	out := []string{self}
	for _, n := range kv.Nodes {
		if n.Name != self {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out
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
	// Quarantined are blocks whose lending is not valid: sealed from
	// everyone (see kubeView).
	Quarantined []netip.Prefix
}

// staticView is the view of a config file.
func staticView(cfg Config) *view {
	v := &view{Domains: cfg.Domains, Pools: cfg.Pools, Usable: map[string]bool{}}
	for _, p := range cfg.Pools {
		v.Usable[p.Name] = true
	}
	return v
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
	n := flows.Node{GatewayMAC: mac, Overlay: overlay, Uplink: uplink, Remotes: v.Remotes, NodeAddrs: v.Addrs, Quarantined: v.Quarantined}
	for _, d := range v.Domains {
		n.Domains = append(n.Domains, flows.Domain{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers})
	}
	for _, p := range v.Pools {
		n.Pools = append(n.Pools, flows.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway})
	}
	return n
}
