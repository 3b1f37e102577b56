package api

import (
	"net/netip"
	"time"
)

// The on-call endpoints (canectl):
//
//	GET  /v1/blocks              -> []Block
//	GET  /v1/flows?table=&pod=   -> []Flow
//	POST /v1/trace   TraceRequest -> Trace
//	GET  /v1/xray                -> XRay
//	GET  /v1/verify              -> Verify
//	POST /v1/gc?dryRun=true      -> GCReport

// Block is an address block this node holds.
type Block struct {
	Pool   string       `json:"pool"`
	Domain string       `json:"domain"`
	CIDR   netip.Prefix `json:"cidr"`
	Used   int          `json:"used"`
	Size   int          `json:"size"`
	LentTo string       `json:"lentTo,omitempty"` // a lent block: the borrower domain it serves
	Loan   string       `json:"loan,omitempty"`
}

// Flow is one installed flow, with what its cookie says.
type Flow struct {
	Table     uint8  `json:"table"`
	TableName string `json:"tableName"`
	Priority  uint16 `json:"priority"`
	Match     string `json:"match"`
	Actions   string `json:"actions"`
	Cookie    string `json:"cookie"`
	Kind      string `json:"kind"`             // base, pod, node
	Reason    string `json:"reason,omitempty"` // for drop flows
	Owner     string `json:"owner,omitempty"`  // the pod (namespace/name) or remote node
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// TraceRequest asks where a packet from a local pod would go, or (with
// Witness) where a given packet goes.
type TraceRequest struct {
	From  string     `json:"from,omitempty"` // pod: namespace/name, container ID (or a prefix) or IP
	To    netip.Addr `json:"to,omitzero"`
	Proto string     `json:"proto"` // tcp, udp or icmp
	Port  uint16     `json:"port,omitempty"`
	// SrcIP forges the source address (to see the spoof guard at work).
	SrcIP netip.Addr `json:"srcIP,omitzero"`
	// Witness is a whole packet in ovs-ofctl flow syntax (a verify
	// witness: in_port and every field); From, To, Proto, Port and SrcIP
	// are then not used.
	Witness string `json:"witness,omitempty"`
}

// TraceStep is one table the packet went through.
type TraceStep struct {
	Table     uint8    `json:"table"`
	TableName string   `json:"tableName"`
	Match     string   `json:"match"`
	Priority  uint16   `json:"priority"`
	Cookie    string   `json:"cookie"`
	Reason    string   `json:"reason,omitempty"`
	Actions   []string `json:"actions"`
}

// Trace is the packet's path and a one-line verdict.
type Trace struct {
	From            Pod         `json:"from"`
	Packet          string      `json:"packet"` // in ovs-ofctl flow syntax
	Steps           []TraceStep `json:"steps"`
	DatapathActions string      `json:"datapathActions"`
	Delivered       bool        `json:"delivered"`
	DropReason      string      `json:"dropReason,omitempty"`
	Verdict         string      `json:"verdict"`
}

// Check is one line of an xray.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// XRay is the full check of a node.
type XRay struct {
	Node   string  `json:"node"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// GCReport says what gc collected (or, dry, would collect).
type GCReport struct {
	DryRun    bool           `json:"dryRun"`
	Collected []Leak         `json:"collected"`
	Released  []netip.Prefix `json:"releasedBlocks"`
}

// Leak is an address or attachment nothing uses any more.
type Leak struct {
	ContainerID string     `json:"containerID"`
	IfName      string     `json:"ifName"`
	Pod         string     `json:"pod,omitempty"`
	IP          netip.Addr `json:"ip"`
	Why         string     `json:"why"`
}

// Loan is a loan and what it means on this node (GET /v1/loans). Loans
// are created and ended in the cluster with an operator's credentials
// (canectl borrow|return --kubeconfig), never through caned.
type Loan struct {
	Name         string            `json:"name"`
	Borrower     string            `json:"borrower"`
	Lenders      []string          `json:"lenders,omitempty"`
	Nodes        []string          `json:"nodes,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	PodsPerNode  int               `json:"podsPerNode,omitempty"`
	Percent      int               `json:"percent,omitempty"`
	LendBlocks   bool              `json:"lendBlocks,omitempty"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Phase        string            `json:"phase,omitempty"`
	LendsHere    bool              `json:"lendsHere"`
	Limit        int               `json:"limit"`          // borrower pods allowed on this node
	Pods         []string          `json:"pods,omitempty"` // borrower pods on this node
}
