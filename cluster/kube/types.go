// Package kube is the multi-node cluster store: Cane's CRDs (Domain, Pool,
// Block, Loan, CaneNode) in the Kubernetes API. Blocks are claimed by
// creating a Block object whose name is derived from its CIDR, so the API
// server's name uniqueness makes two nodes holding one block impossible.
// Every node publishes what the others need of it (VTEP, addresses,
// labels) in its own small CaneNode, and watches those instead of the
// cluster's Node objects; of the Nodes it watches only its own, by name.
// Allocations stay in the node-local bbolt file: the ADD fast path never
// waits on the API.
package kube

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cane-cni/cane/cluster/loanapi"
)

// API group and resources of Cane's CRDs (deploy/crds).
const (
	Group   = "cane.io"
	Version = "v1alpha1"

	// LabelPool and LabelNode are on every Block, for selection.
	LabelPool = "cane.io/pool"
	LabelNode = "cane.io/node"
	// AnnotationVTEP on a Node overrides its underlay (tunnel) address.
	AnnotationVTEP = "cane.io/vtep"
)

var (
	DomainsResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "domains"}
	PoolsResource   = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "pools"}
	BlocksResource  = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "blocks"}
	LoansResource   = loanapi.Resource
	// CaneNodesResource: one per node, named after it, written by its
	// own caned (deploy/crds/canenodes.yaml).
	CaneNodesResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "canenodes"}
)

// Domain is a Domain object's content.
type Domain struct {
	Name    string
	Created time.Time // of the object: the older of two conflicting ones wins
	VNI     uint32
	VLAN    uint16
	Peers   []string
	Egress  string // SNAT, None, or "" for the default (SNAT for overlay domains, None for VLAN ones)
	// Namespaces may choose the domain's pools by pod annotation, besides
	// those labelled cane.io/domain with its name.
	Namespaces []string
}

// Pool is a Pool object's content.
type Pool struct {
	Name         string
	Created      time.Time // of the object: the older of two conflicting ones wins
	Domain       string
	CIDR         netip.Prefix
	Gateway      netip.Addr
	BlockSize    int
	NodeSelector map[string]string
}

// Block is a Block object's content.
type Block struct {
	Name    string // of the object (BlockName of pool and CIDR, for a valid one)
	Created time.Time
	Pool    string
	CIDR    netip.Prefix
	Node    string
	Domain  string // set on a block lent to another domain for a loan
	Loan    string
}

// Node is a cluster node as Cane needs it: another node as its CaneNode
// says (View.Nodes), or this node as its own Node object says (View.Self).
type Node struct {
	Name    string
	UID     string    // of the Node object (View.Self only): its CaneNode's owner
	Created time.Time // of the CaneNode: the older of two nodes claiming one VTEP wins
	VTEP    netip.Addr
	Addrs   []netip.Addr // its IPv4 InternalIPs and ExternalIPs, and the VTEP
	Labels  map[string]string
	MaxPods int // status.allocatable.pods, kubelet default 110 (View.Self only)
}

// Loan is a Loan object's name and spec (cluster/loanapi, which
// operators' tools use without the rest of this package).
type Loan = loanapi.Loan

// LoanReport is one lent node's line in a Loan's status.
type LoanReport struct {
	Phase    string    `json:"phase"`
	Limit    int       `json:"limit"`
	Pods     []string  `json:"pods"`
	Draining bool      `json:"draining"`
	Blocks   []string  `json:"blocks"`
	Updated  time.Time `json:"updated"`
}

// View is a consistent snapshot of the cluster state Cane watches.
type View struct {
	Domains []Domain
	Pools   []Pool
	Blocks  []Block
	Nodes   []Node // every node's CaneNode (this node's too, once published)
	Self    *Node  // this node's own Node object; nil until the watch has it
	Loans   []Loan
	Errors  []ObjectError // objects that could not be read
}

// ObjectError names an object that could not be read, and why.
type ObjectError struct{ Kind, Name, Err string }

// BlockName is the object name of a pool's block: the pool, a dot, and the
// CIDR with dots and the slash as dashes ("prod.198-19-0-0-26").
func BlockName(pool string, cidr netip.Prefix) string {
	return pool + "." + strings.NewReplacer(".", "-", "/", "-").Replace(cidr.String())
}

type domainSpec struct {
	VNI        uint32   `json:"vni"`
	VLAN       uint16   `json:"vlan,omitempty"`
	Peers      []string `json:"peers,omitempty"`
	Egress     string   `json:"egress,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

type poolSpec struct {
	Domain       string            `json:"domain"`
	CIDR         string            `json:"cidr"`
	Gateway      string            `json:"gateway"`
	BlockSize    int               `json:"blockSize,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

type blockSpec struct {
	Pool   string `json:"pool"`
	CIDR   string `json:"cidr"`
	Node   string `json:"node"`
	Domain string `json:"domain,omitempty"`
	Loan   string `json:"loan,omitempty"`
}

func (s poolSpec) pool(name string) (Pool, error) {
	cidr, err := netip.ParsePrefix(s.CIDR)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %s: cidr: %w", name, err)
	}
	gw, err := netip.ParseAddr(s.Gateway)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %s: gateway: %w", name, err)
	}
	bs := s.BlockSize
	if bs == 0 {
		bs = 26
	}
	return Pool{Name: name, Domain: s.Domain, CIDR: cidr, Gateway: gw, BlockSize: bs, NodeSelector: s.NodeSelector}, nil
}

func (s blockSpec) block() (Block, error) {
	cidr, err := netip.ParsePrefix(s.CIDR)
	if err != nil {
		return Block{}, fmt.Errorf("block cidr: %w", err)
	}
	return Block{Pool: s.Pool, CIDR: cidr, Node: s.Node, Domain: s.Domain, Loan: s.Loan}, nil
}
