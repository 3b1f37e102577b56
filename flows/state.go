package flows

import (
	"net"
	"net/netip"
)

// Domain is an isolation domain as the pipeline sees it.
type Domain struct {
	Name  string
	VNI   uint32   // 24 bits; also the value of reg0 for its pods
	VLAN  uint16   // 802.1Q VID on the underlay; 0 for an overlay (VXLAN) domain
	Peers []string // domains this one may reach (peering is applied in both directions)
}

// Pool is an address pool of one domain.
type Pool struct {
	Name    string
	Domain  string
	CIDR    netip.Prefix
	Gateway netip.Addr
}

// Pod is a local pod attached to the bridge.
type Pod struct {
	OFPort uint32
	MAC    net.HardwareAddr
	IP     netip.Addr
	VNI    uint32 // its domain's VNI
}

// RemoteNode is another node: its tunnel endpoint, its own addresses and
// the blocks it holds.
type RemoteNode struct {
	Name   string
	VTEP   netip.Addr   // IPv4 underlay address; also the cookie object of its flows
	Addrs  []netip.Addr // the node's addresses (its VTEP among them): pods reach them through the tunnel
	Blocks []RemoteBlock
}

// RemoteBlock is a block of addresses held by a remote node.
type RemoteBlock struct {
	CIDR netip.Prefix
	Pool string
}

// HostPort is a domain's port to the node's own network stack (an OVS
// internal port): the node's traffic with the domain's pods goes through
// it, and nodenet keeps the domain on the node's side.
type HostPort struct {
	Domain string
	OFPort uint32
	MAC    net.HardwareAddr
}

// Node is the desired state of one node's pipeline.
type Node struct {
	GatewayMAC net.HardwareAddr // answered for every pool's gateway address
	Overlay    bool             // the VXLAN port (TunnelOFPort) exists
	Uplink     bool             // the underlay uplink (UplinkOFPort) exists
	Domains    []Domain
	Pools      []Pool
	HostPorts  []HostPort   // one per domain that has one on this node
	NodeAddrs  []netip.Addr // this node's own addresses
	Pods       []Pod
	Remotes    []RemoteNode
	LentBlocks []LentBlock // blocks of any node lent to another domain than their pool's
}

// All returns every flow of the node: the base pipeline, each pod's flows
// and each remote node's flows.
func (n Node) All() []Flow {
	fs := Base(n)
	for _, p := range n.Pods {
		fs = append(fs, PodFlows(p)...)
	}
	for _, r := range n.Remotes {
		fs = append(fs, RemoteFlows(n, r)...)
	}
	seen := map[Key]bool{} // two blocks of one pool lent to one domain share the gateway flow
	for _, lb := range n.LentBlocks {
		for _, f := range lentFlows(n, lb) {
			if k := f.Key(); !seen[k] {
				seen[k] = true
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// domainNamed returns the domain called name, and whether it exists.
func (n Node) domainNamed(name string) (Domain, bool) {
	for _, d := range n.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return Domain{}, false
}

// blockDomain is the domain a remote block serves: its lent domain if the
// block is lent, else its pool's.
func (n Node) blockDomain(b RemoteBlock) (Domain, bool) {
	for _, lb := range n.LentBlocks {
		if lb.CIDR == b.CIDR {
			return n.domainNamed(lb.Domain)
		}
	}
	return n.domain(b.Pool)
}

// domain returns the domain of a pool, and whether both exist.
func (n Node) domain(pool string) (Domain, bool) {
	for _, p := range n.Pools {
		if p.Name == pool {
			for _, d := range n.Domains {
				if d.Name == p.Domain {
					return d, true
				}
			}
		}
	}
	return Domain{}, false
}
