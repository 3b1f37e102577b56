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
	// Classifier names the source of a packet — a pod's port, a domain's
	// host port, a known VTEP, a VLAN domain's tag on the uplink — and sets
	// its domain (RegDomain) and kind (RegSource). Unknown sources drop.
	Classifier Table = 0
	// TunnelVNI admits a tunnel packet only if its VNI and inner source
	// belong together: an address of a block its VTEP's node holds for that
	// domain, or an address of that node itself (what it translated).
	TunnelVNI Table = 5
	// TunnelDomain checks the VNI of a packet a node sent from its own
	// address: any overlay domain's.
	TunnelDomain Table = 6
	// SpoofGuard passes only frames whose in_port, MAC and IP (ARP fields too)
	// belong to the pod on that port. 802.1Q-tagged frames from pods drop.
	SpoofGuard Table = 10
	// ARPResponder answers ARP requests for gateways and same-domain pods;
	// nothing is flooded. Other ARP drops.
	ARPResponder Table = 20
	// Conntrack sends IP packets through the connection tracker.
	Conntrack Table = 25
	// ConntrackState marks the replies of connections that came in through
	// a host port (what the node translated) to go back to that port, so
	// they meet the node's conntrack entry.
	ConntrackState Table = 26
	// DomainPolicy lets IP traffic reach a pool of its own domain or of a
	// peered domain; any other pool's address drops as isolation. What is
	// for this node goes to the domain's host port; pods' other traffic to
	// ToNode.
	DomainPolicy Table = 30
	// ToNode sends pods' traffic for another node's address through the
	// tunnel, in the pod's domain; the rest to the pod's host port.
	ToNode Table = 35
	// Forward maps a destination address to a local pod port or a remote
	// block's node.
	Forward Table = 40
	// ToHost sends a packet to the host port of its domain.
	ToHost Table = 45
	// Output commits new connections and sends the packet to the port
	// chosen in RegOutPort.
	Output Table = 50
)

// Tables lists the pipeline in the order packets meet it.
var Tables = []Table{Classifier, TunnelVNI, TunnelDomain, SpoofGuard, ARPResponder, Conntrack, ConntrackState, DomainPolicy, ToNode, Forward, ToHost, Output}

var tableNames = map[Table]string{
	Classifier:     "Classifier",
	TunnelVNI:      "TunnelVNI",
	TunnelDomain:   "TunnelDomain",
	SpoofGuard:     "SpoofGuard",
	ARPResponder:   "ARPResponder",
	Conntrack:      "Conntrack",
	ConntrackState: "ConntrackState",
	DomainPolicy:   "DomainPolicy",
	ToNode:         "ToNode",
	Forward:        "Forward",
	ToHost:         "ToHost",
	Output:         "Output",
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
	// RegDomain (reg0) is the source domain, set by Classifier: its VNI.
	RegDomain = of.RegField{Reg: 0, Lo: 0, Hi: 31}
	// RegDomainVNI is RegDomain's 24 VNI bits: Forward copies them into
	// tun_id for the tunnel, TunnelVNI back from it.
	RegDomainVNI = of.RegField{Reg: 0, Lo: 0, Hi: 23}
	// RegOutPort (reg1) is the ofport Forward chose, read by Output.
	RegOutPort = of.RegField{Reg: 1, Lo: 0, Hi: 31}
	// RegScratch (reg2) is scratch space inside one action list.
	RegScratch = of.RegField{Reg: 2, Lo: 0, Hi: 31}
	// RegSource (reg3) is the kind of port the packet came in on: one of
	// the Source* bits.
	RegSource = of.RegField{Reg: 3, Lo: 0, Hi: 3}
	// RegSteer (reg4) is set by ConntrackState on the reply of a connection
	// that came in through a host port: SteerFlag | that port's ofport.
	// DomainPolicy still judges the reply; Forward then sends it there.
	RegSteer = of.RegField{Reg: 4, Lo: 0, Hi: 16}
)

// SteerFlag marks RegSteer as set (ofports fit the 16 bits below it).
const SteerFlag uint32 = 1 << 16

// Source kinds, bits of RegSource.
const (
	SourcePod    uint32 = 1
	SourceTunnel uint32 = 2
	SourceUplink uint32 = 4
	SourceHost   uint32 = 8
)

// sourceIs matches packets that came in on a port of kind bit.
func sourceIs(bit uint32) of.Match {
	return of.MaskedUint(of.Reg(RegSource.Reg), uint64(bit)<<RegSource.Lo, uint64(bit)<<RegSource.Lo)
}

// sourceNot matches packets that did not come in on a port of kind bit.
func sourceNot(bit uint32) of.Match {
	return of.MaskedUint(of.Reg(RegSource.Reg), 0, uint64(bit)<<RegSource.Lo)
}

// HostMark marks, in ct_mark, a connection that came in through a host
// port; the low 16 bits are that port's ofport.
const HostMark uint32 = 1 << 31

// CTZone is the conntrack zone of every connection on Cane's bridge
// (pools never overlap, so one zone serves every domain).
const CTZone uint16 = 1

// Fixed ofports of the node's non-pod ports (pods start at 10; domains'
// host ports at FirstHostOFPort).
const (
	TunnelOFPort    = 1 // flow-based VXLAN: remote_ip=flow, key=flow
	UplinkOFPort    = 2 // patch to the underlay bridge, for VLAN domains
	FirstHostOFPort = 0xf000
)
