package verify

import (
	"fmt"
	"net/netip"

	"github.com/cane-cni/cane/flows"
)

// FromNode is the input for a node whose desired state is n: a port per
// pod (named by ofport: callers who know pods' names rename them), the
// tunnel, uplink and host ports it has, its domains, the remote nodes,
// and which domain each pool and lent block belongs to. It reads the
// desired state, never the flows.
func FromNode(n flows.Node) Input {
	in := Input{}
	byVNI := map[uint32]string{}
	for _, d := range n.Domains {
		in.Domains = append(in.Domains, Domain{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers})
		byVNI[d.VNI] = d.Name
	}
	for _, p := range n.Pods {
		in.Ports = append(in.Ports, Port{OFPort: p.OFPort, Kind: PortPod, Name: fmt.Sprintf("ofport-%d", p.OFPort),
			Domain: byVNI[p.VNI], MAC: p.MAC, IPs: []netip.Addr{p.IP}})
	}
	if n.Overlay {
		in.Ports = append(in.Ports, Port{OFPort: flows.TunnelOFPort, Kind: PortTunnel, Name: "tunnel"})
	}
	if n.Uplink {
		in.Ports = append(in.Ports, Port{OFPort: flows.UplinkOFPort, Kind: PortUplink, Name: "uplink"})
	}
	for _, hp := range n.HostPorts {
		in.Ports = append(in.Ports, Port{OFPort: hp.OFPort, Kind: PortHost, Name: "host-" + hp.Domain, Domain: hp.Domain})
	}
	for _, p := range n.Pools {
		in.Addresses = append(in.Addresses, Range{Prefix: p.CIDR, Domain: p.Domain})
	}
	for _, lb := range n.LentBlocks {
		in.Addresses = append(in.Addresses, Range{Prefix: lb.CIDR, Domain: lb.Domain})
	}
	for _, r := range n.Remotes {
		rm := Remote{Name: r.Name, VTEP: r.VTEP, Addrs: r.Addrs}
		for _, b := range r.Blocks {
			rm.Blocks = append(rm.Blocks, b.CIDR)
		}
		in.Remotes = append(in.Remotes, rm)
	}
	in.VTEP, in.BindTunnelSource = vtepOf(n), n.Overlay
	return in
}

// vtepOf is the node's own tunnel endpoint, if one of its addresses.
func vtepOf(n flows.Node) netip.Addr {
	if len(n.NodeAddrs) > 0 {
		return n.NodeAddrs[0]
	}
	return netip.Addr{}
}
