package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/cane-cni/cane/daemon"
)

// TestDeploy: every manifest in deploy/ is accepted by a real apiserver
// (server-side dry run: schemas, RBAC rules, the admission policy and its
// CEL, the DaemonSet, the example Domain/Pool/Loan objects against the
// CRDs), and the ConfigMap the
// DaemonSet installs from holds the same conflist as deploy/cni and a
// caned config caned accepts.
func TestDeploy(t *testing.T) {
	_, cp := startControlPlane(t)
	c := ctx(t)
	out, err := cp.Kubectl(c, "apply", "--dry-run=server",
		"-f", "../deploy/rbac.yaml", "-f", "../deploy/admission.yaml", "-f", "../deploy/caned.yaml", "-f", "../deploy/examples/")
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	for _, want := range []string{"clusterrole.rbac.authorization.k8s.io/cane", "daemonset.apps/caned", "configmap/cane-config", "loan.cane.io/", "pool.cane.io/prod",
		"validatingadmissionpolicy.admissionregistration.k8s.io/cane-node-identity", "validatingadmissionpolicybinding.admissionregistration.k8s.io/cane-node-identity"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run did not cover %s:\n%s", want, out)
		}
	}

	data, err := os.ReadFile("../deploy/caned.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for cm.Kind != "ConfigMap" {
		if err := dec.Decode(&cm); err != nil {
			t.Fatalf("no ConfigMap in deploy/caned.yaml: %v", err)
		}
	}
	file, err := os.ReadFile("../deploy/cni/10-cane.conflist")
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(file, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(cm.Data["10-cane.conflist"]), &b); err != nil {
		t.Fatalf("the ConfigMap's conflist: %v", err)
	}
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Errorf("the ConfigMap's conflist differs from deploy/cni/10-cane.conflist:\n%s\n%s", jb, ja)
	}
	cfg, err := daemon.ParseConfig([]byte(cm.Data["caned.json"]))
	if err != nil {
		t.Fatalf("the ConfigMap's caned.json: %v", err)
	}
	if cfg.Kubeconfig != daemon.InCluster {
		t.Errorf("the DaemonSet's caned uses kubeconfig %q, want %q", cfg.Kubeconfig, daemon.InCluster)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
