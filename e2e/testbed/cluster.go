package testbed

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/ovs"
)

// UnderlayBridge is the OVS bridge holding a node's underlay port and
// address (userspace VXLAN needs the address on an OVS internal port).
const UnderlayBridge = "br-phy"

// JoinNode makes a cluster node: a netns on the fabric at 198.18.0.<n>,
// its OVS with the underlay on br-phy, a Node object (VTEP annotation and
// labels), and caned watching the control plane with a token bound to its
// Node (or the admin's, with cp.AdminNodes).
func (tb *Testbed) JoinNode(ctx context.Context, cp *ControlPlane, name string, n int, labels map[string]string) (*Node, error) {
	return tb.JoinNodeWith(ctx, cp, name, n, labels, nil)
}

// JoinNodeWith is JoinNode with caned's config changed by mutate (nil: as
// is) before it starts.
func (tb *Testbed) JoinNodeWith(ctx context.Context, cp *ControlPlane, name string, n int, labels map[string]string, mutate func(*daemon.Config)) (*Node, error) {
	node, err := tb.ClusterNode(ctx, cp, name, n, labels)
	if err != nil {
		return nil, err
	}
	if mutate != nil {
		if err := node.Reconfigure(mutate); err != nil {
			return nil, err
		}
	}
	tb.defer_(node.StopCaned)
	return node, node.StartCaned(ctx)
}

// ClusterNode is JoinNode without starting caned (a DaemonSet will).
func (tb *Testbed) ClusterNode(ctx context.Context, cp *ControlPlane, name string, n int, labels map[string]string) (*Node, error) {
	f, err := tb.Fabric()
	if err != nil {
		return nil, err
	}
	node, err := tb.newNode(ctx, name)
	if err != nil {
		return nil, err
	}
	node.VTEP = netip.AddrFrom4([4]byte{198, 18, 0, byte(n)})
	if err := f.Attach(node.NS, "eth0"); err != nil {
		return nil, err
	}
	if err := node.underlay(ctx); err != nil {
		return nil, fmt.Errorf("node %s underlay: %w", name, err)
	}
	cs, _, err := cp.Clients()
	if err != nil {
		return nil, err
	}
	obj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{kube.AnnotationVTEP: node.VTEP.String()}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create Node %s: %w", name, err)
	}
	node.cp = cp
	kubeconfig := cp.Kubeconfig
	if !cp.AdminNodes {
		if kubeconfig, err = cp.NodeKubeconfig(ctx, name); err != nil {
			return nil, err
		}
	}
	cfg := daemon.Config{Kubeconfig: kubeconfig, UplinkBridge: UnderlayBridge}
	return node, node.configure(cfg)
}

// underlay puts eth0 on br-phy (a standalone learning bridge: the
// underlay is not pod traffic) and the node's address on br-phy's
// internal port.
func (n *Node) underlay(ctx context.Context) error {
	db, err := ovs.Connect(ctx, n.OVS.DBEndpoint())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.EnsureBridge(ctx, ovs.BridgeConfig{Name: UnderlayBridge, DatapathType: "netdev", Standalone: true}); err != nil {
		return err
	}
	if _, err := db.AddPort(ctx, ovs.PortConfig{Bridge: UnderlayBridge, Name: "eth0"}); err != nil {
		return err
	}
	h, err := handleIn(n.NS)
	if err != nil {
		return err
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return err
	}
	return SetAddr(n.NS, UnderlayBridge, netip.PrefixFrom(n.VTEP, Underlay.Bits()))
}

// Apply runs kubectl apply with a manifest on stdin.
func (cp *ControlPlane) Apply(ctx context.Context, manifest string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", filepath.Base(cp.NS.Path()), cp.kubectl, "--kubeconfig", cp.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply: %w: %s", err, out)
	}
	return nil
}

// UnderlayMAC is the MAC of the node's underlay address (br-phy).
func (n *Node) UnderlayMAC() (net.HardwareAddr, error) {
	h, err := handleIn(n.NS)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	l, err := h.LinkByName(UnderlayBridge)
	if err != nil {
		return nil, err
	}
	return l.Attrs().HardwareAddr, nil
}

// Leave takes the node out of the cluster: its caned stops and its Node
// object is deleted, and with it its CaneNode (what Kubernetes' garbage
// collector does for the CaneNode's owner reference; this control plane
// has no controller-manager). Its pods stay, unreachable, as on a dead
// node.
func (n *Node) Leave(ctx context.Context) error {
	if err := n.StopCaned(); err != nil {
		return err
	}
	n.left = true
	cs, dyn, err := n.cp.Clients()
	if err != nil {
		return err
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	err = dyn.Resource(kube.CaneNodesResource).Delete(ctx, n.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ControlPlane is the control plane the node joined (nil if standalone).
func (n *Node) ControlPlane() *ControlPlane { return n.cp }

// Reconfigure changes the node's caned config (mutate gets it, the
// testbed's paths filled in) and rewrites its file: for the next start
// of caned.
func (n *Node) Reconfigure(mutate func(*daemon.Config)) error {
	cfg := n.Config
	mutate(&cfg)
	return n.configure(cfg)
}

// Sysctl sets a sysctl of the node's netns (key as under /proc/sys).
func (n *Node) Sysctl(key, value string) error { return sysctlIn(n.NS, key, value) }

// UnderlayHost is a host on the fabric at 198.18.0.<n> that is no node:
// the underlay's own machines, and an attacker among them.
func (tb *Testbed) UnderlayHost(n int) (ns.NetNS, netip.Addr, error) {
	f, err := tb.Fabric()
	if err != nil {
		return nil, netip.Addr{}, err
	}
	h, err := tb.NewNetNS()
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if err := f.Attach(h, "eth0"); err != nil {
		return nil, netip.Addr{}, err
	}
	addr := netip.AddrFrom4([4]byte{198, 18, 0, byte(n)})
	return h, addr, SetAddr(h, "eth0", netip.PrefixFrom(addr, Underlay.Bits()))
}
