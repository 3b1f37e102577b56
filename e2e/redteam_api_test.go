package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/e2e/testbed"
)

// blockObject is a Block as a node's caned would write it (name aside).
func blockObject(name, pool, cidr, node, domain, loan string) *unstructured.Unstructured {
	spec := map[string]any{"pool": pool, "cidr": cidr, "node": node}
	if domain != "" {
		spec["domain"], spec["loan"] = domain, loan
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": kube.Group + "/" + kube.Version, "kind": "Block", "spec": spec}}
	u.SetName(name)
	return u
}

// createAs creates u as the attacker (node2's token).
func (r *redTeam) createAs(u *unstructured.Unstructured) error {
	gvr := kube.BlocksResource
	if u.GetKind() == "CaneNode" {
		gvr = kube.CaneNodesResource
	}
	_, err := r.attacker.Resource(gvr).Create(r.c, u, metav1.CreateOptions{})
	return err
}

// blockOf is the Block object holding ip.
func (r *redTeam) blockOf(t *testing.T, ip netip.Addr) (name, node string) {
	t.Helper()
	list, err := r.admin.Resource(kube.BlocksResource).List(r.c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range list.Items {
		cidr, _, _ := unstructured.NestedString(u.Object, "spec", "cidr")
		holder, _, _ := unstructured.NestedString(u.Object, "spec", "node")
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Contains(ip) && p.Bits() == 28 {
			return u.GetName(), holder
		}
	}
	t.Fatalf("no block holds %s", ip)
	return "", ""
}

// freeBlock is a /28 of pool that no Block holds.
func (r *redTeam) freeBlock(t *testing.T, pool netip.Prefix) netip.Prefix {
	t.Helper()
	list, err := r.admin.Resource(kube.BlocksResource).List(r.c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, u := range list.Items {
		cidr, _, _ := unstructured.NestedString(u.Object, "spec", "cidr")
		held[cidr] = true
	}
	for b := netip.PrefixFrom(pool.Addr(), 28); pool.Contains(b.Addr()); {
		if !held[b.String()] {
			return b
		}
		next := b.Addr().As4()
		next[3] += 16
		if next[3] == 0 {
			break
		}
		b = netip.PrefixFrom(netip.AddrFrom4(next), 28)
	}
	t.Fatalf("no free block in %s", pool)
	return netip.Prefix{}
}

// rogueBlocks: with node2's token, root there writes Blocks the API
// admits (they name node2): two lent blocks that would seal production
// and test open to each other over real pods' addresses, a well-sized
// block lent under a loan that does not exist, and a wide block over all
// of production. Every node checks them before they become a flow:
// production and test stay apart, production stays whole.
func (r *redTeam) rogueBlocks(t *testing.T) {
	testWide, prodWide := netip.PrefixFrom(r.test3.IP, 27).Masked(), netip.PrefixFrom(r.prod1.IP, 27).Masked()
	free := r.freeBlock(t, netip.MustParsePrefix("198.19.1.0/24"))
	rogue := []*unstructured.Unstructured{
		blockObject(kube.BlockName("test", testWide), "test", testWide.String(), "node2", "production", "sale"),
		blockObject(kube.BlockName("prod", prodWide), "prod", prodWide.String(), "node2", "test", "sale"),
		blockObject(kube.BlockName("test", free), "test", free.String(), "node2", "production", "sale"),
		blockObject("prod.198-19-0-0-24", "prod", "198.19.0.0/24", "node2", "", ""),
	}
	for _, u := range rogue {
		if err := r.createAs(u); err != nil {
			t.Fatalf("the API refused %s, which names node2 itself: %v", u.GetName(), err)
		}
	}
	time.Sleep(time.Second) // the Blocks reach every node's watch (nothing to wait on: nothing may change)
	expect(t, false, 6100, [2]*testbed.Pod{r.prod1, r.test3}, [2]*testbed.Pod{r.test3, r.prod1}, [2]*testbed.Pod{r.prod3, r.test1},
		[2]*testbed.Pod{r.test1, r.prod1}, [2]*testbed.Pod{r.prod1, r.test1})
	expect(t, true, 6110, [2]*testbed.Pod{r.prod1, r.prod3}, [2]*testbed.Pod{r.prod3, r.prod1})
	for _, u := range rogue {
		r.seen(t, "Block", u.GetName())
	}
	if line := r.logged(t, r.node1, "lending refused, block sealed"); !strings.Contains(line, kube.BlockName("test", free)) {
		t.Errorf("node1 did not seal the block lent under no loan: %q", line)
	}
}

// hijackBlock: root on node2 takes node3's block (delete it, create it
// again naming node2). The admission policy refuses the delete.
func (r *redTeam) hijackBlock(t *testing.T) {
	victim, holder := r.blockOf(t, r.prod3.IP)
	if holder != "node3" {
		t.Fatalf("prod3's block %s is held by %s", victim, holder)
	}
	denied := r.policyDenials(t)
	err := r.attacker.Resource(kube.BlocksResource).Delete(r.c, victim, metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "may claim and give back only its own Blocks") {
		t.Fatalf("node2 deleting node3's block %s: %v", victim, err)
	}
	cidr := netip.PrefixFrom(r.prod3.IP, 28).Masked().String()
	if err := r.createAs(blockObject(victim, "prod", cidr, "node2", "", "")); !apierrors.IsAlreadyExists(err) {
		t.Errorf("node2 claiming node3's block: %v, want AlreadyExists", err)
	}
	if err := r.createAs(blockObject(kube.BlockName("prod", netip.MustParsePrefix("198.19.0.208/28")), "prod", "198.19.0.208/28", "node3", "", "")); !apierrors.IsForbidden(err) {
		t.Errorf("node2 claiming a block for node3: %v", err)
	}
	after := r.policyDenials(t)
	if after < denied+2 {
		t.Errorf("apiserver_validating_admission_policy_check_total{policy=cane-node-identity,enforcement_action=deny}: %v -> %v", denied, after)
	}
	expect(t, true, 6120, [2]*testbed.Pod{r.prod1, r.prod3})
	t.Logf("an operator sees: %v; apiserver_validating_admission_policy_check_total{policy=\"cane-node-identity\",enforcement_action=\"deny\"} %v -> %v", err, denied, after)
}

// ipv6Block: an IPv6 Block made a flow ovs-ofctl refused, and the bundle
// with it on every node. The CRD refuses it; with the CRD's rules gone
// (an old CRD, an admin's slip) every node still ignores it, and the next
// change lands everywhere.
func (r *redTeam) ipv6Block(t *testing.T) {
	v6 := blockObject("prod.fd00--120", "prod", "fd00::/120", "node2", "", "")
	if err := r.createAs(v6); err == nil || !strings.Contains(err.Error(), "cidr must be an IPv4 prefix") {
		t.Fatalf("the CRD took an IPv6 block: %v", err)
	}
	patch := `[{"op":"remove","path":"/spec/versions/0/schema/openAPIV3Schema/x-kubernetes-validations"},` +
		`{"op":"remove","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/cidr/x-kubernetes-validations"}]`
	if out, err := r.cp.Kubectl(r.c, "patch", "crd", "blocks.cane.io", "--type=json", "-p", patch); err != nil {
		t.Fatalf("strip the CRD's rules: %v %s", err, out)
	}
	defer func() {
		if out, err := r.cp.Kubectl(r.c, "apply", "-f", "../deploy/crds/blocks.yaml"); err != nil {
			t.Errorf("restore the Block CRD: %v %s", err, out)
		}
	}()
	waitUntil(t, 10*time.Second, "the rule-less CRD takes the IPv6 block", func() bool { return r.createAs(v6) == nil })
	r.seen(t, "Block", v6.GetName())
	if err := r.cp.Apply(r.c, `{"apiVersion":"cane.io/v1alpha1","kind":"Pool","metadata":{"name":"late"},"spec":{"domain":"production","cidr":"198.19.6.0/24","gateway":"198.19.6.1","blockSize":28}}`); err != nil {
		t.Fatal(err)
	}
	var late *testbed.Pod
	waitUntil(t, 10*time.Second, "node3 knows pool late", func() bool {
		p, err := r.tb.AddPod(r.c, r.node3, "shop/late", "late")
		late = p
		return err == nil
	})
	waitUntil(t, 10*time.Second, "node1 routes node3's new block (the bundle is not wedged)", func() bool {
		var fs []api.Flow
		canectlJSON(t, r.node1, &fs, "flows", "--table", "Forward")
		for _, f := range fs {
			if ownedBy(f, "node3") && strings.Contains(f.Match, "198.19.6.") {
				return true
			}
		}
		return false
	})
	expect(t, true, 6130, [2]*testbed.Pod{r.prod1, late})
}

// rewrittenVTEP: root on node2 (its caned stopped, or it would put the
// truth back) makes its CaneNode claim node1's tunnel endpoint, then
// node3's address. The CRD keeps a VTEP immutable and the policy keeps
// node2 to its own CaneNode; recreated, it is younger than the nodes
// whose addresses it claims, and every node keeps those with their
// owners.
func (r *redTeam) rewrittenVTEP(t *testing.T) {
	if err := r.node2.StopCaned(); err != nil {
		t.Fatal(err)
	}
	res := r.attacker.Resource(kube.CaneNodesResource)
	if _, err := res.Patch(r.c, "node2", types.MergePatchType, []byte(`{"spec":{"vtep":"198.18.0.1"}}`), metav1.PatchOptions{}); err == nil || !strings.Contains(err.Error(), "vtep is immutable") {
		t.Errorf("rewriting node2's VTEP in place: %v", err)
	}
	if _, err := res.Patch(r.c, "node1", types.MergePatchType, []byte(`{"spec":{"labels":{"x":"y"}}}`), metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node2 editing node1's CaneNode: %v", err)
	}
	uid := r.nodeUID(t, "node2")
	claim := func(vtep string, addrs ...string) {
		t.Helper()
		if err := res.Delete(r.c, "node2", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": kube.Group + "/" + kube.Version, "kind": "CaneNode",
			"metadata": map[string]any{"name": "node2", "ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": "node2", "uid": uid}}},
			"spec":     map[string]any{"vtep": vtep, "addresses": addrs}}}
		if err := r.createAs(u); err != nil {
			t.Fatalf("node2 recreating its own CaneNode: %v", err)
		}
	}
	claim("198.18.0.1", "198.18.0.1")
	r.seen(t, "CaneNode", "node2")
	if line := r.logged(t, r.node3, "tunnel endpoint 198.18.0.1 is already node node1's"); line == "" {
		t.Error("node3 did not say why it ignores node2")
	}
	expect(t, true, 6140, [2]*testbed.Pod{r.prod1, r.prod3}, [2]*testbed.Pod{r.prod3, r.prod1})
	claim("198.18.0.2", "198.18.0.2", "198.18.0.3")
	waitUntil(t, 5*time.Second, "node1 leaves node3's address out of node2's", func() bool {
		return r.logged(t, r.node1, "address 198.18.0.3 is already node node3's") != ""
	})
	if !r.reachesNode(t, r.prod1, r.node3, 6150) {
		t.Error("prod1 does not reach node3's address while node2 claims it")
	}
	var fs []api.Flow
	canectlJSON(t, r.node1, &fs, "flows", "--table", "TunnelVNI")
	for _, f := range fs {
		if strings.Contains(f.Match, "tun_src=198.18.0.2,nw_src=198.18.0.3") {
			t.Errorf("node1 admits node3's address as a source from node2's VTEP, in any overlay domain: %s", f.Match)
		}
	}
	if err := r.node2.StartCaned(r.c); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "node2's caned publishes the truth again", func() bool {
		u, err := r.admin.Resource(kube.CaneNodesResource).Get(r.c, "node2", metav1.GetOptions{})
		addrs, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "addresses")
		return err == nil && strings.Join(addrs, ",") == "198.18.0.2"
	})
}

