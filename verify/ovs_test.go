package verify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
	"github.com/cane-cni/cane/verify"
)

// TestMutationsOnOVS: the sale-night node's flows installed on a real OVS
// and read back verify with 0 violations; each fault of issue 21 injected
// into them is caught, and ofproto/trace of every witness takes the path
// the verifier says, flow by flow. The mutation table goes to the log.
func TestMutationsOnOVS(t *testing.T) {
	n := verify.SaleNightForTest(4)
	sw := newSwitch(t, n)
	in := verify.FromNode(n)
	rep := sw.verify(t, in)
	if !rep.Proven() {
		t.Fatalf("the correct node: %s: %v", rep.Summary(), rep.Violations)
	}
	table := []string{fmt.Sprintf("%-58s %-7s %s", "FAULT", "CAUGHT", "WITNESS (ofproto/trace confirms its path)"),
		fmt.Sprintf("%-58s %-7s %s", "none (the node as built)", "-", rep.Summary())}
	for _, m := range verify.MutationsForTest(n) {
		sw.inject(t, m.Remove, m.Add)
		rep := sw.verify(t, in)
		caught := "no"
		var witness string
		for _, v := range rep.Violations {
			dp := sw.replay(t, v)
			if v.Kind == m.Want && strings.Contains(v.String(), m.Detail) && witness == "" {
				caught, witness = "yes", fmt.Sprintf("%s: %s -> %s (datapath: %s)", v.Kind, v.Witness, v.To, dp)
			}
		}
		if caught == "no" {
			t.Errorf("%s: not caught (%s)", m.Name, rep.Summary())
		}
		table = append(table, fmt.Sprintf("%-58s %-7s %s", m.Name, caught, witness))
		sw.inject(t, m.Add, m.Remove) // undo
	}
	if rep := sw.verify(t, in); !rep.Proven() {
		t.Errorf("after undoing the faults: %s", rep.Summary())
	}
	t.Logf("mutation table:\n%s", strings.Join(table, "\n"))
}

// aSwitch is a private OVS with the node's ports and flows.
type aSwitch struct {
	o   *ovstest.Instance
	ctx context.Context
}

