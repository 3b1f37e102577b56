package daemon

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// view is the cluster state this node acts on. Static mode: from the
// config file, once. Kubernetes mode: rebuilt on every watched change.
type view struct {
	Domains []DomainConf
	Pools   []PoolConf      // every pool: flows need them all
	Usable  map[string]bool // pools this node may allocate from (node selector)
	Remotes []flows.RemoteNode
	VTEP    netip.Addr // this node's underlay address, if known
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
		names[d.Name], vnis[d.VNI] = true, d.Name
		v.Domains = append(v.Domains, DomainConf{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers})
	}
	var selfLabels map[string]string
	for _, n := range kv.Nodes {
		if n.Name == self {
			selfLabels, v.VTEP = n.Labels, n.VTEP
		}
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
		blocks[b.Node] = append(blocks[b.Node], flows.RemoteBlock{CIDR: b.CIDR, Pool: b.Pool})
	}
	for _, n := range kv.Nodes {
		if n.Name == self {
			continue
		}
		if !n.VTEP.Is4() {
			if len(blocks[n.Name]) > 0 {
				warn = append(warn, fmt.Sprintf("node %s holds blocks but has no underlay address (InternalIP or %s annotation)", n.Name, kube.AnnotationVTEP))
			}
			continue
		}
		v.Remotes = append(v.Remotes, flows.RemoteNode{Name: n.Name, VTEP: n.VTEP, Blocks: blocks[n.Name]})
	}
	return v, warn
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

// ipamPools are the pools this node allocates from.
func (v *view) ipamPools() []ipam.Pool {
	var out []ipam.Pool
	for _, p := range v.Pools {
		if v.Usable[p.Name] {
			out = append(out, ipam.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockBits: p.BlockSize})
		}
	}
	return out
}

// flowNode is the node's desired pipeline without pods.
func (v *view) flowNode(gatewayMAC string, overlay, uplink bool) flows.Node {
	mac, _ := net.ParseMAC(gatewayMAC)
	n := flows.Node{GatewayMAC: mac, Overlay: overlay, Uplink: uplink, Remotes: v.Remotes}
	for _, d := range v.Domains {
		n.Domains = append(n.Domains, flows.Domain{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers})
	}
	for _, p := range v.Pools {
		n.Pools = append(n.Pools, flows.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway})
	}
	return n
}
