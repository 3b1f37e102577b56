package daemon

import (
	"net/netip"
	"slices"

	"github.com/cane-cni/cane/nodenet"
)

// kernelState is what the node's kernel needs for the view (nodenet): a
// host port per domain, routing the domain's pools and lent blocks, able
// to reach its peers', masquerading its egress if the domain says so;
// every node's addresses, which nothing masquerades to; and caned's
// metrics port closed to pods; the host ports' offloads as the datapath
// needs them.
func (b *nodeBridge) kernelState(v *view) nodenet.State {
	own := map[string][]netip.Prefix{}
	for _, p := range v.Pools {
		own[p.Domain] = append(own[p.Domain], p.CIDR)
	}
	for _, lb := range b.lent() {
		own[lb.Domain] = append(own[lb.Domain], lb.CIDR)
	}
	s := nodenet.State{Nodes: v.Nodes, MTU: b.podMTUInForce(), TxChecksumOff: b.txChecksumOff(), Sealed: v.Quarantined, Guarded: guardedPorts(b.cfg, v)}
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

// guardedPorts closes caned's metrics port to pods but those of the
// domains the config lets scrape (caned refuses a config whose address
// has no port, so an error here cannot be).
func guardedPorts(cfg *Config, v *view) []nodenet.GuardedPort {
	port, err := cfg.metricsPort()
	if err != nil || port == 0 {
		return nil
	}
	g := nodenet.GuardedPort{Port: port}
	for _, d := range v.Domains {
		if slices.Contains(cfg.MetricsDomains, d.Name) {
			g.Allow = append(g.Allow, nodenet.HostPortName(d.VNI))
		}
	}
	return []nodenet.GuardedPort{g}
}

// peeredConf reports whether domains a and b peer: both name the other
// (as flows.Base applies peerings).
func peeredConf(ds []DomainConf, a, b string) bool {
	return confNames(ds, a, b) && confNames(ds, b, a)
}

func confNames(ds []DomainConf, a, b string) bool {
	for _, d := range ds {
		if d.Name == a && slices.Contains(d.Peers, b) {
			return true
		}
	}
	return false
}
