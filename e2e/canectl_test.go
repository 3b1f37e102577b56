package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/nodenet"
	"github.com/cane-cni/cane/ovs"
)

// canectl runs the CLI against node and returns its stdout and exit code.
func canectl(t *testing.T, node *testbed.Node, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "canectl"), append([]string{"--socket", node.Socket}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("canectl %v: %v", args, err)
	}
	return out.String() + errb.String(), cmd.ProcessState.ExitCode()
}

// canectlAdmin runs the CLI as an operator would for the verbs that write
// Loans (borrow, return): with the operator's kubeconfig, on the fabric
// (in the control plane's netns), not through any node's caned.
func canectlAdmin(t *testing.T, cp *testbed.ControlPlane, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"netns", "exec", filepath.Base(cp.NS.Path()), filepath.Join(binDir, "canectl")}, args...)
	cmd := exec.Command("ip", append(full, "--kubeconfig", cp.Kubeconfig)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("canectl %v: %v", args, err)
	}
	return out.String() + errb.String(), cmd.ProcessState.ExitCode()
}

// canectlJSON runs a verb with -o json, wants exit 0, and decodes into v.
func canectlJSON(t *testing.T, node *testbed.Node, v any, args ...string) {
	t.Helper()
	out, code := canectl(t, node, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("canectl %v: exit %d:\n%s", args, code, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("canectl %v: %v:\n%s", args, err, out)
	}
}

// trace runs canectl trace and returns the trace.
func trace(t *testing.T, node *testbed.Node, from *testbed.Pod, to string, args ...string) api.Trace {
	t.Helper()
	var tr api.Trace
	canectlJSON(t, node, &tr, append([]string{"trace", from.Name, to}, args...)...)
	return tr
}

// xray runs canectl xray and returns it with the exit code.
func xray(t *testing.T, node *testbed.Node) (api.XRay, int) {
	t.Helper()
	out, code := canectl(t, node, "xray", "-o", "json")
	var x api.XRay
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("xray: %v:\n%s", err, out)
	}
	return x, code
}

// failed names the failing checks of an xray.
func failed(x api.XRay) map[string]string {
	out := map[string]string{}
	for _, c := range x.Checks {
		if !c.OK {
			out[c.Name] = c.Detail
		}
	}
	return out
}

// wantXRay asserts the xray fails exactly the named check, with a detail
// containing detail (or passes, if check is "").
func wantXRay(t *testing.T, node *testbed.Node, check, detail string) {
	t.Helper()
	x, code := xray(t, node)
	bad := failed(x)
	if check == "" {
		if code != 0 || len(bad) != 0 || !x.OK {
			t.Fatalf("xray: exit %d, failed %v", code, bad)
		}
		return
	}
	got, ok := bad[check]
	if code != 1 || x.OK || !ok || !strings.Contains(got, detail) {
		t.Fatalf("xray: exit %d, failed %v; want %q failing with %q", code, bad, check, detail)
	}
}

