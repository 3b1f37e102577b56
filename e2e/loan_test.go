package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
)

// saleNightObjects: production, test and preview each on their own nodes.
const saleNightObjects = `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: preview}
spec: {vni: 400}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: preview}
spec: {domain: preview, cidr: 198.19.3.0/24, gateway: 198.19.3.1, blockSize: 28, nodeSelector: {cane.io/role: preview}}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: prod}
spec: {domain: production, cidr: 198.19.0.0/24, gateway: 198.19.0.1, blockSize: 28, nodeSelector: {cane.io/role: production}}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: test}
spec: {domain: test, cidr: 198.19.1.0/24, gateway: 198.19.1.1, blockSize: 28, nodeSelector: {cane.io/role: test}}
`

// blockSet is every Block object as "name@node".
func blockSet(t *testing.T, cp *testbed.ControlPlane) []string {
	t.Helper()
	out, err := cp.Kubectl(ctx(t), "get", "blocks.cane.io", "-o", "json")
	if err != nil {
		t.Fatalf("get blocks: %v %s", err, out)
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ Node string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, b := range list.Items {
		s = append(s, b.Metadata.Name+"@"+b.Spec.Node)
	}
	sort.Strings(s)
	return s
}

// cniCode is the CNI error code in err, 0 if none.
func cniCode(err error) uint {
	var e *types.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// addWhenAdmitted retries ADD until the node admits the pod (a new loan
// reaches it), and says how long that took.
func addWhenAdmitted(t *testing.T, tb *testbed.Testbed, node *testbed.Node, name, pool string) (*testbed.Pod, time.Duration) {
	t.Helper()
	var pod *testbed.Pod
	took := waitUntil(t, 10*time.Second, name+" admitted on "+node.Name, func() bool {
		p, err := tb.NewPod(node, name, pool)
		if err != nil {
			t.Fatal(err)
		}
		if tb.Add(ctx(t), p) == nil {
			pod = p
			return true
		}
		return false
	})
	return pod, took
}

// TestSaleNight: production borrows 35% of the test and preview nodes for
// a sale. Before, during and after, every pair of domains stays sealed,
// on one node and across nodes; during, production pods on the lent nodes
// serve production pods elsewhere; after, they drain, their blocks return
// and the address space is exactly as before.
func TestSaleNight(t *testing.T) {
	tb, cp := startControlPlane(t)
	c := ctx(t)
	manifest, err := os.ReadFile(clusterObjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(c, string(manifest)+"\n---\n"+saleNightObjects); err != nil {
		t.Fatal(err)
	}
	var nodes []*testbed.Node
	for i, role := range []string{"production", "test", "preview"} {
		node, err := tb.JoinNode(c, cp, fmt.Sprintf("node%d", i+1), i+1, map[string]string{"cane.io/role": role})
		if err != nil {
			t.Fatal(err)
		}
		// Six pods per node: 35% lends two.
		if out, err := cp.Kubectl(c, "patch", "node", node.Name, "--subresource=status", "--type=merge", "-p", `{"status":{"allocatable":{"pods":"6"},"capacity":{"pods":"6"}}}`); err != nil {
			t.Fatalf("node capacity: %v %s", err, out)
		}
		nodes = append(nodes, node)
	}
	prodNode, testNode, previewNode := nodes[0], nodes[1], nodes[2]
	if out, err := cp.Kubectl(c, "apply", "--dry-run=server", "-f", "../deploy/examples/loan.yaml"); err != nil {
		t.Errorf("example loan: %v %s", err, out)
	}
	bad := `{"apiVersion":"cane.io/v1alpha1","kind":"Loan","metadata":{"name":"bad"},"spec":{"borrower":"production","nodes":["node2"],"podsPerNode":2,"percent":10,"start":"2026-11-27T18:00:00Z","end":"2026-11-27T17:00:00Z"}}`
	if err := cp.Apply(c, bad); err == nil {
		t.Error("the apiserver accepted a loan with two limits that ends before it starts")
	}
	prodA := mustAddPod(t, tb, c, prodNode, "shop/web", "prod")
	testA := mustAddPod(t, tb, c, testNode, "qa/runner", "test")
	previewA := mustAddPod(t, tb, c, previewNode, "pr/preview", "preview")
	blocksBefore := blockSet(t, cp)
	port := 7100
	sealed := func(t *testing.T, pairs ...[2]*testbed.Pod) {
		t.Helper()
		var all [][2]*testbed.Pod
		for _, p := range pairs {
			all = append(all, p, [2]*testbed.Pod{p[1], p[0]})
		}
		port += 10
		expect(t, false, port, all...)
	}

	t.Run("before: domains sealed, no production pod on a test node", func(t *testing.T) {
		sealed(t, [2]*testbed.Pod{prodA, testA}, [2]*testbed.Pod{prodA, previewA}, [2]*testbed.Pod{testA, previewA})
		if _, err := tb.AddPod(c, testNode, "shop/early", "prod"); cniCode(err) != api.CodeNotLent {
			t.Errorf("production pod on a test node without a loan: %v, want code %d", err, api.CodeNotLent)
		}
	})

	var borrowers []*testbed.Pod
	t.Run("during: production runs on lent nodes, isolated", func(t *testing.T) {
		start := time.Now()
		out, code := canectlAdmin(t, cp, "borrow", "sale", "--to", "production", "--from", "test,preview",
			"--nodes", testNode.Name+","+previewNode.Name, "--percent", "35", "--for", "1h")
		if code != 0 {
			t.Fatalf("borrow: %s", out)
		}
		first, took := addWhenAdmitted(t, tb, testNode, "shop/sale-1", "prod")
		t.Logf("loan start -> first borrower pod running on a lent node: %s (%s after the borrow command)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		borrowers = append(borrowers, first,
			mustAddPod(t, tb, c, testNode, "shop/sale-2", "prod"),
			mustAddPod(t, tb, c, previewNode, "shop/sale-3", "prod"),
			mustAddPod(t, tb, c, previewNode, "shop/sale-4", "prod"))
		for _, b := range borrowers {
			if !prodA.IP.IsValid() || !strings.HasPrefix(b.IP.String(), "198.19.0.") {
				t.Errorf("%s got %s, not a production address", b.Name, b.IP)
			}
		}
		_, err := tb.AddPod(c, testNode, "shop/sale-5", "prod")
		if cniCode(err) != api.CodeLoanFull || !strings.Contains(err.Error(), "loan sale allows 2") {
			t.Errorf("third borrower pod on node2: %v, want code %d naming the loan's limit", err, api.CodeLoanFull)
		}
		port += 10
		expect(t, true, port, [2]*testbed.Pod{prodA, borrowers[0]}, [2]*testbed.Pod{borrowers[0], prodA},
			[2]*testbed.Pod{prodA, borrowers[3]}, [2]*testbed.Pod{borrowers[1], borrowers[2]})
		sealed(t,
			[2]*testbed.Pod{borrowers[0], testA}, [2]*testbed.Pod{borrowers[2], previewA}, // same node
			[2]*testbed.Pod{borrowers[0], previewA}, [2]*testbed.Pod{borrowers[3], testA}, // across nodes
			[2]*testbed.Pod{prodA, testA}, [2]*testbed.Pod{testA, previewA})
		// A borrower pod forging a test pod's address gets nowhere.
		spoofBefore, _ := testNode.Drops(c, flows.ReasonSpoof)
		forged := testbed.Frame{SrcMAC: borrowers[0].MAC, DstMAC: testA.MAC}.UDP(testA.IP, testA.IP, 9, 9, []byte("spoof"))
		if err := testbed.SendFrame(borrowers[0].NS, "eth0", forged, forged); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 5*time.Second, "both forged frames counted as spoof drops (datapath stats lag)", func() bool {
			after, _ := testNode.Drops(c, flows.ReasonSpoof)
			return after >= spoofBefore+2
		})
		var ls []api.Loan
		canectlJSON(t, testNode, &ls, "loans")
		if len(ls) != 1 || ls[0].Phase != "Active" || !ls[0].LendsHere || ls[0].Limit != 2 || len(ls[0].Pods) != 2 {
			t.Errorf("canectl loans on node2: %+v", ls)
		}
		end := ls[0].End
		if out, code := canectlAdmin(t, cp, "return", "sale", "--extend", "2h"); code != 0 {
			t.Fatalf("extend: %s", out)
		}
		waitUntil(t, 10*time.Second, "the extension reaches node2", func() bool {
			canectlJSON(t, testNode, &ls, "loans")
			return len(ls) == 1 && ls[0].End.Equal(end.Add(2*time.Hour)) && ls[0].Phase == "Active"
		})
	})

	t.Run("after: refused by name, running pods drain, blocks return", func(t *testing.T) {
		if out, code := canectlAdmin(t, cp, "return", "sale"); code != 0 {
			t.Fatalf("return: %s", out)
		}
		waitUntil(t, 10*time.Second, "node2 refuses new production pods, naming the loan", func() bool {
			_, err := tb.AddPod(c, testNode, "shop/late", "prod")
			return cniCode(err) == api.CodeNotLent && strings.Contains(err.Error(), "loan sale") && strings.Contains(err.Error(), "draining")
		})
		port += 10
		expect(t, true, port, [2]*testbed.Pod{prodA, borrowers[0]}, [2]*testbed.Pod{borrowers[3], prodA})
		waitUntil(t, 15*time.Second, "the Loan's status reports node2's pods for draining, with an event", func() bool {
			out, _ := cp.Kubectl(c, "get", "loans.cane.io", "sale", "-o", "json")
			var l struct {
				Status struct {
					Nodes map[string]struct {
						Draining bool
						Pods     []string
					}
				}
			}
			_ = json.Unmarshal([]byte(out), &l)
			events, _ := cp.Kubectl(c, "get", "events", "-n", "default", "--field-selector", "involvedObject.name=sale", "-o", "name")
			n2 := l.Status.Nodes[testNode.Name]
			return n2.Draining && len(n2.Pods) == 2 && strings.TrimSpace(events) != ""
		})
		drain := time.Now()
		for _, b := range borrowers {
			if err := tb.Del(c, b); err != nil {
				t.Fatal(err)
			}
		}
		took := waitUntil(t, 20*time.Second, "the borrowed blocks return", func() bool {
			return strings.Join(blockSet(t, cp), " ") == strings.Join(blocksBefore, " ")
		})
		t.Logf("drain -> blocks returned: %s (%s since the first DEL)", took.Round(time.Millisecond), time.Since(drain).Round(time.Millisecond))
		// No stale route: the production node forwards nothing to the lent nodes' old blocks.
		waitUntil(t, 10*time.Second, "node1 drops its routes to the returned blocks", func() bool {
			var fs []api.Flow
			canectlJSON(t, prodNode, &fs, "flows", "--table", "Forward")
			for _, f := range fs {
				if strings.Contains(f.Match, "198.19.0.") && f.Kind == "node" {
					return false
				}
			}
			return true
		})
		sealed(t, [2]*testbed.Pod{prodA, testA}, [2]*testbed.Pod{prodA, previewA}, [2]*testbed.Pod{testA, previewA})
		for _, n := range nodes {
			wantXRay(t, n, "", "")
		}
	})
}

// lendObjects: production's only pool is one block, already held by its
// own node, so a borrower pod elsewhere finds it dry.
const lendObjects = `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: production}
spec: {vni: 100}
---
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: test}
spec: {vni: 200}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: prod-small}
spec: {domain: production, cidr: 198.19.4.0/28, gateway: 198.19.4.1, blockSize: 28, nodeSelector: {cane.io/role: production}}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: test}
spec: {domain: test, cidr: 198.19.1.0/24, gateway: 198.19.1.1, blockSize: 28, nodeSelector: {cane.io/role: test}}
`

// TestLoanLendsBlocks: the borrower's pools are dry, so the lent node lends
// a block of the lender's pool to the borrower for the loan. The block's
// addresses are production's — reachable from production across nodes,
// sealed from the test pods that share its subnet — and the block returns
// to the test pool after the loan, leaving no route behind.
func TestLoanLendsBlocks(t *testing.T) {
	tb, cp := startControlPlane(t)
	c := ctx(t)
	if err := cp.Apply(c, lendObjects); err != nil {
		t.Fatal(err)
	}
	var nodes []*testbed.Node
	for i, role := range []string{"production", "test"} {
		node, err := tb.JoinNode(c, cp, fmt.Sprintf("node%d", i+1), i+1, map[string]string{"cane.io/role": role})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node)
	}
	prodNode, testNode := nodes[0], nodes[1]
	prodA := mustAddPod(t, tb, c, prodNode, "shop/web", "prod-small")
	testA := mustAddPod(t, tb, c, testNode, "qa/runner", "test")
	blocksBefore := blockSet(t, cp)

	if out, code := canectlAdmin(t, cp, "borrow", "flash", "--to", "production", "--from", "test", "--nodes", testNode.Name,
		"--pods-per-node", "3", "--lend-blocks", "--for", "1h"); code != 0 {
		t.Fatalf("borrow: %s", out)
	}
	borrower, _ := addWhenAdmitted(t, tb, testNode, "shop/flash-1", "prod-small")
	lent := netip.PrefixFrom(borrower.IP, 28).Masked()
	if !netip.MustParsePrefix("198.19.1.0/24").Contains(borrower.IP) || lent.Contains(testA.IP) {
		t.Fatalf("borrower got %s (block %s), test pod %s: want a test block of its own", borrower.IP, lent, testA.IP)
	}
	var blocks []api.Block
	canectlJSON(t, testNode, &blocks, "blocks")
	lentShown := false
	for _, b := range blocks {
		lentShown = lentShown || (b.CIDR == lent && b.LentTo == "production" && b.Loan == "flash")
	}
	if !lentShown {
		t.Errorf("canectl blocks does not show %s lent to production: %+v", lent, blocks)
	}
	testB := mustAddPod(t, tb, c, testNode, "qa/runner-2", "test")
	if lent.Contains(testB.IP) {
		t.Errorf("a test pod got %s, inside the lent block", testB.IP)
	}
	expect(t, true, 7300, [2]*testbed.Pod{prodA, borrower}, [2]*testbed.Pod{borrower, prodA})
	expect(t, false, 7310, [2]*testbed.Pod{testA, borrower}, [2]*testbed.Pod{borrower, testA}, [2]*testbed.Pod{testB, borrower}, [2]*testbed.Pod{borrower, testB})
	if tr := trace(t, testNode, borrower, testA.IP.String()); !strings.Contains(tr.Verdict, "isolation: production → test") {
		t.Errorf("trace borrower -> test pod on its subnet: %q", tr.Verdict)
	}
	if tr := trace(t, testNode, testA, borrower.IP.String()); tr.Delivered || tr.DropReason != "isolation" {
		t.Errorf("trace test pod -> borrower: %q", tr.Verdict)
	}

	if out, code := canectlAdmin(t, cp, "return", "flash"); code != 0 {
		t.Fatalf("return: %s", out)
	}
	if err := tb.Del(c, borrower); err != nil {
		t.Fatal(err)
	}
	if err := tb.Del(c, testB); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the lent block returns to the test pool", func() bool {
		return strings.Join(blockSet(t, cp), " ") == strings.Join(blocksBefore, " ")
	})
	waitUntil(t, 10*time.Second, "no node keeps a flow for the returned block", func() bool {
		for _, n := range nodes {
			var fs []api.Flow
			canectlJSON(t, n, &fs, "flows")
			for _, f := range fs {
				if strings.Contains(f.Match, lent.String()) {
					return false
				}
			}
		}
		return true
	})
	// The block is the test pool's again: a test pod can get it.
	expect(t, false, 7320, [2]*testbed.Pod{prodA, testA}, [2]*testbed.Pod{testA, prodA})
	for _, n := range nodes {
		wantXRay(t, n, "", "")
	}
}
