package testbed

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
)

// Pod is a netns attached through the real cane binary.
type Pod struct {
	Name        string // namespace/name as the runtime would pass it
	ContainerID string
	NS          ns.NetNS
	Node        *Node
	Pool        string
	// Annotations, if set, are passed as the runtime passes a pod's
	// annotations (the io.kubernetes.cri.pod-annotations capability); nil:
	// caned reads the pod object, as behind a runtime that does not.
	Annotations map[string]string
	IP          netip.Addr
	MAC         net.HardwareAddr
	Result      *current.Result
}

// ConfList is the network configuration a runtime would load for a node.
func (n *Node) ConfList() (*libcni.NetworkConfigList, error) {
	return libcni.ConfListFromBytes([]byte(fmt.Sprintf(`{
  "cniVersion": "1.1.0",
  "name": "cane",
  "plugins": [{"type": "cane", "socket": %q, "capabilities": {%q: true}}]
}`, n.Socket, podAnnotations)))
}

// podAnnotations is the CNI capability of the pod's annotations.
const podAnnotations = "io.kubernetes.cri.pod-annotations"

// CNI returns a libcni client that finds cane in the testbed's bin dir
// and keeps its result cache inside the testbed.
func (tb *Testbed) CNI() *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir([]string{tb.BinDir}, filepath.Join(tb.Dir, "cni-cache"), nil)
}

// RuntimeConf is what a runtime passes for the pod.
func (p *Pod) RuntimeConf() *libcni.RuntimeConf {
	ns, name := splitName(p.Name)
	args := [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", ns}, {"K8S_POD_NAME", name}}
	if p.Pool != "" { // else the cluster chooses (annotation, namespace label)
		args = append(args, [2]string{"CANE_POOL", p.Pool})
	}
	rc := &libcni.RuntimeConf{ContainerID: p.ContainerID, NetNS: p.NS.Path(), IfName: "eth0", Args: args}
	if p.Annotations != nil {
		rc.CapabilityArgs = map[string]any{podAnnotations: p.Annotations}
	}
	return rc
}

// AddPod makes a pod netns on node n and runs CNI ADD for it in pool.
func (tb *Testbed) AddPod(ctx context.Context, n *Node, name, pool string) (*Pod, error) {
	p, err := tb.NewPod(n, name, pool)
	if err != nil {
		return nil, err
	}
	return p, tb.Add(ctx, p)
}

// NewPod makes a pod's netns on node n, for Add. At cleanup the pod gets
// a CNI DEL, as a runtime does for every sandbox, even one whose ADD
// failed.
func (tb *Testbed) NewPod(n *Node, name, pool string) (*Pod, error) {
	netns, err := tb.NewNetNS()
	if err != nil {
		return nil, err
	}
	p := &Pod{Name: name, ContainerID: "ctr-" + filepath.Base(netns.Path()), NS: netns, Node: n, Pool: pool}
	tb.defer_(func() error {
		if n.left {
			return nil
		}
		return tb.Del(context.Background(), p)
	})
	return p, nil
}

// Add runs CNI ADD for the pod and records its address and MAC.
func (tb *Testbed) Add(ctx context.Context, p *Pod) error {
	list, err := p.Node.ConfList()
	if err != nil {
		return err
	}
	res, err := tb.CNI().AddNetworkList(ctx, list, p.RuntimeConf())
	if err != nil {
		return fmt.Errorf("ADD %s: %w", p.Name, err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return err
	}
	if len(r.IPs) != 1 || len(r.Interfaces) < 2 {
		return fmt.Errorf("ADD %s: unexpected result %v", p.Name, r)
	}
	p.Result = r
	p.IP, _ = netip.AddrFromSlice(r.IPs[0].Address.IP.To4())
	p.MAC, _ = net.ParseMAC(r.Interfaces[1].Mac)
	return nil
}

// Del runs CNI DEL for the pod.
func (tb *Testbed) Del(ctx context.Context, p *Pod) error {
	list, err := p.Node.ConfList()
	if err != nil {
		return err
	}
	return tb.CNI().DelNetworkList(ctx, list, p.RuntimeConf())
}

// Check runs CNI CHECK for the pod.
func (tb *Testbed) Check(ctx context.Context, p *Pod) error {
	list, err := p.Node.ConfList()
	if err != nil {
		return err
	}
	return tb.CNI().CheckNetworkList(ctx, list, p.RuntimeConf())
}

// splitName splits "namespace/name"; a bare name is in "default".
func splitName(s string) (string, string) {
	if ns, name, ok := strings.Cut(s, "/"); ok {
		return ns, name
	}
	return "default", s
}
