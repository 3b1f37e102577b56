// Package loanapi is the Loan object (deploy/crds/loans.yaml) and what an
// operator does with it: create it, read it, move its end. These are an
// operator's acts, made with the operator's own credentials (canectl
// borrow|return --kubeconfig): a node's identity may not make them
// (deploy/admission.yaml). A leaf on client-go's dynamic client, so
// canectl links neither the typed clientset nor the rest of Cane's
// cluster store.
package loanapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Resource is the Loans' API resource.
var Resource = schema.GroupVersionResource{Group: "cane.io", Version: "v1alpha1", Resource: "loans"}

// Loan is a Loan object's name and spec.
type Loan struct {
	Name         string            `json:"-"`
	Borrower     string            `json:"borrower"`
	Lenders      []string          `json:"lenders,omitempty"`
	Nodes        []string          `json:"nodes,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	PodsPerNode  int               `json:"podsPerNode,omitempty"`
	Percent      int               `json:"percent,omitempty"`
	LendBlocks   bool              `json:"lendBlocks,omitempty"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
}

// Create creates a Loan object.
func Create(ctx context.Context, dyn dynamic.Interface, l Loan) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Resource.Group + "/" + Resource.Version, "kind": "Loan",
		"metadata": map[string]any{"name": l.Name}, "spec": spec,
	}}
	if _, err := dyn.Resource(Resource).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create loan %s: %w", l.Name, err)
	}
	return nil
}

// Get reads a Loan from the API.
func Get(ctx context.Context, dyn dynamic.Interface, name string) (Loan, error) {
	u, err := dyn.Resource(Resource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Loan{}, fmt.Errorf("get loan %s: %w", name, err)
	}
	l, err := Of(u)
	if err != nil {
		return Loan{}, err
	}
	return l, nil
}

// Of reads a Loan object.
func Of(u *unstructured.Unstructured) (Loan, error) {
	var o struct {
		Spec Loan `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
		return Loan{}, fmt.Errorf("loan %s: %w", u.GetName(), err)
	}
	o.Spec.Name = u.GetName()
	return o.Spec, nil
}

// End moves a loan's end to at (now, to return early; later, to extend
// it).
func End(ctx context.Context, dyn dynamic.Interface, name string, at time.Time) error {
	patch := fmt.Sprintf(`{"spec":{"end":%q}}`, at.UTC().Format(time.RFC3339))
	if _, err := dyn.Resource(Resource).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("end loan %s: %w", name, err)
	}
	return nil
}
