package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ReportLoan writes this node's line of the loan's status. A merge patch
// of status.nodes.<node> touches no other node's line, so lent nodes never
// conflict.
func (w *Watcher) ReportLoan(ctx context.Context, loan, node string, r LoanReport) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"nodes": map[string]any{node: r}}})
	if err != nil {
		return err
	}
	_, err = w.Dynamic.Resource(LoansResource).Patch(ctx, loan, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// LoanEvent records a Kubernetes Event about a loan (kubectl describe
// loan, kubectl get events).
func (w *Watcher) LoanEvent(ctx context.Context, loan, node, reason, message string) error {
	return w.event(ctx, corev1.ObjectReference{APIVersion: Group + "/" + Version, Kind: "Loan", Name: loan}, node, corev1.EventTypeNormal, reason, message)
}

// IgnoredEvent records a Warning Event about an object caned left out of
// its view (kind is Cane's kind, or Node), with why in the message.
func (w *Watcher) IgnoredEvent(ctx context.Context, kind, name, node, message string) error {
	ref := corev1.ObjectReference{APIVersion: Group + "/" + Version, Kind: kind, Name: name}
	if kind == "Node" || kind == "Namespace" {
		ref.APIVersion = "v1"
	}
	return w.event(ctx, ref, node, corev1.EventTypeWarning, ReasonIgnored, message)
}

// ReasonIgnored is the reason of the Warning Event about an object a node
// ignores (kubectl get events --field-selector reason=CaneIgnored).
const ReasonIgnored = "CaneIgnored"

// event creates one Event in the default namespace (Cane's objects are
// cluster-scoped) about ref, from caned on node.
func (w *Watcher) event(ctx context.Context, ref corev1.ObjectReference, node, kind, reason, message string) error {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: strings.ToLower(ref.Kind) + "." + ref.Name + ".", Namespace: metav1.NamespaceDefault},
		InvolvedObject: ref, Reason: reason, Message: message, Type: kind,
		Source:         corev1.EventSource{Component: "caned", Host: node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "cane.io/caned", ReportingInstance: node,
	}
	if _, err := w.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("event %s about %s %s: %w", reason, ref.Kind, ref.Name, err)
	}
	return nil
}
