package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/e2e/testbed"
)

// tenant is a client of a tenant who may create pods in namespace qa
// (domain test) and nothing else.
func (r *redTeam) tenant(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs := r.adminCS
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: "qa"}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pods", Namespace: "qa"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "delete"}}}}
	bind := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenant-pods", Namespace: "qa"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pods"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tenant", Namespace: "qa"}}}
	var err error
	if _, err = cs.CoreV1().ServiceAccounts("qa").Create(r.c, sa, metav1.CreateOptions{}); err == nil {
		if _, err = cs.RbacV1().Roles("qa").Create(r.c, role, metav1.CreateOptions{}); err == nil {
			_, err = cs.RbacV1().RoleBindings("qa").Create(r.c, bind, metav1.CreateOptions{})
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("qa").CreateToken(r.c, "tenant", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := kubernetes.NewForConfig(r.cp.AsToken(tr.Status.Token))
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// tenantAnnotation: a tenant of namespace qa (domain test) creates a pod
// whose cane.io/pool annotation names production's pool. Before, the
// annotation won over the namespace; now ADD fails naming the namespace
// and its domain, whether caned reads the pod or the runtime passes its
// annotations. The tenant cannot relabel its namespace either.
func (r *redTeam) tenantAnnotation(t *testing.T) {
	tenant := r.tenant(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sneak", Namespace: "qa", Annotations: map[string]string{"cane.io/pool": "prod"}},
		Spec: corev1.PodSpec{NodeName: "node3", Containers: []corev1.Container{{Name: "app", Image: "pause"}}}}
	if _, err := tenant.CoreV1().Pods("qa").Create(r.c, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the tenant creating its pod: %v", err)
	}
	_, err := tenant.CoreV1().Namespaces().Patch(r.c, "qa", types.MergePatchType, []byte(`{"metadata":{"labels":{"cane.io/domain":"production"}}}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the tenant relabelling its namespace: %v", err)
	}
	for _, fromRuntime := range []bool{false, true} {
		p, err := r.tb.NewPod(r.node3, "qa/sneak", "")
		if err != nil {
			t.Fatal(err)
		}
		if fromRuntime {
			p.Annotations = pod.Annotations
		}
		err = r.tb.Add(r.c, p)
		if cniCode(err) != api.CodePoolForbidden || !strings.Contains(err.Error(), `namespace qa is in domain "test"`) {
			t.Errorf("ADD of the tenant's pod (annotations from the runtime: %v): %v, want code %d naming namespace qa and domain test", fromRuntime, err, api.CodePoolForbidden)
		}
	}
	body, err := scrapeAt(r.node3.NS, "127.0.0.1:9410")
	if err != nil {
		t.Fatal(err)
	}
	if n := metric(body, "cane_cni_duration_seconds_count", `command="ADD",result="107"`); n < 2 {
		t.Errorf("cane_cni_duration_seconds_count{command=ADD,result=107} on node3: %v", n)
	}
	t.Logf("an operator sees: %s", r.logged(t, r.node3, `"code":107`))
}

// defencesOff: the same attacks with the apiserver's defences switched
// off — the admission policy's binding deleted and caned's role of before
// (create and patch Loans) granted back — work: a node's token takes
// another node's block, and every node then sends that block's traffic to
// the attacker; it ends a loan early and writes another node's line.
// Last: it leaves the hijack behind.
func (r *redTeam) defencesOff(t *testing.T) {
	if out, err := r.cp.Kubectl(r.c, "delete", "validatingadmissionpolicybinding", "cane-node-identity"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := r.cp.Apply(r.c, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cane-before}
rules: [{apiGroups: [cane.io], resources: [loans], verbs: [create, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cane-before}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cane-before}
subjects: [{kind: ServiceAccount, name: cane, namespace: kube-system}]
`); err != nil {
		t.Fatal(err)
	}
	victim, _ := r.blockOf(t, r.prod3.IP)
	cidr := netip.PrefixFrom(r.prod3.IP, 28).Masked()
	res := r.attacker.Resource(kube.BlocksResource)
	waitUntil(t, 10*time.Second, "without the policy, node2 deletes node3's block", func() bool {
		return res.Delete(r.c, victim, metav1.DeleteOptions{}) == nil
	})
	if err := r.createAs(blockObject(victim, "prod", cidr.String(), "node2", "", "")); err != nil {
		t.Fatalf("node2 recreating the block as its own: %v", err)
	}
	waitUntil(t, 10*time.Second, "node1 sends "+cidr.String()+" to node2 (the hijack worked)", func() bool {
		var fs []api.Flow
		canectlJSON(t, r.node1, &fs, "flows", "--table", "Forward")
		for _, f := range fs {
			if ownedBy(f, "node2") && strings.Contains(f.Match, cidr.String()) {
				return true
			}
		}
		return false
	})
	expect(t, false, 6300, [2]*testbed.Pod{r.prod1, r.prod3})
	end := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	_, err := r.attacker.Resource(kube.LoansResource).Patch(r.c, "sale", types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"end":%q}}`, end)), metav1.PatchOptions{})
	if err != nil || r.loanEnd(t) != end {
		t.Errorf("without the policy and with the old role, node2 ending the loan: %v (end %s)", err, r.loanEnd(t))
	}
	_, err = r.attacker.Resource(kube.LoansResource).Patch(r.c, "sale", types.MergePatchType, []byte(`{"status":{"nodes":{"node3":{"phase":"Forged"}}}}`), metav1.PatchOptions{}, "status")
	if err != nil || r.loanLine(t, "node3") != "Forged" {
		t.Errorf("without the policy, node2 writing node3's line: %v (%q)", err, r.loanLine(t, "node3"))
	}
	t.Logf("without the apiserver's defences: node2's token took node3's block %s (node1 now tunnels it to node2), ended loan sale at %s and wrote node3's line", cidr, end)
}

// steadyWatch: on a cluster where nothing changes, the apiserver sends
// the caneds no CaneNode event (a CaneNode is written only when its node
// changes; its status, daily, is dropped by the cache).
func (r *redTeam) steadyWatch(t *testing.T) {
	time.Sleep(2 * time.Second) // what the earlier attacks started settles
	before := r.watchEvents(t)
	time.Sleep(10 * time.Second)
	after := r.watchEvents(t)
	for _, kind := range []string{"CaneNode", "Block", "Node"} {
		t.Logf("watch events sent in 10 s of a steady 3-node cluster, %s: %v (every watcher's together)", kind, after[kind]-before[kind])
	}
	if d := after["CaneNode"] - before["CaneNode"]; d != 0 {
		t.Errorf("%v CaneNode watch events in 10 s of a steady cluster", d)
	}
}

// watchEvents is apiserver_watch_events_total by kind.
func (r *redTeam) watchEvents(t *testing.T) map[string]float64 {
	t.Helper()
	body, err := r.adminCS.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(r.c)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^apiserver_watch_events_total\{([^}]*)\} (\S+)$`)
	kindRe := regexp.MustCompile(`(?:kind|resource)="([^"]+)"`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		k := kindRe.FindStringSubmatch(m[1])
		if k == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		kind := map[string]string{"canenodes": "CaneNode", "blocks": "Block", "nodes": "Node"}[k[1]]
		if kind == "" {
			kind = k[1]
		}
		out[kind] += v
	}
	return out
}
