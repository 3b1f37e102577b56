package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// TestVerify: a node's installed flows (three pods, two host ports) verify with 0 violations and xray
// says so; a too-wide allow injected into the bridge is found with a
// witness that `trace --witness` shows delivered to the other domain's
// pod; removing it proves the node again.
func TestVerify(t *testing.T) {
	n := newNode(t)
	n.addPod("prod-a", "prod")
	n.addPod("prod-b", "prod")
	n.addPod("test-a", "test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := n.d.inspect.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Proven || v.Sources != 5 || v.Classes == 0 {
		t.Fatalf("a correct node: %+v", v)
	}
	t.Log(v.Summary, v.Millis, "ms")
	if c := xrayCheck(t, n, "isolation"); !c.OK || !strings.HasPrefix(c.Detail, "isolation proven: 5 sources") {
		t.Fatalf("xray: %+v", c)
	}

	wide := of.NewFlow(uint8(flows.DomainPolicy), uint16(flows.PolicyAllow), uint64(flows.NewCookie(n.d.pipe.currentRound(), flows.KindBase, 0, 0))).
		Proto(of.ProtoIP).Match(flows.RegDomain.Match(100), of.IPv4Dst(n.cfg.Pools[1].CIDR)).Do(of.Goto{Table: uint8(flows.Forward)})
	apply(t, n, func(b *ovs.Bundle) { b.Add(wide) })
	v, err = n.d.inspect.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found *api.Violation
	for k, x := range v.Violations {
		if x.Kind == "isolation" && x.From == "production" && x.ToDomain == "test" && strings.HasPrefix(x.To, "pod ") {
			found = &v.Violations[k]
		}
	}
	if v.Proven || found == nil {
		t.Fatalf("the wide allow is not found: %+v", v)
	}
	tr, err := n.d.inspect.TraceWitness(ctx, api.TraceRequest{Witness: found.Witness})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Delivered || !strings.Contains(tr.Verdict, "delivered to pod") || tr.From.Domain != "production" {
		t.Fatalf("trace --witness %s: %+v", found.Witness, tr)
	}
	if c := xrayCheck(t, n, "isolation"); c.OK || !strings.Contains(c.Detail, "production reaches test") {
		t.Fatalf("xray: %+v", c)
	}
	apply(t, n, func(b *ovs.Bundle) { b.DeleteStrict(wide) })
	if v, err = n.d.inspect.Verify(ctx); err != nil || !v.Proven {
		t.Fatalf("after removing the fault: %+v, %v", v, err)
	}
}

func xrayCheck(t *testing.T, n *node, name string) api.Check {
	t.Helper()
	for _, c := range n.d.inspect.XRay(context.Background()).Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("xray has no %q line", name)
	return api.Check{}
}

func apply(t *testing.T, n *node, f func(*ovs.Bundle)) {
	t.Helper()
	var b ovs.Bundle
	f(&b)
	if err := n.d.pipe.of.Apply(context.Background(), "br-int", &b); err != nil {
		t.Fatal(err)
	}
}
