package flows

import (
	"net"
	"net/netip"
)

// Domain is an isolation domain as the pipeline sees it.
type Domain struct {
	Name  string
	VNI   uint32   // 24 bits; also the value of reg0 for its pods
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

// Node is the desired state of one node's pipeline.
type Node struct {
	GatewayMAC net.HardwareAddr // answered for every pool's gateway address
	Domains    []Domain
	Pools      []Pool
	Pods       []Pod
}

// All returns every flow of the node: the base pipeline and each pod's flows.
func (n Node) All() []Flow {
	fs := Base(n)
	for _, p := range n.Pods {
		fs = append(fs, PodFlows(p)...)
	}
	return fs
}
