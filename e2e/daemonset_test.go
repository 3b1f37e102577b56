package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/e2e/testbed"
)

// TestDaemonSet: Cane installed the way an operator installs it. node1
// starts with OVS, containerd and a kubelet, but no caned and no CNI
// configuration, so it is not Ready. deploy/rbac.yaml and
// deploy/caned.yaml are applied and the DaemonSet's pod template runs on
// node1 (what the DaemonSet controller and the scheduler would do: this
// control plane has neither). Its init container installs cane and the
// conflist, caned runs in its container with the pod's service account
// (RBAC and the admission policy enforced: its token is bound to the pod,
// so to node1), publishes its CaneNode, the node gets Ready, and workload pods get addresses
// of their pools, reach their domain and not the other; deleting them
// leaves nothing behind.
func TestDaemonSet(t *testing.T) {
	kdir := kubeletPrereqs(t)
	tb, c, cp := startClusterObjects(t)
	node, err := tb.ClusterNode(c, cp, "node1", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The node's CNI bin dir holds the reference plugins; cane arrives
	// with the DaemonSet.
	cniBin := filepath.Join(node.Dir, "cni-bin")
	files := map[string]string{}
	for _, p := range chained {
		files[filepath.Join(cniBin, p)] = filepath.Join(binDir, p)
	}
	for dst, src := range files {
		if err := copyFile(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	image := buildImage(t, tb, map[string]string{
		"/usr/local/bin/caned": filepath.Join(binDir, "caned"), "/usr/local/bin/cane": filepath.Join(binDir, "cane"),
		"/usr/local/bin/canectl": filepath.Join(binDir, "canectl"),
	}, "ovs-ofctl", "ovs-appctl")
	k, err := tb.StartKubelet(c, node, kdir, cniBin, "", image)
	if err != nil {
		t.Fatal(err)
	}
	cs, _, err := cp.Clients()
	if err != nil {
		t.Fatal(err)
	}
	// What the controller-manager would publish for service accounts.
	ca, err := cp.ServingCert()
	if err != nil {
		t.Fatal(err)
	}
	rootCA := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "kube-system"}, Data: map[string]string{"ca.crt": string(ca)}}
	if _, err := cs.CoreV1().ConfigMaps("kube-system").Create(c, rootCA, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cp.InstallIdentity(c); err != nil { // deploy/rbac.yaml and admission.yaml
		t.Fatal(err)
	}
	cm, ds := daemonSet(t)
	// The testbed's paths for the host paths the manifest names.
	hostPaths := map[string]string{
		"/opt/cni/bin": cniBin, "/etc/cni/net.d": k.CNIConfDir, "/run/cane": filepath.Dir(node.Socket),
		"/var/lib/cane": filepath.Join(node.Dir, "cane-state"), "/var/run/openvswitch": node.OVS.Dir, "/var/run/netns": k.NetNSDir(),
	}
	cm.Data["10-cane.conflist"] = strings.ReplaceAll(cm.Data["10-cane.conflist"], "/run/cane/caned.sock", node.Socket)
	if _, err := cs.CoreV1().ConfigMaps("kube-system").Create(c, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pod := podOf(ds, node.Name, hostPaths, testbed.ControlPlaneIP.String())
	if _, err := cs.CoreV1().Pods("kube-system").Create(c, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := node.WaitReady(c); err != nil {
		out, _ := cp.Kubectl(c, "describe", "pod", "-n", "kube-system", pod.Name)
		logs, _ := cp.Kubectl(c, "logs", "-n", "kube-system", pod.Name, "--all-containers")
		t.Fatalf("caned of the DaemonSet: %v\n%s\n%s\n%s", err, out, logs, k.LogTails())
	}
	if err := k.WaitNodeReady(c); err != nil {
		t.Fatal(err)
	}
	t.Logf("DaemonSet pod created -> cane installed, caned ready, node Ready: %s", time.Since(start).Round(time.Millisecond))
	// Its CaneNode, which the admission policy lets only node1's token
	// write: the pod's projected token names its node.
	_, dyn, _ := cp.Clients()
	cn, err := dyn.Resource(kube.CaneNodesResource).Get(c, node.Name, metav1.GetOptions{})
	if vtep, _, _ := unstructured.NestedString(cn.Object, "spec", "vtep"); err != nil || vtep != node.VTEP.String() {
		t.Errorf("the DaemonSet's caned published CaneNode %s with vtep %q (%v), want %s", node.Name, vtep, err, node.VTEP)
	}
	installed, err := os.ReadFile(filepath.Join(k.CNIConfDir, "10-cane.conflist"))
	if err != nil || !bytes.Contains(installed, []byte(node.Socket)) {
		t.Errorf("the install step left conflist %q (%v)", installed, err)
	}

	if err := cp.Apply(c, kubeletPods); err != nil {
		t.Fatal(err)
	}
	web, db, qa := waitPodIP(t, c, k, "shop", "web"), waitPodIP(t, c, k, "shop", "db"), waitPodIP(t, c, k, "qa", "web")
	t.Logf("workload pods: shop/web %s, shop/db %s, qa/web %s", web, db, qa)
	pods := kubeletPodsOf(t, c, node)
	expect(t, true, 9700, [2]*testbed.Pod{pods["shop/web"], pods["shop/db"]})
	expect(t, false, 9800, [2]*testbed.Pod{pods["shop/web"], pods["qa/web"]}, [2]*testbed.Pod{pods["qa/web"], pods["shop/db"]})
	for _, ns := range []string{"shop", "qa"} {
		if out, err := cp.Kubectl(c, "delete", "pods", "--all", "-n", ns, "--wait", "--timeout", "60s"); err != nil {
			t.Fatalf("kubectl delete: %v: %s", err, out)
		}
	}
	assertOnly(t, c, node)
	wantXRay(t, node, "", "")
}

// kubeletPrereqs ends the test unless containerd, runc, the chained
// reference plugins and a kubelet are there; it returns the kubelet's dir.
func kubeletPrereqs(t *testing.T) string {
	t.Helper()
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "nsenter"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("needs %s (scripts/deps.sh installs it): %v", b, err)
		}
	}
	for _, p := range chained {
		if _, err := os.Stat(filepath.Join(binDir, p)); err != nil {
			t.Fatalf("needs the reference CNI plugin %s in %s (make cni-plugins): %v", p, binDir, err)
		}
	}
	kdir := k8sDir(t)
	if _, err := os.Stat(filepath.Join(kdir, "kubelet")); err != nil {
		t.Fatalf("needs kubelet in %s (scripts/k8s.sh kube-apiserver kubelet): %v", kdir, err)
	}
	return kdir
}

// buildImage writes the e2e image archive: the pod binary, files (image
// path -> file here), and the named tools with their libraries.
func buildImage(t *testing.T, tb *testbed.Testbed, files map[string]string, tools ...string) string {
	t.Helper()
	exe := filepath.Join(tb.Dir, "podimage")
	build := exec.Command("go", "build", "-o", exe, "./podimage")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the pod image's binary: %v: %s", err, out)
	}
	all := map[string]string{"podimage": exe}
	for k, v := range files {
		all[k] = v
	}
	if err := testbed.WithLibraries(all, tools...); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(tb.Dir, "e2e-image.tar")
	if err := testbed.WriteImage(image, all); err != nil {
		t.Fatal(err)
	}
	return image
}

// daemonSet reads deploy/caned.yaml: its ConfigMap and DaemonSet.
func daemonSet(t *testing.T) (*corev1.ConfigMap, *appsv1.DaemonSet) {
	t.Helper()
	data, err := os.ReadFile("../deploy/caned.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	var ds appsv1.DaemonSet
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ConfigMap":
			err = yaml.Unmarshal(doc, &cm)
		case "DaemonSet":
			err = yaml.Unmarshal(doc, &ds)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if cm.Name == "" || ds.Name == "" {
		t.Fatal("deploy/caned.yaml lacks its ConfigMap or DaemonSet")
	}
	return &cm, &ds
}

// podOf is the pod the DaemonSet controller would make for node, with
// the testbed's host paths, the local image, and the apiserver's address
// (no kube-proxy here to serve the kubernetes Service).
func podOf(ds *appsv1.DaemonSet, node string, hostPaths map[string]string, apiserver string) *corev1.Pod {
	spec := *ds.Spec.Template.Spec.DeepCopy()
	spec.NodeName = node
	for i, v := range spec.Volumes {
		if v.HostPath != nil && hostPaths[v.HostPath.Path] != "" {
			spec.Volumes[i].HostPath.Path = hostPaths[v.HostPath.Path]
		}
	}
	fix := func(cs []corev1.Container) {
		for i := range cs {
			cs[i].Image, cs[i].ImagePullPolicy = testbed.ImageName, corev1.PullNever
			cs[i].Env = append(cs[i].Env,
				corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: apiserver}, corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: "6443"})
			for j, m := range cs[i].VolumeMounts {
				if m.MountPath == "/var/run/netns" { // CNI_NETNS paths must mean the same inside
					cs[i].VolumeMounts[j].MountPath = hostPaths["/var/run/netns"]
				}
			}
		}
	}
	fix(spec.InitContainers)
	fix(spec.Containers)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-" + node, Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels},
		Spec:       spec,
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
