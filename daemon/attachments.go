package daemon

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cane-cni/cane/ipam"
)

// attachment is one pod interface on this node.
type attachment struct {
	alloc   ipam.Allocation
	port    string // OVS port = host veth name
	ofport  int
	mac     net.HardwareAddr
	netns   string
	network string
	loan    string // set for a borrower pod on a lent node
	// flowVNI is the VNI its installed flows carry: set when they are
	// built, and changed (under the container's lock) when they follow
	// their domain to a new VNI (vni.go). The one field that changes once
	// the attachment is shared.
	flowVNI atomic.Uint32
}

// firstPodOFPort leaves ofports below it for the node's own ports
// (tunnel, uplink, host).
const firstPodOFPort = 10

// attachmentStore holds the node's attachments and every ofport in use on
// the bridge (Cane requests each pod's ofport itself, see attach.go). Its
// lock is a leaf of the lock order (daemon.go): nothing else is locked and
// nothing blocks while it is held. Safe for concurrent use.
type attachmentStore struct {
	mu       sync.Mutex
	byHandle map[string]*attachment // by ipam handle
	ofports  map[int]bool
}

func newAttachmentStore() *attachmentStore {
	return &attachmentStore{byHandle: map[string]*attachment{}, ofports: map[int]bool{}}
}

// get is the attachment of a handle, nil if none.
func (s *attachmentStore) get(handle string) *attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byHandle[handle]
}

func (s *attachmentStore) put(handle string, a *attachment) {
	s.mu.Lock()
	s.byHandle[handle] = a
	s.mu.Unlock()
}

func (s *attachmentStore) remove(handle string) {
	s.mu.Lock()
	delete(s.byHandle, handle)
	s.mu.Unlock()
}

// list is every attachment, in no order. The attachments are shared:
// callers read them, never change them.
func (s *attachmentStore) list() []*attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*attachment, 0, len(s.byHandle))
	for _, a := range s.byHandle {
		out = append(out, a)
	}
	return out
}

// byHandles is a copy of the map of attachments by handle.
func (s *attachmentStore) byHandles() map[string]*attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*attachment, len(s.byHandle))
	for h, a := range s.byHandle {
		out[h] = a
	}
	return out
}

func (s *attachmentStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHandle)
}

// replace sets the whole store: what a reconcile rebuilt from IPAM and OVS.
func (s *attachmentStore) replace(atts map[string]*attachment, ofports []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byHandle = atts
	s.ofports = make(map[int]bool, len(ofports))
	for _, p := range ofports {
		s.ofports[p] = true
	}
}

// reserveOFPort takes the lowest free pod ofport.
func (s *attachmentStore) reserveOFPort() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := firstPodOFPort; ; p++ {
		if !s.ofports[p] {
			s.ofports[p] = true
			return p
		}
	}
}

// holdOFPort records an ofport OVS gave out without Cane asking for it.
func (s *attachmentStore) holdOFPort(p int) {
	s.mu.Lock()
	s.ofports[p] = true
	s.mu.Unlock()
}

func (s *attachmentStore) freeOFPort(p int) {
	s.mu.Lock()
	delete(s.ofports, p)
	s.mu.Unlock()
}

// borrowed counts borrower pods per loan.
func (s *attachmentStore) borrowed() map[string]int {
	n := map[string]int{}
	for _, a := range s.list() {
		if a.loan != "" {
			n[a.loan]++
		}
	}
	return n
}

// borrowerPods names borrower pods per loan, sorted.
func (s *attachmentStore) borrowerPods() map[string][]string {
	out := map[string][]string{}
	for _, a := range s.list() {
		if a.loan != "" {
			out[a.loan] = append(out[a.loan], podName(a.alloc))
		}
	}
	for _, ps := range out {
		sort.Strings(ps)
	}
	return out
}

// podNames maps ofports to pod names.
func (s *attachmentStore) podNames() map[uint32]string {
	out := map[uint32]string{}
	for _, a := range s.list() {
		out[uint32(a.ofport)] = podName(a.alloc)
	}
	return out
}

// find finds one attachment by namespace/name, IP, or container ID (or a
// unique prefix of it); node names the node in the error.
func (s *attachmentStore) find(sel, node string) (*attachment, error) {
	var found []*attachment
	for _, a := range s.list() {
		switch {
		case podName(a.alloc) == sel, a.alloc.IP.String() == sel, a.alloc.ContainerID == sel:
			return a, nil
		case strings.HasPrefix(a.alloc.ContainerID, sel):
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no pod %q on node %s (canectl pods lists them)", sel, node)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%q matches %d containers; give more of the ID", sel, len(found))
}

// podName is "namespace/name", else the container ID.
func podName(a ipam.Allocation) string {
	if a.PodName != "" {
		return a.PodNamespace + "/" + a.PodName
	}
	return a.ContainerID
}