func (r *redTeam) nodeUID(t *testing.T, name string) string {
	t.Helper()
	n, err := r.adminCS.CoreV1().Nodes().Get(r.c, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(n.UID)
}

// loanEdits: with node2's token, root there tries to end a loan early, to
// make one that lends every node, and to write node3's line of the loan's
// status. RBAC refuses the first two (Loans are operators'), the policy
// the third.
func (r *redTeam) loanEdits(t *testing.T) {
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	loan := fmt.Sprintf(`{"apiVersion":"cane.io/v1alpha1","kind":"Loan","metadata":{"name":"sale"},"spec":{"borrower":"production","lenders":["test"],`+
		`"nodes":["node3"],"podsPerNode":2,"start":%q,"end":%q}}`, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	if err := r.cp.Apply(r.c, loan); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "node3 reports its line of the loan", func() bool { return r.loanLine(t, "node3") != "" })
	before, line3 := r.loanEnd(t), r.loanLine(t, "node3")
	res := r.attacker.Resource(kube.LoansResource)
	_, err := res.Patch(r.c, "sale", types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"end":%q}}`, time.Now().UTC().Format(time.RFC3339))), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("node2 ending the loan early: %v", err)
	}
	t.Logf("an operator sees: %v", err)
	grab := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(strings.ReplaceAll(loan, `"sale"`, `"grab"`), `"nodes":["node3"]`, `"nodeSelector":{"kubernetes.io/os":"linux"}`)), &grab.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Create(r.c, grab, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node2 making a loan of every node: %v", err)
	}
	_, err = res.Patch(r.c, "sale", types.MergePatchType, []byte(`{"status":{"nodes":{"node3":{"phase":"Ended","limit":0}}}}`), metav1.PatchOptions{}, "status")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "may write only its own line") {
		t.Errorf("node2 writing node3's line: %v", err)
	}
	t.Logf("an operator sees: %v", err)
	if r.loanEnd(t) != before || r.loanLine(t, "node3") != line3 {
		t.Errorf("the loan changed: end %s -> %s, node3's line %s -> %s", before, r.loanEnd(t), line3, r.loanLine(t, "node3"))
	}
}

func (r *redTeam) loanEnd(t *testing.T) string {
	t.Helper()
	out, _ := r.cp.Kubectl(r.c, "get", "loans.cane.io", "sale", "-o", "jsonpath={.spec.end}")
	return out
}

func (r *redTeam) loanLine(t *testing.T, node string) string {
	t.Helper()
	out, _ := r.cp.Kubectl(r.c, "get", "loans.cane.io", "sale", "-o", "jsonpath={.status.nodes."+node+".phase}")
	return out
}