func newSwitch(t *testing.T, n flows.Node) *aSwitch {
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := o.DB.EnsureBridge(ctx, ovs.BridgeConfig{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	ports := []ovs.PortConfig{
		{Bridge: "br-int", Name: "cane-tun", Type: "vxlan", OFPortRequest: flows.TunnelOFPort, Options: map[string]string{"remote_ip": "flow", "key": "flow"}},
	}
	for _, hp := range n.HostPorts {
		ports = append(ports, ovs.PortConfig{Bridge: "br-int", Name: "host-" + hp.Domain, Type: "internal", OFPortRequest: int(hp.OFPort)})
	}
	for _, p := range n.Pods {
		ports = append(ports, ovs.PortConfig{Bridge: "br-int", Name: fmt.Sprintf("pod%d", p.OFPort), Type: "internal", OFPortRequest: int(p.OFPort)})
	}
	for _, p := range ports {
		if _, err := o.DB.AddPort(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var b ovs.Bundle
	b.Add(n.All()...)
	if err := o.OpenFlow().Apply(ctx, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	return &aSwitch{o: o, ctx: ctx}
}

// verify verifies the flows the switch has, as it dumps them.
func (sw *aSwitch) verify(t *testing.T, in verify.Input) verify.Report {
	t.Helper()
	dump, err := sw.o.OpenFlow().Dump(sw.ctx, "br-int", of.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	fs := make([]of.Flow, len(dump))
	for i, f := range dump {
		fs[i] = f.Flow
	}
	rep, err := verify.Verify(fs, in)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// inject deletes flows (strictly, by key) and adds others, in one bundle.
func (sw *aSwitch) inject(t *testing.T, remove, add []of.Flow) {
	t.Helper()
	var b ovs.Bundle
	for _, f := range remove {
		b.DeleteStrict(f)
	}
	b.Add(add...)
	if err := sw.o.OpenFlow().Apply(sw.ctx, "br-int", &b); err != nil {
		t.Fatal(err)
	}
}

// replay traces a violation's witness and requires the path the verifier
// gave: the same flows (table, priority, cookie), in order, each
// recirculation in the ct_state the witness names (--ct-next). A witness
// that needs a connection committed with a ct_mark cannot be replayed:
// ofproto/trace runs no tracker (it says so, and is skipped).
func (sw *aSwitch) replay(t *testing.T, v verify.Violation) string {
	t.Helper()
	for _, m := range v.Witness.CTMark {
		if m != 0 {
			return fmt.Sprintf("not replayable: needs a connection committed with ct_mark %#x", m)
		}
	}
	args := []string{"ofproto/trace", "br-int", v.Witness.String()}
	for _, st := range v.Witness.CTNext {
		args = append(args, "--ct-next", st)
	}
	out, err := sw.o.Appctl(sw.ctx, "ovs-vswitchd", args...)
	if err != nil {
		t.Fatalf("trace %s: %v", v.Witness, err)
	}
	tr, err := ovs.ParseTrace(out)
	if err != nil {
		t.Fatalf("trace %s: %v", v.Witness, err)
	}
	var want, got []string
	for _, h := range v.Path {
		if !h.Clause && h.Conntrack == "" {
			want = append(want, fmt.Sprintf("%d/%d/%#x", h.Table, h.Priority, h.Cookie))
		}
	}
	for _, s := range tr.Steps {
		got = append(got, fmt.Sprintf("%d/%d/%#x", s.Table, s.Priority, uint64(s.Cookie)))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s\n  ofproto/trace of %s --ct-next %v took %v\n  the verifier says     %v\n%s", v, v.Witness, v.Witness.CTNext, got, want, out)
	}
	if len(got) == 0 {
		t.Errorf("ofproto/trace of %s shows no step:\n%s", v.Witness, out)
	}
	return tr.DatapathActions
}

// TestCTWitnessOnOVS: a witness through conntrack replays with the
// ct_state it names (ofproto/trace --ct-next): the recirculated packet
// takes the verifier's path. (ofproto/trace does not run the connection
// tracker, so a path that needs a committed ct_mark cannot be replayed;
// this pipeline's established branch does not read the mark.)
func TestCTWitnessOnOVS(t *testing.T) {
	fs, in := verify.CTForTest()
	o := ovstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := o.DB.EnsureBridge(ctx, ovs.BridgeConfig{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range in.Ports {
		if _, err := o.DB.AddPort(ctx, ovs.PortConfig{Bridge: "br-int", Name: p.Name, Type: "internal", OFPortRequest: int(p.OFPort)}); err != nil {
			t.Fatal(err)
		}
	}
	var b ovs.Bundle
	b.Add(fs...)
	if err := o.OpenFlow().Apply(ctx, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	sw := &aSwitch{o: o, ctx: ctx}
	rep := sw.verify(t, in)
	replayed := 0
	for _, v := range rep.Violations {
		if len(v.Witness.CTNext) == 0 {
			continue
		}
		args := []string{"ofproto/trace", "br-int", v.Witness.String()}
		for _, st := range v.Witness.CTNext {
			args = append(args, "--ct-next", st)
		}
		out, err := o.Appctl(ctx, "ovs-vswitchd", args...)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ovs.ParseTrace(out)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, h := range v.Path {
			if h.Conntrack == "" {
				want = append(want, fmt.Sprintf("%d/%d", h.Table, h.Priority))
			}
		}
		for _, s := range tr.Steps {
			got = append(got, fmt.Sprintf("%d/%d", s.Table, s.Priority))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s --ct-next %v: trace took %v, the verifier says %v\n%s", v.Witness, v.Witness.CTNext, got, want, out)
		}
		t.Logf("%s: %s --ct-next %s -> %s", v.Kind, v.Witness, strings.Join(v.Witness.CTNext, " "), tr.DatapathActions)
		replayed++
	}
	if replayed == 0 {
		t.Fatalf("no witness through conntrack: %v", rep.Violations)
	}
}