// TestCanectl: every verb against a real node; trace verdicts; xray
// catches each injected fault and passes again once it is repaired.
func TestCanectl(t *testing.T) {
	tb, c, node := startNodeWith(t, crashBins(t)) // a subtest leaks an address by crashing caned
	prodA := mustAddPod(t, tb, c, node, "shop/prod-a", "prod")
	prodB := mustAddPod(t, tb, c, node, "shop/prod-b", "prod")
	testA := mustAddPod(t, tb, c, node, "qa/test-a", "test")

	t.Run("status pods pools blocks", func(t *testing.T) {
		var st api.Status
		canectlJSON(t, node, &st, "status")
		var pods []api.Pod
		canectlJSON(t, node, &pods, "pods")
		var pools []api.Pool
		canectlJSON(t, node, &pools, "pools")
		var blocks []api.Block
		canectlJSON(t, node, &blocks, "blocks")
		if !st.Ready || st.Pods != 3 || len(pods) != 3 || len(pools) != 2 || len(blocks) != 2 {
			t.Fatalf("status %+v, %d pods, %d pools, %d blocks", st, len(pods), len(pools), len(blocks))
		}
		for _, b := range blocks {
			if want := map[string]int{"prod": 2, "test": 1}[b.Pool]; b.Used != want || !b.CIDR.Contains(map[string]*testbed.Pod{"prod": prodA, "test": testA}[b.Pool].IP) {
				t.Errorf("block %+v, want %d used", b, want)
			}
		}
		for _, verb := range []string{"status", "pods", "pools", "blocks"} {
			if out, code := canectl(t, node, verb); code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
				t.Errorf("canectl %s: exit %d:\n%s", verb, code, out)
			}
		}
	})

	t.Run("flows by table and by pod", func(t *testing.T) {
		expect(t, false, 7600, [2]*testbed.Pod{prodA, testA})
		var fs []api.Flow
		canectlJSON(t, node, &fs, "flows", "--table", "DomainPolicy")
		var isolation uint64
		for _, f := range fs {
			if f.TableName != "DomainPolicy" {
				t.Errorf("flow of table %s listed", f.TableName)
			}
			if f.Reason == "isolation" {
				isolation += f.Packets
			}
		}
		if isolation == 0 {
			t.Errorf("no isolation drops counted in DomainPolicy: %+v", fs)
		}
		canectlJSON(t, node, &fs, "flows", "--pod", prodA.Name)
		if len(fs) != len(flows.PodFlows(flows.Pod{})) {
			t.Errorf("%d flows for %s", len(fs), prodA.Name)
		}
		for _, f := range fs {
			if f.Owner != prodA.Name || f.Kind != "pod" {
				t.Errorf("flow %+v not %s's", f, prodA.Name)
			}
		}
		if out, code := canectl(t, node, "flows", "--table", "Nope"); code != 1 || !strings.Contains(out, "DomainPolicy") {
			t.Errorf("unknown table: exit %d: %s", code, out)
		}
	})

	t.Run("trace verdicts", func(t *testing.T) {
		tr := trace(t, node, prodA, prodB.IP.String(), "--proto", "tcp", "--port", "443")
		if !tr.Delivered || !strings.Contains(tr.Verdict, "delivered to pod "+prodB.Name) {
			t.Errorf("same domain: %q", tr.Verdict)
		}
		tr = trace(t, node, prodA, testA.IP.String(), "--proto", "udp", "--port", "53")
		if tr.Delivered || tr.DropReason != "isolation" || !strings.Contains(tr.Verdict, "isolation: production → test") {
			t.Errorf("cross domain: %q", tr.Verdict)
		}
		tr = trace(t, node, prodA, prodB.IP.String(), "--proto", "icmp", "--src", "198.19.0.99")
		if tr.Delivered || tr.DropReason != "spoof" || !strings.Contains(tr.Verdict, "SpoofGuard") {
			t.Errorf("spoofed source: %q", tr.Verdict)
		}
		out, code := canectl(t, node, "trace", prodA.Name, testA.IP.String())
		if code != 0 || !strings.Contains(out, "30 DomainPolicy") || !strings.Contains(out, "verdict: dropped by DomainPolicy: isolation: production → test") {
			t.Errorf("trace table: exit %d:\n%s", code, out)
		}
	})

	t.Run("xray passes on a healthy node", func(t *testing.T) { wantXRay(t, node, "", "") })

	t.Run("xray catches a deleted flow", func(t *testing.T) {
		var fs []api.Flow
		canectlJSON(t, node, &fs, "flows", "--pod", prodB.Name, "--table", "Forward")
		if len(fs) != 1 {
			t.Fatalf("%s's Forward flows: %+v", prodB.Name, fs)
		}
		installed, err := node.OVS.OpenFlow().Dump(c, node.Config.Bridge, of.Selector{}.InTable(uint8(flows.Forward)))
		if err != nil {
			t.Fatal(err)
		}
		var b ovs.Bundle
		for _, f := range installed {
			if f.Priority == fs[0].Priority && slices.Contains(f.Matches, of.IPv4Dst(of.Host(prodB.IP))) {
				b.DeleteStrict(f.Flow)
			}
		}
		if err := node.OVS.OpenFlow().Apply(c, node.Config.Bridge, &b); err != nil {
			t.Fatal(err)
		}
		wantXRay(t, node, "flows match desired", "table=40, priority=200,ip,nw_dst="+prodB.IP.String())
		restartCaned(t, c, node) // reconcile puts it back
		wantXRay(t, node, "", "")
	})

	t.Run("xray catches a stray port", func(t *testing.T) {
		vsctl := func(args ...string) {
			t.Helper()
			full := append([]string{"--db=" + node.OVS.DBEndpoint(), "--timeout=10"}, args...)
			if out, err := exec.CommandContext(c, "ovs-vsctl", full...).CombinedOutput(); err != nil {
				t.Fatalf("ovs-vsctl %v: %v %s", args, err, out)
			}
		}
		vsctl("add-port", "br-int", "stray0", "--", "set", "Interface", "stray0", "type=internal")
		wantXRay(t, node, "ports match pods", "stray port stray0")
		vsctl("del-port", "br-int", "stray0")
		wantXRay(t, node, "", "")
	})

	t.Run("xray catches a leaked address, gc collects it", func(t *testing.T) {
		node.Env = []string{"CANE_CRASH_AT=add:allocated"}
		restartCaned(t, c, node)
		p, err := tb.NewPod(node, "shop/leaky", "prod")
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Add(c, p); err == nil {
			t.Fatal("ADD did not crash")
		}
		node.Env = nil
		restartCaned(t, c, node)
		wantXRay(t, node, "addresses match pods", "leaked address")
		var r api.GCReport
		canectlJSON(t, node, &r, "gc", "--dry-run")
		if len(r.Collected) != 1 || r.Collected[0].ContainerID != p.ContainerID {
			t.Fatalf("gc --dry-run: %+v", r)
		}
		wantXRay(t, node, "addresses match pods", "leaked address") // dry run changed nothing
		canectlJSON(t, node, &r, "gc")
		if len(r.Collected) != 1 || r.DryRun {
			t.Fatalf("gc: %+v", r)
		}
		wantXRay(t, node, "", "")
		assertOnly(t, c, node, prodA, prodB, testA)
	})

	t.Run("xray catches a lost host-port route", func(t *testing.T) {
		if out, err := exec.Command("ip", "-n", node.NetNSName(), "route", "del", "198.19.1.0/24", "dev", nodenet.HostPortName(200)).CombinedOutput(); err != nil {
			t.Fatalf("ip route del: %v: %s", err, out)
		}
		wantXRay(t, node, "host ports", "route 198.19.1.0/24 missing from main")
		restartCaned(t, c, node)
		wantXRay(t, node, "", "")
	})

	t.Run("xray catches a stopped ovs-vswitchd", func(t *testing.T) {
		if err := node.OVS.StopSwitch(); err != nil {
			t.Fatal(err)
		}
		wantXRay(t, node, "ovs-vswitchd reachable", "")
		if err := node.OVS.StartSwitch(c); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 20*time.Second, "caned replays the flows", func() bool {
			x, _ := xray(t, node)
			return x.OK
		})
		expect(t, true, 7610, [2]*testbed.Pod{prodA, prodB})
	})

	t.Run("helpful errors when caned is down", func(t *testing.T) {
		if err := node.StopCaned(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := node.StartCaned(c); err != nil {
				t.Fatal(err)
			}
		}()
		out, code := canectl(t, node, "pods")
		if code != 1 || !strings.Contains(out, "not reachable") || !strings.Contains(out, "next: check that caned runs") {
			t.Errorf("pods with caned down: exit %d: %s", code, out)
		}
		x, code := xray(t, node)
		if code != 1 || x.OK || failed(x)["caned reachable"] == "" {
			t.Errorf("xray with caned down: exit %d: %+v", code, x)
		}
	})
}

func restartCaned(t *testing.T, c context.Context, node *testbed.Node) {
	t.Helper()
	if err := node.StopCaned(); err != nil {
		t.Fatal(err)
	}
	if err := node.StartCaned(c); err != nil {
		t.Fatal(err)
	}
}
