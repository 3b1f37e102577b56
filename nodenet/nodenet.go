// Package nodenet is the node's own kernel networking for Cane: what the
// node's stack must do so that Services, hostPorts and egress work
// through kube-proxy and portmap as they are, and so that the domain of a
// packet survives whatever the node translates.
//
// Every domain has its own host port (an OVS internal port, see
// daemon/nodebridge.go): the pipeline sends a domain's pods' traffic for
// the node there, and classifies what the node sends back by the port it
// arrives on. The kernel keeps the domain with the port:
//
//   - the main table routes every pool (and lent block) through the host
//     port of the domain it serves, so the node itself (kubelet probes,
//     hostNetwork pods, an outside client's NodePort or hostPort) reaches
//     any pod, classified as the pod's own domain;
//   - a packet that arrives on a domain's host port is routed by that
//     domain's table (an iif rule): its own and its peers' pools through
//     its own port, every other pool prohibited. So when kube-proxy or
//     portmap DNATs (and masquerades) a test pod's packet to a production
//     pod, the kernel refuses it, and the pipeline would drop it anyway
//     since it arrives as the test domain; the domain is never inferred
//     from an address NAT may have rewritten;
//   - pods meet the node only through their domain's host port, so Cane's
//     table drops there what is addressed to the node's guarded ports
//     (caned's metrics), but from the domains allowed to scrape;
//   - Cane's nftables table drops what the node would otherwise route into
//     the pools from elsewhere (the underlay), unless the node translated
//     it (DNAT: Services, hostPorts) or it is the reply of a connection a
//     pod opened, and drops pool source addresses arriving anywhere but a
//     host port; it masquerades the egress of domains that ask for it, to
//     anything outside the pools and the nodes.
//
// Apply is idempotent and converges: what Cane installed and no longer
// wants goes. Nothing here touches an interface, route or rule that is not
// Cane's (host ports are named with HostPortPrefix; tables and rule
// priorities are Cane's own).
package nodenet

import (
	"fmt"
	"net/netip"
	"reflect"

	"github.com/containernetworking/plugins/pkg/ns"
)

// HostPortPrefix starts the name of every host port.
const HostPortPrefix = "caneh"

// HostPortName is the host port of the domain with this VNI: the prefix
// and the VNI in 6 hex digits (11 bytes, within IFNAMSIZ).
func HostPortName(vni uint32) string { return fmt.Sprintf("%s%06x", HostPortPrefix, vni) }

// Domain is one domain as the node's kernel sees it.
type Domain struct {
	VNI   uint32
	Port  string         // its host port (HostPortName)
	Own   []netip.Prefix // pools and lent blocks serving the domain
	Reach []netip.Prefix // pools and lent blocks of the domains it is peered with
	// EgressSNAT masquerades what its pods send outside every pool and
	// node to the node's address.
	EgressSNAT bool
}

// State is the desired kernel state of the node.
type State struct {
	Domains []Domain
	// Nodes are the cluster's node addresses: never masqueraded to (pods
	// reach other nodes through the tunnel, in their own domain).
	Nodes []netip.Addr
	MTU   int // of the host ports: the pods' MTU
	// TxChecksumOff turns the host ports' TX checksum offload off: OVS's
	// userspace datapath cannot tunnel what the node's own stack sends
	// through them with the checksum left to offload (see
	// ethtool.TxChecksumOff), as it cannot a pod's.
	TxChecksumOff bool
	// Sealed are blocks no one may reach (a lent block whose loan is not
	// valid): prohibited in main and in every domain's table.
	Sealed []netip.Prefix
	// Guarded are the node's own TCP ports pods may not reach (caned's
	// metrics): what arrives for them on a host port drops, but on the
	// host ports of Allow.
	Guarded []GuardedPort
}

// GuardedPort is a TCP port of the node's that pods may not reach, but
// those of the domains whose host ports are in Allow.
type GuardedPort struct {
	Port  uint16
	Allow []string // host ports (HostPortName) let through
}

// Table is the routing table of a domain's host port.
func Table(vni uint32) int { return tableBase | int(vni) }

// tableBase keeps Cane's routing tables apart from other users' (0x0c: 'c').
const tableBase = 0x0c000000

// rulePriority is where Cane's iif rules sit: after the local table
// (priority 0), before main (32766).
const rulePriority = 1000

// EgressMark is the packet mark bit of traffic to masquerade: set on what
// arrives on the host port of a domain with EgressSNAT. It stays clear of
// kube-proxy's 0x4000 (masquerade) and 0x8000 (drop) and portmap's 0x2000.
const EgressMark = 0x01000000

// Apply makes the node's kernel state s, in hostNS: the host ports up
// with the MTU and the sysctls they need, their routes and rules, and
// Cane's nftables table. Idempotent.
func Apply(hostNS ns.NetNS, s State) error {
	if err := validate(s); err != nil {
		return err
	}
	if err := applyRoutes(hostNS, s); err != nil {
		return fmt.Errorf("host routes: %w", err)
	}
	if err := applyTable(hostNS, s); err != nil {
		return fmt.Errorf("nftables table %s: %w", tableName, err)
	}
	return nil
}

// validate refuses a state that would break the kernel or the isolation:
// a port name that is not a host port's, a domain twice, an IPv6 prefix
// (not yet: the table and routes are IPv4).
func validate(s State) error {
	seen := map[string]bool{}
	for _, d := range s.Domains {
		if d.Port != HostPortName(d.VNI) {
			return fmt.Errorf("domain %d: host port %q, want %q", d.VNI, d.Port, HostPortName(d.VNI))
		}
		if seen[d.Port] {
			return fmt.Errorf("domain %d given twice", d.VNI)
		}
		seen[d.Port] = true
		for _, p := range append(append([]netip.Prefix(nil), d.Own...), d.Reach...) {
			if !p.Addr().Is4() {
				return fmt.Errorf("domain %d: %s is not IPv4", d.VNI, p)
			}
		}
	}
	return nil
}

// allPrefixes is every pool and lent block of the state.
func (s State) allPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, d := range s.Domains {
		out = append(out, d.Own...)
	}
	return out
}

// Equal reports whether two states are the same (Apply of one after the
// other would change nothing).
func (s State) Equal(o State) bool {
	return reflect.DeepEqual(s, o)
}
