package flows

import (
	"fmt"

	"github.com/cane-cni/cane/flows/of"
)

// Cookie is the 64-bit OpenFlow cookie every Cane flow carries:
//
//	bits 63..48  round   the caned run that installed it (stale rounds are deleted after a restart)
//	bits 47..40  kind    what the flow belongs to (base pipeline, pod, ...)
//	bits 39..32  reason  for drop flows, why the packet is dropped; 0 otherwise
//	bits 31..0   object  the pod's ofport for pod flows, 0 for base flows
//
// A pod's flows are found with ObjectMask regardless of round, and one
// round's flows with RoundMask, so nothing ever needs a flush.
type Cookie uint64

// Kind says what a flow belongs to.
type Kind uint8

const (
	KindBase Kind = 1 // the pipeline skeleton, domains and pools
	KindPod  Kind = 2 // one local pod; object = its ofport
	KindNode Kind = 3 // one remote node; object = its VTEP address
)

// Reason says why a drop flow drops. Every drop flow has one, so drops are
// countable by reason from the flows' packet counters.
type Reason uint8

const (
	ReasonNone          Reason = 0
	ReasonSpoof         Reason = 1 // wrong MAC/IP for the port, or a tagged frame
	ReasonIsolation     Reason = 2 // destination is in a domain the source may not reach
	ReasonUnknownVNI    Reason = 3 // tunnel packet with a VNI or VTEP nobody knows, or an unknown VLAN on the uplink
	ReasonNoRoute       Reason = 4 // no pod or route for the destination; unanswered ARP
	ReasonUnknownSource Reason = 5 // packet from a port that is not a pod or tunnel
	ReasonNodeProtect   Reason = 6 // a pod at the node's loopback or the overlay's UDP port; an ICMP redirect from the node
)

var reasonNames = map[Reason]string{
	ReasonNone:          "none",
	ReasonSpoof:         "spoof",
	ReasonIsolation:     "isolation",
	ReasonUnknownVNI:    "unknown-vni",
	ReasonNoRoute:       "no-route",
	ReasonUnknownSource: "unknown-source",
	ReasonNodeProtect:   "node-protect",
}

func (r Reason) String() string { return name(reasonNames, r, "reason") }

// DropReasons lists every reason a drop flow can carry.
var DropReasons = []Reason{ReasonSpoof, ReasonIsolation, ReasonUnknownVNI, ReasonNoRoute, ReasonUnknownSource, ReasonNodeProtect}

const (
	// RoundMask selects the round bits of a cookie.
	RoundMask Cookie = 0xffff << 48
	// ObjectMask selects kind and object: all flows of one pod, any round or reason.
	ObjectMask Cookie = 0xff<<40 | 0xffffffff
	// ReasonMask selects kind and reason.
	ReasonMask Cookie = 0xff<<40 | 0xff<<32
)

// NewCookie builds a cookie from its parts.
func NewCookie(round uint16, kind Kind, reason Reason, object uint32) Cookie {
	return Cookie(round)<<48 | Cookie(kind)<<40 | Cookie(reason)<<32 | Cookie(object)
}

func (c Cookie) Round() uint16  { return uint16(c >> 48) }
func (c Cookie) Kind() Kind     { return Kind(c >> 40) }
func (c Cookie) Reason() Reason { return Reason(c >> 32) }
func (c Cookie) Object() uint32 { return uint32(c) }

// String is the cookie in ovs-ofctl syntax.
func (c Cookie) String() string { return fmt.Sprintf("%#x", uint64(c)) }

// Select picks the flows whose cookie has c's bits under mask, in any
// table (the switch filters: dumps and deletes by cookie).
func (c Cookie) Select(mask Cookie) of.Selector { return of.CookieSelector(uint64(c), uint64(mask)) }
