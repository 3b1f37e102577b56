// Package flows is Cane's OpenFlow pipeline as data: the tables a packet meets,
// the registers it carries, the cookie layout, and one builder per flow.
// Desired state goes in, a flow set comes out. Nothing here does I/O.
package flows

import (
	"fmt"

	"github.com/cane-cni/cane/flows/of"
)

// Table is an OpenFlow table of the pipeline. Packets meet them in this order.
type Table uint8

const (
	// Classifier names the source of a packet: a local pod port (sets the
	// source domain in reg0) or, later, the tunnel. Unknown sources drop.
	Classifier Table = 0
	// TunnelVNI admits tunnel packets (from a known VTEP, checked in
	// Classifier) only with a known domain's VNI, and sets reg0 from it.
	TunnelVNI Table = 5
	// SpoofGuard passes only frames whose in_port, MAC and IP (ARP fields too)
	// belong to the pod on that port. 802.1Q-tagged frames from pods drop.
	SpoofGuard Table = 10
	// ARPResponder answers ARP requests for gateways and same-domain pods;
	// nothing is flooded. Other ARP drops.
	ARPResponder Table = 20
	// DomainPolicy lets IP traffic reach a pool of its own domain or of a
	// peered domain; any other pool's address drops as isolation.
	DomainPolicy Table = 30
	// Forward maps a destination address to a local pod port.
	Forward Table = 40
	// Output sends the packet to the port chosen in reg1.
	Output Table = 50
)

// Tables lists the pipeline in the order packets meet it.
var Tables = []Table{Classifier, TunnelVNI, SpoofGuard, ARPResponder, DomainPolicy, Forward, Output}

var tableNames = map[Table]string{
	Classifier:   "Classifier",
	TunnelVNI:    "TunnelVNI",
	SpoofGuard:   "SpoofGuard",
	ARPResponder: "ARPResponder",
	DomainPolicy: "DomainPolicy",
	Forward:      "Forward",
	Output:       "Output",
}

func (t Table) String() string { return name(tableNames, t, "table") }

// name looks v up in names, falling back to prefix and number.
func name[T ~uint8](names map[T]string, v T, prefix string) string {
	if n, ok := names[v]; ok {
		return n
	}
	return fmt.Sprintf("%s%d", prefix, uint8(v))
}

// TableByName returns the table with the given name (case-sensitive).
func TableByName(name string) (Table, bool) {
	for t, n := range tableNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

// Register map: what each register holds, as named bit fields. Builders
// set and match these, never a register by number.
var (
	// RegDomain (reg0) is the source domain, set by Classifier: its VNI,
	// or HostDomain for the node's own packets.
	RegDomain = of.RegField{Reg: 0, Lo: 0, Hi: 31}
	// RegDomainVNI is RegDomain's 24 VNI bits: Forward copies them into
	// tun_id for the tunnel.
	RegDomainVNI = of.RegField{Reg: 0, Lo: 0, Hi: 23}
	// RegOutPort (reg1) is the ofport Forward chose, read by Output.
	RegOutPort = of.RegField{Reg: 1, Lo: 0, Hi: 31}
	// RegScratch (reg2) is scratch space inside one action list.
	RegScratch = of.RegField{Reg: 2, Lo: 0, Hi: 31}
)

// Fixed ofports of the node's non-pod ports (pods start at 10).
const (
	TunnelOFPort = 1 // flow-based VXLAN: remote_ip=flow, key=flow
	UplinkOFPort = 2 // patch to the underlay bridge, for VLAN domains
	HostOFPort   = 3 // internal port to the node's own network stack
)
