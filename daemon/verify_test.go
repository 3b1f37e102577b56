package daemon

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/verify"
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
	if !v.Proven || v.Sources != 5 || v.Classes == 0 { // three pods and a host port per domain
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

// TestVerifyBudget: a verification past its budget is xray's isolation
// line failed, with the budget it ran out of as the reason; within it,
// the line says what was proven. A deadline sooner than verifyLimits'
// time bounds the verification instead.
func TestVerifyBudget(t *testing.T) {
	n := flows.Node{
		GatewayMAC: net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 1}, Overlay: true, NodeAddrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		Domains: []flows.Domain{{Name: "production", VNI: 100}, {Name: "test", VNI: 200}},
		HostPorts: []flows.HostPort{{Domain: "production", OFPort: 0xf000, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 100}},
			{Domain: "test", OFPort: 0xf001, MAC: net.HardwareAddr{0x0a, 0x58, 0xff, 0, 0, 200}}},
		Pools: []flows.Pool{{Name: "prod", Domain: "production", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1")},
			{Name: "test", Domain: "test", CIDR: netip.MustParsePrefix("198.19.1.0/24"), Gateway: netip.MustParseAddr("198.19.1.1")}},
		Pods: []flows.Pod{{OFPort: 10, MAC: net.HardwareAddr{0x0a, 0x58, 198, 19, 0, 2}, IP: netip.MustParseAddr("198.19.0.2"), VNI: 100},
			{OFPort: 11, MAC: net.HardwareAddr{0x0a, 0x58, 198, 19, 1, 2}, IP: netip.MustParseAddr("198.19.1.2"), VNI: 200}},
		Remotes: []flows.RemoteNode{{Name: "node2", VTEP: netip.MustParseAddr("198.18.0.2"), Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
			Blocks: []flows.RemoteBlock{{CIDR: netip.MustParsePrefix("198.19.0.128/26"), Pool: "prod"}}}},
	}
	var fs []ovs.FlowStats
	for _, f := range n.All() {
		fs = append(fs, ovs.FlowStats{Flow: f})
	}
	i := &inspector{cfg: &Config{Node: "node1", Bridge: "br-int"}}
	for _, tc := range []struct {
		name   string
		lim    verify.Limits
		ok     bool
		detail string
	}{
		{name: "within the budget", lim: verifyLimits, ok: true, detail: "isolation proven: 5 sources"},
		{name: "out of time", lim: verify.Limits{Time: time.Nanosecond}, detail: "isolation not proven: budget exceeded (time: more than 1ns)"},
		{name: "out of classes", lim: verify.Limits{Classes: 10}, detail: "isolation not proven: budget exceeded (classes: more than 10 header classes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, proven := isolationCheck(i.verifyFlows(fs, verify.FromNode(n), tc.lim))
			t.Log(problems, proven)
			if ok := len(problems) == 0; ok != tc.ok {
				t.Fatalf("ok %v, want %v: %v %q", ok, tc.ok, problems, proven)
			}
			if got := strings.Join(append(problems, proven), "; "); !strings.HasPrefix(got, tc.detail) {
				t.Errorf("line %q, want it to start %q", got, tc.detail)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if lim := limitsFor(ctx); lim.Time > time.Second || lim.Heap != verifyLimits.Heap {
		t.Errorf("limits within a deadline of 1s: %+v", lim)
	}
	if lim := limitsFor(context.Background()); lim != verifyLimits {
		t.Errorf("limits without a deadline: %+v, want %+v", lim, verifyLimits)
	}
}
