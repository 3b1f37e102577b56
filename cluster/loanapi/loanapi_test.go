package loanapi

import (
	"context"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

// TestCreateGetEnd: what canectl borrow writes reads back the same, and
// return moves its end and nothing else.
func TestCreateGetEnd(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{Resource: "LoanList"})
	ctx := context.Background()
	start := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	l := Loan{Name: "sale", Borrower: "production", Lenders: []string{"test"}, NodeSelector: map[string]string{"cane.io/lendable": "true"},
		Percent: 35, LendBlocks: true, Start: start, End: start.Add(12 * time.Hour)}
	if err := Create(ctx, dyn, l); err != nil {
		t.Fatal(err)
	}
	got, err := Get(ctx, dyn, "sale")
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, l)
	}
	if err := Create(ctx, dyn, l); err == nil {
		t.Error("a second loan of the same name was created")
	}
	end := start.Add(time.Hour)
	if err := End(ctx, dyn, "sale", end); err != nil {
		t.Fatal(err)
	}
	got, _ = Get(ctx, dyn, "sale")
	want := l
	want.End = end
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after End: %+v, want %+v", got, want)
	}
	if err := End(ctx, dyn, "nope", end); err == nil {
		t.Error("ending a loan that does not exist succeeded")
	}
}
