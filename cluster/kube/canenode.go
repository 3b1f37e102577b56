package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// CaneNodeSpec is a CaneNode's spec: what every other node needs of one
// node. Where each field comes from (the node's own Node object, which
// only its kubelet and admins write):
//   - VTEP: its cane.io/vtep annotation, else its first IPv4 InternalIP
//     (immutable in the CRD: a node that must change it deletes and
//     recreates its CaneNode, and is then younger than any node holding
//     that address);
//   - Addresses: its IPv4 InternalIPs and ExternalIPs, and the VTEP;
//   - Labels: every label of the Node, which Pools' and Loans'
//     nodeSelectors may name (a label change is rare; heartbeats and
//     status never touch these).
//
// The node's pod capacity is not here: only the node itself needs it, from
// its own Node.
type CaneNodeSpec struct {
	VTEP      string            `json:"vtep"`
	Addresses []string          `json:"addresses,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// CaneNodeStatus is a node's last check (xray and the isolation
// verifier), written by its caned to its own CaneNode's status.
type CaneNodeStatus struct {
	LastRun        time.Time     `json:"lastRun"`
	OK             bool          `json:"ok"`
	FailedChecks   []FailedCheck `json:"failedChecks,omitempty"`
	ViolationCount int           `json:"violationCount"`
	Violations     []Violation   `json:"violations,omitempty"` // the first MaxViolations
}

// MaxViolations is how many violations a CaneNode's status lists.
const MaxViolations = 16

// FailedCheck is one xray check that failed.
type FailedCheck struct {
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

// Violation is one isolation violation the verifier found, with a
// packet that shows it.
type Violation struct {
	Kind    string `json:"kind"` // isolation, spoof, loop, black-hole
	From    string `json:"from"`
	To      string `json:"to"`
	Witness string `json:"witness,omitempty"`
}

// SpecOf is the CaneNode spec that publishes n.
func SpecOf(n Node) CaneNodeSpec {
	s := CaneNodeSpec{VTEP: n.VTEP.String(), Labels: n.Labels}
	for _, a := range n.Addrs {
		s.Addresses = append(s.Addresses, a.String())
	}
	return s
}

// nodeOf parses a CaneNode object.
func nodeOf(u *unstructured.Unstructured) (Node, error) {
	var o struct {
		Spec CaneNodeSpec `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
		return Node{}, err
	}
	n := Node{Name: u.GetName(), Created: u.GetCreationTimestamp().Time, Labels: o.Spec.Labels}
	var err error
	if n.VTEP, err = netip.ParseAddr(o.Spec.VTEP); err != nil {
		return Node{}, fmt.Errorf("vtep: %w", err)
	}
	for _, s := range o.Spec.Addresses {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Node{}, fmt.Errorf("address: %w", err)
		}
		n.Addrs = append(n.Addrs, a)
	}
	for _, r := range u.GetOwnerReferences() {
		if r.Kind == "Node" {
			n.UID = string(r.UID)
		}
	}
	return n, nil
}

// samePublished: a CaneNode already says what n would publish (its owner
// included), so there is nothing to write.
func samePublished(have, n Node) bool {
	return have.VTEP == n.VTEP && slices.Equal(have.Addrs, n.Addrs) && maps.Equal(have.Labels, n.Labels) && have.UID == n.UID
}

// PublishNode makes the cluster's CaneNode of self say what self says: it
// writes only when that changed (compared with the watch's cache, so a
// restart with nothing changed writes nothing). It creates the CaneNode,
// owned by its Node (Kubernetes' garbage collector deletes it with the
// node), or updates it; a changed VTEP, which the CRD keeps immutable,
// deletes it and creates it again. It reports whether it wrote.
// Idempotent; the caller bounds it with ctx.
func (w *Watcher) PublishNode(ctx context.Context, self Node) (bool, error) {
	if !self.VTEP.Is4() || self.UID == "" {
		return false, fmt.Errorf("node %s has no IPv4 tunnel endpoint (cane.io/vtep annotation or InternalIP) yet", self.Name)
	}
	have, cached := w.cachedCaneNode(self.Name)
	if cached && samePublished(have.Node, self) {
		return false, nil
	}
	res := w.Dynamic.Resource(CaneNodesResource)
	if cached && have.VTEP != self.VTEP {
		uid := types.UID(have.objectUID)
		err := res.Delete(ctx, self.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("delete CaneNode %s to change its VTEP: %w", self.Name, err)
		}
	}
	data, err := json.Marshal(caneNodeObject(self))
	if err != nil {
		return false, err
	}
	force := true
	if _, err := res.Patch(ctx, self.Name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
		return false, fmt.Errorf("apply CaneNode %s: %w", self.Name, err)
	}
	return true, nil
}

// fieldManager is caned's name in server-side apply.
const fieldManager = "caned"

// caneNodeObject is the applied configuration of self's CaneNode.
func caneNodeObject(self Node) map[string]any {
	return map[string]any{
		"apiVersion": Group + "/" + Version, "kind": "CaneNode",
		"metadata": map[string]any{
			"name":            self.Name,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": self.Name, "uid": self.UID}},
		},
		"spec": SpecOf(self),
	}
}

// ReportNodeStatus writes node's last check into its CaneNode's status
// (a merge patch of the status subresource: no read, no conflict). The
// admission policy lets a node write only its own.
func (w *Watcher) ReportNodeStatus(ctx context.Context, node string, st CaneNodeStatus) error {
	if len(st.Violations) > MaxViolations {
		st.Violations = st.Violations[:MaxViolations]
	}
	st.LastRun = st.LastRun.UTC().Truncate(time.Second)
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	_, err = w.Dynamic.Resource(CaneNodesResource).Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("report the check of node %s: %w", node, err)
	}
	return nil
}
