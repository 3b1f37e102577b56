package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubelet is a real kubelet on a real containerd (CRI), both running in a
// node's netns, with Cane as the network: containerd execs the CNI
// plugins of a conflist, as on any node.
type Kubelet struct {
	Node       *Node
	Dir        string
	CNIBinDir  string // cane, loopback and the chained reference plugins
	CNIConfDir string
	Containerd string // containerd's socket
	k8sDir     string
	cgroup     string // the kubelet's cgroup root, under every hierarchy
	containerd *proc
	kubelet    *proc
}

// StartKubelet starts containerd and a kubelet on node n (a cluster node,
// from JoinNode): the conflist at conflist (its caned socket replaced by
// the node's) goes into the CNI conf dir, the e2e image archive is
// imported, and it returns once the kubelet has its Node Ready. With no
// conflist ("": a DaemonSet will install one) it returns once the kubelet
// is up, its node not Ready for pods yet. Close stops both and removes
// what they leave (mounts, shims, cgroups, /var/lib/kubelet/device-plugins,
// /var/log/{containers,pods}).
func (tb *Testbed) StartKubelet(ctx context.Context, n *Node, k8sDir, cniBinDir, conflist, image string) (*Kubelet, error) {
	k := &Kubelet{Node: n, Dir: filepath.Join(n.Dir, "k8s"), CNIBinDir: cniBinDir, k8sDir: k8sDir}
	k.CNIConfDir = filepath.Join(k.Dir, "net.d")
	k.Containerd = filepath.Join(k.Dir, "containerd.sock")
	k.cgroup = "/cane-e2e-" + filepath.Base(tb.Dir) + "-" + n.Name
	for _, d := range []string{k.CNIConfDir, filepath.Join(k.Dir, "kubelet")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	tb.defer_(k.cleanHost())
	// A node forwards: hostPort traffic from outside goes on to the pod.
	if err := sysctlIn(n.NS, "net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	if conflist != "" {
		cl, err := os.ReadFile(conflist)
		if err != nil {
			return nil, err
		}
		cl = bytes.ReplaceAll(cl, []byte(`"/run/cane/caned.sock"`), []byte(fmt.Sprintf("%q", n.Socket)))
		if err := os.WriteFile(filepath.Join(k.CNIConfDir, filepath.Base(conflist)), cl, 0o644); err != nil {
			return nil, err
		}
	}
	if err := k.shareNetNSDir(); err != nil {
		return nil, err
	}
	if err := k.startContainerd(ctx, tb); err != nil {
		return nil, err
	}
	if out, err := k.ctr(ctx, "images", "import", image); err != nil {
		return nil, fmt.Errorf("import %s: %w: %s", image, err, out)
	}
	if err := k.startKubelet(ctx, tb); err != nil {
		return nil, err
	}
	if conflist == "" {
		return k, k.waitNodeReady(ctx, time.Now(), false)
	}
	return k, k.waitNodeReady(ctx, time.Time{}, true)
}

// NetNSDir is where containerd pins pod netns (CNI_NETNS paths).
func (k *Kubelet) NetNSDir() string {
	return filepath.Join(k.Dir, "containerd-state", "io.containerd.grpc.v1.cri", "netns")
}

// shareNetNSDir makes the netns dir a shared mount, so the netns bind
// mounts containerd makes there reach a container that mounts the dir
// with HostToContainer propagation (caned in its DaemonSet pod), as
// /var/run/netns does on a systemd host. This machine's root mount is
// private.
func (k *Kubelet) shareNetNSDir() error {
	dir := k.NetNSDir()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dir, err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

func (k *Kubelet) startContainerd(ctx context.Context, tb *Testbed) error {
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
`, filepath.Join(k.Dir, "containerd"), filepath.Join(k.Dir, "containerd-state"), k.Containerd,
		filepath.Join(k.Dir, "opt"), ImageName, k.CNIBinDir, k.CNIConfDir)
	path := filepath.Join(k.Dir, "containerd.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd, err := k.start("containerd", "containerd", "--config", path)
	if err != nil {
		return err
	}
	k.containerd = cmd
	tb.defer_(k.stopContainerd)
	for {
		if _, err := k.ctr(ctx, "version"); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-k.containerd.exited():
		case <-time.After(100 * time.Millisecond):
			continue
		}
		log, _ := os.ReadFile(filepath.Join(k.Dir, "containerd.log"))
		return fmt.Errorf("containerd on %s not up: %s", k.Node.Name, tail(log, 2000))
	}
}

func (k *Kubelet) startKubelet(ctx context.Context, tb *Testbed) error {
	for _, h := range cgroupHierarchies() {
		if err := os.MkdirAll(filepath.Join(h, k.cgroup), 0o755); err != nil {
			return fmt.Errorf("cgroup root: %w", err)
		}
	}
	root := filepath.Join(k.Dir, "kubelet")
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
failSwapOn: false
address: %[2]s
readOnlyPort: 0
healthzPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://%[3]s
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
volumePluginDir: %[4]s
podLogsDir: %[5]s
resolvConf: ""
maxPods: 20
`, k.cgroup, k.Node.VTEP, k.Containerd, filepath.Join(root, "volume-plugins"), filepath.Join(k.Dir, "pod-logs"))
	path := filepath.Join(k.Dir, "kubelet.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd, err := k.start("kubelet", filepath.Join(k.k8sDir, "kubelet"),
		"--config", path, "--kubeconfig", k.Node.cp.Kubeconfig, "--root-dir", root,
		"--node-ip", k.Node.VTEP.String(), "--hostname-override", k.Node.Name, "--v", "2")
	if err != nil {
		return err
	}
	k.kubelet = cmd
	tb.defer_(k.StopKubelet)
	return nil
}

// RestartKubelet stops the kubelet and starts it again (pods keep running
// in containerd meanwhile).
func (k *Kubelet) RestartKubelet(ctx context.Context, tb *Testbed) error {
	if err := k.StopKubelet(); err != nil {
		return err
	}
	restarted := time.Now()
	if err := k.startKubelet(ctx, tb); err != nil {
		return err
	}
	return k.waitNodeReady(ctx, restarted, true)
}

// StopKubelet ends the kubelet by its PID (SIGTERM, then SIGKILL).
func (k *Kubelet) StopKubelet() error {
	k.kubelet.stop(syscall.SIGTERM, 15*time.Second)
	k.kubelet = nil
	return nil
}

// start runs a daemon in the node's netns, logging to DIR/name.log.
func (k *Kubelet) start(name, bin string, args ...string) (*proc, error) {
	p, err := startProc(k.Node.NS, filepath.Join(k.Dir, name+".log"), nil, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", name, k.Node.Name, err)
	}
	return p, nil
}

// ctr runs containerd's own CLI against this node's containerd, in the
// CRI's namespace.
func (k *Kubelet) ctr(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", k.Containerd, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// WaitNodeReady waits until the kubelet's Node is Ready.
func (k *Kubelet) WaitNodeReady(ctx context.Context) error {
	return k.waitNodeReady(ctx, time.Time{}, true)
}

// waitNodeReady waits until the kubelet has renewed its node lease after
// since (if set: a restarted kubelet is up, not its predecessor's last
// word) and, with ready, the Node is Ready.
func (k *Kubelet) waitNodeReady(ctx context.Context, since time.Time, ready bool) error {
	cs, _, err := k.Node.cp.Clients()
	if err != nil {
		return err
	}
	for {
		node, err := cs.CoreV1().Nodes().Get(ctx, k.Node.Name, metav1.GetOptions{})
		renewed := since.IsZero()
		if l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, k.Node.Name, metav1.GetOptions{}); err == nil && l.Spec.RenewTime != nil {
			renewed = renewed || l.Spec.RenewTime.After(since)
		}
		if err == nil && renewed && !ready {
			return nil
		}
		if err == nil && renewed {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-k.kubelet.exited():
		case <-time.After(250 * time.Millisecond):
			continue
		}
		log, _ := os.ReadFile(filepath.Join(k.Dir, "kubelet.log"))
		return fmt.Errorf("kubelet on %s: node not up (Ready: %v): %s", k.Node.Name, ready, tail(log, 4000))
	}
}

// stopContainerd removes what the kubelet left running (containers whose
// pods were not deleted), stops containerd, and ends the shims it started:
// they outlive it by design, and their command line names its socket.
func (k *Kubelet) stopContainerd() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := k.ctr(ctx, "tasks", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = k.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
			_, _ = k.ctr(ctx, "tasks", "rm", "-f", id)
		}
	}
	k.containerd.stop(syscall.SIGTERM, 15*time.Second)
	k.containerd = nil
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("containerd-shim")) || !bytes.Contains(b, []byte(k.Containerd)) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// cleanHost returns the undo of what containerd and the kubelet leave on
// the machine: mounts under the node's dir (kubelet root bind mount,
// snapshots, netns), the cgroup root, and the few fixed paths the kubelet
// writes whatever its flags — removed only if they did not exist before.
func (k *Kubelet) cleanHost() func() error {
	var created []string
	for _, p := range []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods"} {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			created = append(created, p)
		}
	}
	return func() error {
		unmountUnder(k.Dir)
		for _, h := range cgroupHierarchies() {
			removeCgroups(filepath.Join(h, k.cgroup))
		}
		for _, p := range created {
			_ = os.RemoveAll(p)
		}
		return nil
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// cgroupHierarchies are the mounted cgroup v1 hierarchies (or the v2 root).
func cgroupHierarchies() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var out []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() && e.Name() != "unified" {
			out = append(out, p)
		}
	}
	return out
}

// removeCgroups removes a cgroup and its children, deepest first.
func removeCgroups(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeCgroups(filepath.Join(dir, e.Name()))
		}
	}
	_ = syscall.Rmdir(dir)
}

// LogTails is the end of the kubelet's and containerd's logs, for a
// failure message.
func (k *Kubelet) LogTails() string {
	var b strings.Builder
	for _, name := range []string{"kubelet", "containerd"} {
		log, _ := os.ReadFile(filepath.Join(k.Dir, name+".log"))
		fmt.Fprintf(&b, "--- %s.log (end)\n%s\n", name, tail(log, 3000))
	}
	return b.String()
}
