package daemon

import (
	"net/netip"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/nodenet"
)

// kernelState is what the node's kernel needs for the view (nodenet): a
// host port per domain, routing the domain's pools and lent blocks, able
// to reach its peers', masquerading its egress if the domain says so; and
// every node's addresses, which nothing masquerades to.
func kernelState(v *view, lent []flows.LentBlock, mtu int) nodenet.State {
	own := map[string][]netip.Prefix{}
	for _, p := range v.Pools {
		own[p.Domain] = append(own[p.Domain], p.CIDR)
	}
	for _, lb := range lent {
		own[lb.Domain] = append(own[lb.Domain], lb.CIDR)
	}
	s := nodenet.State{Nodes: v.Nodes, MTU: mtu}
	for _, d := range v.Domains {
		nd := nodenet.Domain{VNI: d.VNI, Port: nodenet.HostPortName(d.VNI), Own: own[d.Name], EgressSNAT: d.snat()}
		for _, other := range v.Domains {
			if other.Name != d.Name && peeredConf(v.Domains, d.Name, other.Name) {
				nd.Reach = append(nd.Reach, own[other.Name]...)
			}
		}
		s.Domains = append(s.Domains, nd)
	}
	return s
}

// peeredConf reports whether domain a may reach domain b: either lists
// the other (as flows.Base applies peerings).
func peeredConf(ds []DomainConf, a, b string) bool {
	for _, d := range ds {
		for _, p := range d.Peers {
			if (d.Name == a && p == b) || (d.Name == b && p == a) {
				return true
			}
		}
	}
	return false
}
