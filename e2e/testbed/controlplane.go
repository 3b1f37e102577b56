package testbed

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ControlPlane is a real etcd and kube-apiserver in a netns on the fabric.
type ControlPlane struct {
	NS         ns.NetNS
	kubectl    string // k8sDir/kubectl if built there, else kubectl from PATH
	Dir        string
	Kubeconfig string // for clients inside a netns on the fabric (caned, kubectl)
	Token      string
	// AdminNodes runs caned on the nodes joined after it is set with the
	// admin's kubeconfig instead of a token bound to its node (the
	// default, with deploy/'s RBAC and admission policy installed).
	AdminNodes bool
	deployDir  string // deploy/: rbac.yaml, admission.yaml
	tb         *Testbed
	identity   identity
}

// StartControlPlane starts etcd and the kube-apiserver found in k8sDir,
// applies the CRDs in crdDir and waits until they are established. The
// directory above crdDir is deploy/ (rbac.yaml, admission.yaml).
func (tb *Testbed) StartControlPlane(ctx context.Context, k8sDir, crdDir string) (*ControlPlane, error) {
	f, err := tb.Fabric()
	if err != nil {
		return nil, err
	}
	cpns, err := tb.NewNetNS()
	if err != nil {
		return nil, err
	}
	if err := f.Attach(cpns, "eth0"); err != nil {
		return nil, err
	}
	if err := SetAddr(cpns, "eth0", netip.PrefixFrom(ControlPlaneIP, Underlay.Bits())); err != nil {
		return nil, err
	}
	cp := &ControlPlane{NS: cpns, Dir: filepath.Join(tb.Dir, "control-plane"), Token: "cane-e2e-admin", tb: tb, kubectl: "kubectl",
		deployDir: filepath.Dir(filepath.Clean(crdDir))}
	if _, err := os.Stat(filepath.Join(k8sDir, "kubectl")); err == nil {
		cp.kubectl = filepath.Join(k8sDir, "kubectl")
	}
	if err := os.MkdirAll(cp.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := cp.writeSecrets(); err != nil {
		return nil, err
	}
	if err := cp.start(ctx, "etcd", "etcd", "--data-dir", filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380"); err != nil {
		return nil, err
	}
	if err := cp.start(ctx, "kube-apiserver", filepath.Join(k8sDir, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:2379",
		"--bind-address", ControlPlaneIP.String(), "--advertise-address", ControlPlaneIP.String(), "--secure-port", "6443",
		"--cert-dir", filepath.Join(cp.Dir, "certs"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(cp.Dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(cp.Dir, "sa.key"),
		"--token-auth-file", filepath.Join(cp.Dir, "tokens.csv"),
		"--authorization-mode", "RBAC", // the admin token is system:masters; caned's DaemonSet gets only deploy/rbac.yaml
		"--service-cluster-ip-range", "198.18.128.0/24",
		"--allow-privileged"); err != nil {
		return nil, err
	}
	if err := cp.waitReady(ctx); err != nil {
		return nil, err
	}
	if out, err := cp.Kubectl(ctx, "apply", "-f", crdDir); err != nil {
		return nil, fmt.Errorf("apply CRDs: %w: %s", err, out)
	}
	if out, err := cp.Kubectl(ctx, "wait", "--for", "condition=established", "--timeout", "60s", "crd", "--all"); err != nil {
		return nil, fmt.Errorf("wait for CRDs: %w: %s", err, out)
	}
	return cp, nil
}

func (cp *ControlPlane) writeSecrets() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(cp.Token + ",admin,admin,system:masters\n"),
		"kubeconfig": kubeconfig(cp.Token),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(cp.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	return nil
}

// kubeconfig is a kubeconfig for clients on the fabric with token.
func kubeconfig(token string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://%s:6443", insecure-skip-tls-verify: true}
users:
- name: cane
  user: {token: %s}
contexts:
- name: e2e
  context: {cluster: e2e, user: cane}
current-context: e2e
`, ControlPlaneIP, token))
}

// start runs a control-plane process in the netns, logging to DIR/name.log;
// Close stops it by its PID.
func (cp *ControlPlane) start(ctx context.Context, name, bin string, args ...string) error {
	p, err := startProc(cp.NS, filepath.Join(cp.Dir, name+".log"), nil, bin, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	cp.tb.defer_(func() error {
		p.stop(syscall.SIGTERM, 10*time.Second)
		return nil
	})
	return nil
}

// RESTConfig is a client config for the test process, which lives outside
// the fabric: its connections are opened inside the control plane's netns.
func (cp *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            fmt.Sprintf("https://%s:6443", ControlPlaneIP),
		BearerToken:     cp.Token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := cp.NS.Do(func(ns.NetNS) (err error) {
				c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		QPS: 100, Burst: 200,
	}
}

// Clients returns typed and dynamic clients for the test process.
func (cp *ControlPlane) Clients() (*kubernetes.Clientset, dynamic.Interface, error) {
	cs, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cp.RESTConfig())
	return cs, dyn, err
}

func (cp *ControlPlane) waitReady(ctx context.Context) error {
	cs, _, err := cp.Clients()
	if err != nil {
		return err
	}
	for {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(cp.Dir, "kube-apiserver.log"))
			return fmt.Errorf("kube-apiserver not ready: %v; log:\n%s", err, tail(log, 3000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ServingCert is the apiserver's self-signed serving certificate: the CA
// a pod's service account trusts (kube-root-ca.crt).
func (cp *ControlPlane) ServingCert() ([]byte, error) {
	return os.ReadFile(filepath.Join(cp.Dir, "certs", "apiserver.crt"))
}

// Kubectl runs kubectl inside the control plane's netns.
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"netns", "exec", filepath.Base(cp.NS.Path()), cp.kubectl, "--kubeconfig", cp.Kubeconfig}, args...)
	out, err := exec.CommandContext(ctx, "ip", full...).CombinedOutput()
	return string(out), err
}
