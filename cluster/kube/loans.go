package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// CreateLoan creates a Loan object.
func (w *Watcher) CreateLoan(ctx context.Context, l Loan) error {
	spec, err := toMap(l)
	if err != nil {
		return err
	}
	delete(spec, "Name")
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/" + Version, "kind": "Loan",
		"metadata": map[string]any{"name": l.Name}, "spec": spec,
	}}
	_, err = w.Dynamic.Resource(LoansResource).Create(ctx, u, metav1.CreateOptions{})
	return err
}

// EndLoan moves a loan's end to at (now, to return early; later, to
// extend it).
func (w *Watcher) EndLoan(ctx context.Context, name string, at time.Time) error {
	patch := fmt.Sprintf(`{"spec":{"end":%q}}`, at.UTC().Format(time.RFC3339))
	_, err := w.Dynamic.Resource(LoansResource).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

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
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: loan + ".", Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{APIVersion: Group + "/" + Version, Kind: "Loan", Name: loan},
		Reason:         reason, Message: message, Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "caned", Host: node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err := w.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{})
	return err
}

func toMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}
