// Package api is the protocol between cane (the CNI binary), canectl and
// caned: HTTP with JSON bodies over a root-only unix socket.
//
//	POST /v1/cni     CNIRequest  -> CNIResponse (CNI result or CNI error)
//	GET  /v1/status              -> Status
//	GET  /v1/pods                -> []Pod
//	GET  /v1/pools               -> []Pool
package api

import (
	"encoding/json"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
)

// DefaultSocket is where caned listens unless told otherwise.
const DefaultSocket = "/run/cane/caned.sock"

// MaxNetConf bounds a network config (the plugin's stdin); a real one is a
// few hundred bytes, a GC request's valid-attachment list a few hundred KiB.
const MaxNetConf = 1 << 20

// Cane's own CNI error codes (100 and up, as the spec reserves 0-99).
const (
	CodePluginNotAvailable = 50  // spec: STATUS, the plugin cannot serve ADD now
	CodePoolExhausted      = 100 // no free address left in the pool
	CodeUnknownPool        = 101 // the pool named by the request is not configured
	CodeReservationBusy    = 102 // the workload's reserved address is still held
	CodeOVS                = 103 // Open vSwitch refused or failed an operation
	CodeNotLent            = 104 // the pool's domain may not run here: no active loan lends this node to it (the message names an ended or future loan)
	CodeLoanFull           = 105 // the loan that lends this node allows no more of the domain's pods here
	CodeNoUsablePool       = 106 // the pod's namespace is in a domain with no pool this node may use (a cluster configuration error: retrying will not help)
	CodePoolForbidden      = 107 // the pod's cane.io/pool annotation names a pool of a domain its namespace may not use
)

// CNIRequest is one CNI invocation, forwarded verbatim by cane.
type CNIRequest struct {
	Command     string          `json:"command"` // ADD, DEL, CHECK, GC, STATUS
	ContainerID string          `json:"containerID,omitempty"`
	Netns       string          `json:"netns,omitempty"`
	IfName      string          `json:"ifName,omitempty"`
	Args        string          `json:"args,omitempty"` // CNI_ARGS
	Path        string          `json:"path,omitempty"`
	Config      json.RawMessage `json:"config"` // the plugin's stdin
}

// CNIResponse carries a result (ADD) or a CNI error, never both.
type CNIResponse struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *types.Error    `json:"error,omitempty"`
}

// Status is the daemon's health.
type Status struct {
	Ready    bool   `json:"ready"`
	Reason   string `json:"reason,omitempty"` // why not ready
	Node     string `json:"node"`
	Bridge   string `json:"bridge"`
	Datapath string `json:"datapath"`
	Round    uint16 `json:"round"`   // flow cookie round of this bridge
	Resyncs  uint64 `json:"resyncs"` // full reconciles since caned started (OVS came back, ...)
	Pods     int    `json:"pods"`
}

// Pod is one attachment on the node.
type Pod struct {
	ContainerID  string     `json:"containerID"`
	IfName       string     `json:"ifName"`
	PodNamespace string     `json:"podNamespace,omitempty"`
	PodName      string     `json:"podName,omitempty"`
	Pool         string     `json:"pool"`
	Domain       string     `json:"domain"`
	IP           netip.Addr `json:"ip"`
	MAC          string     `json:"mac"`
	Port         string     `json:"port"`   // OVS port / host veth name
	OFPort       int        `json:"ofport"` // 0 if the port is missing
	Netns        string     `json:"netns"`  // the pod's netns, as the runtime passed it
}

// Pool is a pool and how much of it this node uses.
type Pool struct {
	Name      string         `json:"name"`
	Domain    string         `json:"domain"`
	CIDR      netip.Prefix   `json:"cidr"`
	Gateway   netip.Addr     `json:"gateway"`
	Blocks    []netip.Prefix `json:"blocks"` // held by this node
	Allocated int            `json:"allocated"`
}
