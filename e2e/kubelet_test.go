package e2e

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
)

// The chained plugins containerd execs with cane (deploy's conflist), and
// the one containerd needs for the sandbox's loopback.
var chained = []string{"loopback", "tuning", "portmap", "bandwidth"}

// kubeletPods: production pods chosen by their namespace's label, a test
// pod by its annotation (of its namespace's domain: the runtime passes it
// to cane, which reads no pod); shop/web publishes hostPort 30080 and has
// its egress limited to 10 Mbit/s.
const kubeletPods = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {cane.io/domain: production}}
---
apiVersion: v1
kind: Namespace
metadata: {name: qa, labels: {cane.io/domain: test}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: qa}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  annotations: {kubernetes.io/egress-bandwidth: 10M}
spec:
  nodeName: node1
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: cane.local/e2e:1
    imagePullPolicy: Never
    args: [serve]
    ports: [{containerPort: 8080, hostPort: 30080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec:
  nodeName: node1
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: db, image: cane.local/e2e:1, imagePullPolicy: Never, args: [serve]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: qa
  annotations: {cane.io/pool: test}
spec:
  nodeName: node1
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: web, image: cane.local/e2e:1, imagePullPolicy: Never, args: [serve]}]
`

// startKubelet is a cluster of two nodes: node1 runs a real kubelet on a
// real containerd with deploy's conflist; node2 is a plain Cane node whose
// pods are made through libcni (the other end for cross-node checks).
func startKubelet(t *testing.T) (*testbed.Testbed, context.Context, *testbed.ControlPlane, *testbed.Kubelet, *testbed.Node) {
	t.Helper()
	kdir := kubeletPrereqs(t)
	tb, c, cp, nodes := startCluster(t, 2)
	image := buildImage(t, tb, nil)
	start := time.Now()
	k, err := tb.StartKubelet(c, nodes[0], kdir, binDir, "../deploy/cni/10-cane.conflist", image)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd + kubelet: node Ready %s after start", time.Since(start).Round(time.Millisecond))
	return tb, c, cp, k, nodes[1]
}

// TestKubelet: the kubelet's real path. Pods created with kubectl get
// addresses from the pool their namespace label or annotation chooses;
// same domain reaches, across nodes too, other domains never; the
// chained tuning, portmap and bandwidth plugins work on Cane's result;
// kubelet and caned restarts do not touch running pods; deleting the
// pods leaves nothing behind.
func TestKubelet(t *testing.T) {
	tb, c, cp, k, node2 := startKubelet(t)
	node1 := k.Node
	cs, _, err := cp.Clients()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cp.Apply(c, kubeletPods); err != nil {
		t.Fatal(err)
	}
	web, db, qa := waitPodIP(t, c, k, "shop", "web"), waitPodIP(t, c, k, "shop", "db"), waitPodIP(t, c, k, "qa", "web")
	t.Logf("3 pods Running with addresses %s after kubectl apply", time.Since(start).Round(time.Millisecond))
	prodPool, testPool := netip.MustParsePrefix("198.19.0.0/24"), netip.MustParsePrefix("198.19.1.0/24")
	for _, p := range []struct {
		ip   netip.Addr
		pool netip.Prefix
		name string
	}{{web, prodPool, "shop/web"}, {db, prodPool, "shop/db"}, {qa, testPool, "qa/web"}} {
		if !p.pool.Contains(p.ip) {
			t.Errorf("%s has %s, want an address in %s", p.name, p.ip, p.pool)
		}
	}
	pods := kubeletPodsOf(t, c, node1)
	prodWeb, prodDB, qaWeb := pods["shop/web"], pods["shop/db"], pods["qa/web"]
	remoteProd, remoteTest := mustAddPod(t, tb, c, node2, "shop/remote", "prod"), mustAddPod(t, tb, c, node2, "qa/remote", "test")

	t.Run("reachability and isolation", func(t *testing.T) {
		expect(t, true, 9100, [2]*testbed.Pod{prodWeb, prodDB}, [2]*testbed.Pod{prodDB, prodWeb}, [2]*testbed.Pod{prodWeb, remoteProd}, [2]*testbed.Pod{remoteTest, qaWeb})
		expect(t, false, 9200, [2]*testbed.Pod{prodWeb, qaWeb}, [2]*testbed.Pod{qaWeb, prodDB}, [2]*testbed.Pod{remoteTest, prodWeb}, [2]*testbed.Pod{qaWeb, remoteProd})
	})

	t.Run("the pod's own server answers through the pipeline", func(t *testing.T) {
		if got := dialLine(t, prodDB.NS, netip.AddrPortFrom(web, 8080)); got != "hello from web" {
			t.Errorf("shop/db -> shop/web:8080 answered %q", got)
		}
		if got := dialLine(t, qaWeb.NS, netip.AddrPortFrom(web, 8080)); got != "" {
			t.Errorf("qa/web -> shop/web:8080 answered %q across domains", got)
		}
	})

	t.Run("tuning set the pod's sysctl", func(t *testing.T) {
		var v []byte
		_ = prodWeb.NS.Do(func(ns.NetNS) (err error) {
			v, err = os.ReadFile("/proc/sys/net/core/somaxconn")
			return err
		})
		if strings.TrimSpace(string(v)) != "4096" {
			t.Errorf("net.core.somaxconn in shop/web = %q, want 4096 (from the conflist's tuning)", v)
		}
	})

	t.Run("portmap forwards the hostPort, isolation holds through the node", func(t *testing.T) {
		hostPort := netip.AddrPortFrom(node1.VTEP, 30080)
		// An outside client on the underlay: node2's own network stack.
		if got := dialLine(t, node2.NS, hostPort); got != "hello from web" {
			t.Errorf("node2 -> node1:30080 answered %q, want shop/web's greeting", got)
		}
		// The node itself.
		if got := dialLine(t, node1.NS, netip.AddrPortFrom(web, 8080)); got != "hello from web" {
			t.Errorf("node1 -> shop/web:8080 answered %q", got)
		}
		// A production pod through the node: still production.
		if got := dialLine(t, prodDB.NS, hostPort); got != "hello from web" {
			t.Errorf("shop/db -> node1:30080 answered %q", got)
		}
		// A test pod through the node: DNAT makes it production-bound, and
		// the pipeline still knows it comes from test.
		if got := dialLine(t, qaWeb.NS, hostPort); got != "" {
			t.Errorf("qa/web -> node1:30080 (a production pod's hostPort) answered %q", got)
		}
	})

	t.Run("bandwidth limits the pod's egress", func(t *testing.T) {
		limited, err := testbed.TCPThroughput(prodWeb.NS, prodDB.NS, db, 9300, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		free, err := testbed.TCPThroughput(prodDB.NS, prodWeb.NS, web, 9301, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("egress of shop/web (limit 10 Mbit/s): %.1f Mbit/s; shop/db (no limit), same run: %.1f Mbit/s", limited/1e6, free/1e6)
		if limited > 12e6 || limited < 5e6 {
			t.Errorf("shop/web sent %.1f Mbit/s, want about 10 (the limit)", limited/1e6)
		}
		if free < 5*limited {
			t.Errorf("shop/db sent %.1f Mbit/s, want well above the limited pod's %.1f", free/1e6, limited/1e6)
		}
	})

	t.Run("kubelet and caned restarts leave running pods alone", func(t *testing.T) {
		s, err := testbed.StartStream(prodWeb.NS, prodDB.NS, db, 9400, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		restart := time.Now()
		if err := k.RestartKubelet(c, tb); err != nil {
			t.Fatal(err)
		}
		t.Logf("kubelet restart: node Ready again after %s", time.Since(restart).Round(time.Millisecond))
		restartCaned(t, c, node1)
		time.Sleep(300 * time.Millisecond)
		sent, lost := s.Stop()
		t.Logf("UDP stream across both restarts: %d sent, %d lost", sent, len(lost))
		if len(lost) > 0 {
			t.Errorf("lost %d of %d datagrams across the restarts", len(lost), sent)
		}
		// Nothing was re-created: same sandboxes, same addresses.
		after := kubeletPodsOf(t, c, node1)
		for name, p := range pods {
			if a := after[name]; a == nil || a.ContainerID != p.ContainerID || a.IP != p.IP {
				t.Errorf("%s changed across the restarts: %+v -> %+v", name, p, a)
			}
		}
		for _, ns := range []string{"shop", "qa"} {
			list, err := cs.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range list.Items {
				for _, st := range p.Status.ContainerStatuses {
					if st.RestartCount != 0 || !st.Ready {
						t.Errorf("%s/%s: container %s restarts %d ready %v", ns, p.Name, st.Name, st.RestartCount, st.Ready)
					}
				}
			}
		}
		expect(t, true, 9500, [2]*testbed.Pod{prodWeb, prodDB}, [2]*testbed.Pod{prodWeb, remoteProd})
		expect(t, false, 9600, [2]*testbed.Pod{prodWeb, qaWeb})
	})

	t.Run("deleting the pods leaves nothing behind", func(t *testing.T) {
		for _, ns := range []string{"shop", "qa"} {
			if out, err := cp.Kubectl(c, "delete", "pods", "--all", "-n", ns, "--wait", "--timeout", "60s"); err != nil {
				t.Fatalf("kubectl delete: %v: %s", err, out)
			}
		}
		assertOnly(t, c, node1)
		nat, err := exec.CommandContext(c, "ip", "netns", "exec", node1.NetNSName(), "iptables-save", "-t", "nat").CombinedOutput()
		if err != nil {
			t.Fatalf("iptables-save: %v: %s", err, nat)
		}
		if strings.Contains(string(nat), "30080") {
			t.Errorf("portmap's rules for the deleted pod remain:\n%s", nat)
		}
		nss, _ := filepath.Glob(filepath.Join(k.Dir, "containerd-state", "*", "netns", "*"))
		for _, p := range nss {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				t.Errorf("pod netns %s remains", p)
			}
		}
		wantXRay(t, node1, "", "")
	})
}

// waitPodIP waits (up to a minute) until the pod runs and has an address.
func waitPodIP(t *testing.T, c context.Context, k *testbed.Kubelet, namespace, name string) netip.Addr {
	t.Helper()
	cs, _, err := k.Node.ControlPlane().Clients()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		p, err := cs.CoreV1().Pods(namespace).Get(c, name, metav1.GetOptions{})
		if err == nil {
			if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil && p.Status.Phase == corev1.PodRunning {
				return ip
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := k.Node.ControlPlane().Kubectl(c, "describe", "pod", "-n", namespace, name)
	t.Fatalf("pod %s/%s not running with an address after a minute:\n%s\n%s", namespace, name, out, k.LogTails())
	return netip.Addr{}
}

// kubeletPodsOf are the node's pods as caned has them (the kubelet's
// sandboxes), by namespace/name, ready for the probes.
func kubeletPodsOf(t *testing.T, c context.Context, node *testbed.Node) map[string]*testbed.Pod {
	t.Helper()
	var list []api.Pod
	if err := node.Client().Get(c, "/v1/pods", &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]*testbed.Pod{}
	for _, p := range list {
		netns, err := ns.GetNS(p.Netns)
		if err != nil {
			t.Fatalf("netns of %s/%s: %v", p.PodNamespace, p.PodName, err)
		}
		t.Cleanup(func() { netns.Close() })
		name := p.PodNamespace + "/" + p.PodName
		out[name] = &testbed.Pod{Name: name, ContainerID: p.ContainerID, NS: netns, Node: node, Pool: p.Pool, IP: p.IP}
	}
	return out
}

// dialLine connects from a netns and returns the first line the server
// sends, "" if the connection fails or says nothing.
func dialLine(t *testing.T, from ns.NetNS, to netip.AddrPort) string {
	t.Helper()
	var line string
	_ = from.Do(func(ns.NetNS) error {
		conn, err := net.DialTimeout("tcp4", to.String(), testbed.ProbeTimeout)
		if err != nil {
			return nil
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ = bufio.NewReader(conn).ReadString('\n')
		return nil
	})
	return strings.TrimSpace(line)
}
