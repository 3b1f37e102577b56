package verify

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
)

// Input is what the verifier knows of a node besides its flows: what each
// port is, which domain it belongs to, which domains may reach which, the
// other nodes' tunnel endpoints and which domain each address belongs to.
// The daemon fills it from its attachments and cluster view; nothing in
// it comes from the flows being verified.
type Input struct {
	Domains   []Domain
	Ports     []Port
	Remotes   []Remote
	Addresses []Range    // pools and lent blocks; the most specific range wins
	VTEP      netip.Addr // this node's tunnel endpoint: tun_dst of what the tunnel delivers (zero: any)
	// BindTunnelSource: tunnel ingress must also bind the inner source
	// address to the sending VTEP's blocks (a packet from node A with a
	// source in node B's block is foreign).
	BindTunnelSource bool
}

// Domain is an isolation domain.
type Domain struct {
	Name  string
	VNI   uint32
	VLAN  uint16   // 0: an overlay domain
	Peers []string // domains it may reach; a peering goes both ways
}

// PortKind is what a port is to the pipeline.
type PortKind uint8

const (
	PortPod    PortKind = iota + 1 // a local pod
	PortTunnel                     // the flow-based VXLAN port
	PortUplink                     // the patch to the underlay, for VLAN domains
	PortHost                       // the node's own stack
)

func (k PortKind) String() string {
	return map[PortKind]string{PortPod: "pod", PortTunnel: "tunnel", PortUplink: "uplink", PortHost: "host"}[k]
}

// Port is one OpenFlow port of the bridge.
type Port struct {
	OFPort uint32
	Kind   PortKind
	Name   string // "shop/web", "cane-tun", ...
	// Domain: a pod's domain; for a host port, the domain it serves ("":
	// the host domain, which reaches every domain's local pods and
	// nothing remote). Not used for the tunnel and uplink (the VNI or tag
	// names the domain of each packet).
	Domain string
	MAC    net.HardwareAddr // a pod's own MAC
	IPs    []netip.Addr     // a pod's own addresses
}

// Remote is another node: its tunnel endpoint and blocks.
type Remote struct {
	Name   string
	VTEP   netip.Addr
	Blocks []netip.Prefix
	Addrs  []netip.Addr // the node's own addresses: inner sources it may send from in any domain
}

// Range is a range of addresses of one domain.
type Range struct {
	Prefix netip.Prefix
	Domain string
}

// HostDomain is the name reports give the host domain.
const HostDomain = "host"

func (in *Input) validate() error {
	names, vnis := map[string]bool{}, map[uint32]string{}
	for _, d := range in.Domains {
		if d.Name == "" || names[d.Name] || d.Name == HostDomain {
			return fmt.Errorf("domain %q: empty, reserved or listed twice", d.Name)
		}
		if other, ok := vnis[d.VNI]; ok {
			return fmt.Errorf("domains %s and %s share VNI %d", other, d.Name, d.VNI)
		}
		names[d.Name], vnis[d.VNI] = true, d.Name
	}
	ports := map[uint32]bool{}
	for _, p := range in.Ports {
		if ports[p.OFPort] {
			return fmt.Errorf("ofport %d listed twice", p.OFPort)
		}
		ports[p.OFPort] = true
		if p.Kind < PortPod || p.Kind > PortHost {
			return fmt.Errorf("ofport %d (%s): no kind", p.OFPort, p.Name)
		}
		if p.Kind == PortPod && (!names[p.Domain] || len(p.MAC) != 6) {
			return fmt.Errorf("pod port %d (%s): unknown domain %q or no MAC", p.OFPort, p.Name, p.Domain)
		}
	}
	for _, r := range in.Addresses {
		if !r.Prefix.IsValid() || !names[r.Domain] {
			return fmt.Errorf("address range %v: invalid, or unknown domain %q", r.Prefix, r.Domain)
		}
	}
	if len(in.Ports) == 0 {
		return errors.New("no ports")
	}
	return nil
}

// policy answers who may reach whom.
type policy struct {
	in       *Input
	byName   map[string]*Domain
	byVNI    map[uint32]*Domain
	byVLAN   map[uint16]*Domain
	ports    map[uint32]*Port
	vteps    map[netip.Addr]*Remote
	ranges   []Range // most specific first
	ofports  []uint32
	describe map[uint32]string // each port as reports name it
}

func newPolicy(in *Input) *policy {
	p := &policy{in: in, byName: map[string]*Domain{}, byVNI: map[uint32]*Domain{}, byVLAN: map[uint16]*Domain{},
		ports: map[uint32]*Port{}, vteps: map[netip.Addr]*Remote{}}
	for i := range in.Domains {
		d := &in.Domains[i]
		p.byName[d.Name], p.byVNI[d.VNI] = d, d
		if d.VLAN != 0 {
			p.byVLAN[d.VLAN] = d
		}
	}
	p.describe = map[uint32]string{}
	for i := range in.Ports {
		p.ports[in.Ports[i].OFPort] = &in.Ports[i]
		p.ofports = append(p.ofports, in.Ports[i].OFPort)
		p.describe[in.Ports[i].OFPort] = describePort(&in.Ports[i])
	}
	for i := range in.Remotes {
		p.vteps[in.Remotes[i].VTEP] = &in.Remotes[i]
	}
	p.ranges = append([]Range(nil), in.Addresses...)
	sort.SliceStable(p.ranges, func(i, j int) bool { return p.ranges[i].Prefix.Bits() > p.ranges[j].Prefix.Bits() })
	return p
}

// allowed reports whether domain a may reach domain b.
func (p *policy) allowed(a, b string) bool {
	if a == b {
		return true
	}
	for _, x := range []struct{ from, to string }{{a, b}, {b, a}} {
		if d := p.byName[x.from]; d != nil {
			for _, peer := range d.Peers {
				if peer == x.to {
					return true
				}
			}
		}
	}
	return false
}

// inner is the ranges more specific than r inside it, of another domain.
func (p *policy) inner(r Range) []Range {
	var out []Range
	for _, q := range p.ranges {
		if q.Prefix.Bits() > r.Prefix.Bits() && r.Prefix.Contains(q.Prefix.Addr()) && q.Domain != r.Domain {
			out = append(out, q)
		}
	}
	return out
}
