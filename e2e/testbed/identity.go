package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Caned's identity as deploy/ installs it: the service account, its RBAC
// and the admission policy that ties its writes to its node.
const (
	CanedNamespace      = "kube-system"
	CanedServiceAccount = "cane"
)

// identity installs deploy/rbac.yaml and deploy/admission.yaml once per
// control plane.
type identity struct {
	once sync.Once
	err  error
}

// InstallIdentity applies deploy/rbac.yaml and deploy/admission.yaml
// (once; later calls return the first's error).
func (cp *ControlPlane) InstallIdentity(ctx context.Context) error {
	cp.identity.once.Do(func() {
		for _, f := range []string{"rbac.yaml", "admission.yaml"} {
			if out, err := cp.Kubectl(ctx, "apply", "-f", filepath.Join(cp.deployDir, f)); err != nil {
				cp.identity.err = fmt.Errorf("apply %s: %w: %s", f, err, out)
				return
			}
		}
	})
	return cp.identity.err
}

// NodeToken is a token of caned's service account bound to Node node, as
// `kubectl create token cane -n kube-system --bound-object-kind Node
// --bound-object-name NODE` makes one: it carries the node's name
// (userInfo.extra authentication.kubernetes.io/node-name), which the
// admission policy reads. Valid for an hour.
func (cp *ControlPlane) NodeToken(ctx context.Context, node string) (string, error) {
	cs, _, err := cp.Clients()
	if err != nil {
		return "", err
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: %w", node, err)
	}
	hour := int64(3600)
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: &hour,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Node", APIVersion: "v1", Name: node, UID: n.UID},
	}}
	tr, err := cs.CoreV1().ServiceAccounts(CanedNamespace).CreateToken(ctx, CanedServiceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for node %s: %w", node, err)
	}
	return tr.Status.Token, nil
}

// NodeKubeconfig installs caned's identity (InstallIdentity), writes a
// kubeconfig for caned on node with a fresh NodeToken and returns its
// path.
func (cp *ControlPlane) NodeKubeconfig(ctx context.Context, node string) (string, error) {
	if err := cp.InstallIdentity(ctx); err != nil {
		return "", err
	}
	token, err := cp.NodeToken(ctx, node)
	if err != nil {
		return "", err
	}
	path := filepath.Join(cp.Dir, "kubeconfig-"+node)
	return path, os.WriteFile(path, kubeconfig(token), 0o600)
}

// AsToken is RESTConfig with token instead of the admin's: what a client
// holding that token (root on a node, say) can do.
func (cp *ControlPlane) AsToken(token string) *rest.Config {
	c := cp.RESTConfig()
	c.BearerToken = token
	return c
}
