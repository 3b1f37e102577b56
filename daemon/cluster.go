package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/netconf"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// Kubernetes labels and annotations that choose a pod's pool.
const (
	annotationPool = "cane.io/pool"   // on a pod: the pool by name
	labelDomain    = "cane.io/domain" // on a namespace: a pool of this domain
)

// refreshView rebuilds the view from the watcher's caches and hands the
// usable pools to IPAM.
func (d *Daemon) refreshView() {
	v, warnings := kubeView(d.watcher.View(), d.cfg.Node)
	for _, w := range warnings {
		d.log.Warn("cluster object ignored", "why", w)
	}
	if err := d.ipam.SetPools(v.ipamPools()); err != nil {
		d.log.Error("pools not applied", "err", err)
	}
	d.view.Store(v)
}

// syncLoop applies cluster changes to the pipeline as they come.
func (d *Daemon) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.watcher.Changed():
		}
		d.refreshView()
		if !d.ready.Load() {
			continue // the next reconcile installs everything
		}
		d.syncHostPort()
		d.tendLoans(ctx)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := d.syncFlows(sctx); err != nil {
			d.log.Error("apply cluster change", "err", err)
		}
		cancel()
	}
}

// syncFlows brings the non-pod flows (pipeline, domains, pools, remote
// nodes) to the view by difference: a node joining adds its handful of
// flows, a node leaving deletes exactly its own. Nothing is flushed.
func (d *Daemon) syncFlows(ctx context.Context) error {
	d.resync.RLock()
	defer d.resync.RUnlock()
	return d.syncFlowsLocked(ctx)
}

// syncFlowsLocked is syncFlows for a caller that holds resync (shared).
func (d *Daemon) syncFlowsLocked(ctx context.Context) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	n := d.flowNode()
	want := keyed(flows.WithRound(n.All(), uint16(d.round.Load())))
	var b ovs.Bundle
	for k, f := range want {
		if cur, ok := d.applied[k]; !ok || cur != flowHash(f) {
			b.Add(f)
		}
	}
	for k := range d.applied {
		if _, ok := want[k]; !ok {
			b.DeleteStrictKey(k)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := d.of.Apply(ctx, d.cfg.Bridge, &b); err != nil {
		return err
	}
	d.applied = hashed(want)
	d.log.Info("cluster change applied", "flowMods", b.Len(), "remoteNodes", len(n.Remotes))
	return nil
}

// Names of the ports Cane adds besides pods.
const (
	tunnelPort  = "cane-tun"    // on the bridge: flow-based VXLAN
	uplinkPort  = "cane-uplink" // on the bridge: patch to the underlay bridge
	uplinkPeer  = "cane-int"    // on the underlay bridge: patch back
	hostPort    = "cane-host"   // on the bridge: internal port to the node's own stack
	hostMAC     = "0a:58:00:00:00:02"
	vxlanPortNo = "4789"
)

// ensurePorts adds the host port, the tunnel port (multi-node) and the
// uplink patch pair (VLAN domains) if they are missing. Idempotent.
func (d *Daemon) ensurePorts(ctx context.Context, db *ovs.DB) error {
	want := []ovs.PortConfig{{Bridge: d.cfg.Bridge, Name: hostPort, Type: "internal", OFPortRequest: flows.HostOFPort, MAC: hostMAC}}
	if d.overlay() {
		want = append(want, ovs.PortConfig{Bridge: d.cfg.Bridge, Name: tunnelPort, Type: "vxlan", OFPortRequest: flows.TunnelOFPort,
			Options: map[string]string{"remote_ip": "flow", "key": "flow", "dst_port": vxlanPortNo}})
	}
	if d.uplink() {
		want = append(want,
			ovs.PortConfig{Bridge: d.cfg.Bridge, Name: uplinkPort, Type: "patch", OFPortRequest: flows.UplinkOFPort, Options: map[string]string{"peer": uplinkPeer}},
			ovs.PortConfig{Bridge: d.cfg.UplinkBridge, Name: uplinkPeer, Type: "patch", Options: map[string]string{"peer": uplinkPort}})
	}
	for _, p := range want {
		if _, err := db.Port(ctx, p.Bridge, p.Name); err == nil {
			continue
		}
		if _, err := db.AddPort(ctx, p); err != nil {
			return fmt.Errorf("add %s to %s: %w", p.Name, p.Bridge, err)
		}
	}
	if d.uplink() {
		// The underlay bridge learns every MAC of the segment; OVS's
		// default table (2048) fills on a big one. An admin's setting stays.
		b, err := db.Bridge(ctx, d.cfg.UplinkBridge)
		if err != nil {
			return err
		}
		if b.OtherConfig["mac-table-size"] == "" {
			if err := db.SetBridgeOtherConfig(ctx, d.cfg.UplinkBridge, "mac-table-size", fmt.Sprint(d.cfg.MACTableSize)); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncHostPort routes every pool through the host port, so the node
// reaches its pods (probes, hostPort DNAT); a failure is logged and tried
// again with the next change or start.
func (d *Daemon) syncHostPort() {
	var cidrs []netip.Prefix
	for _, p := range d.view.Load().Pools {
		cidrs = append(cidrs, p.CIDR)
	}
	if err := podnet.SetupHostPort(d.hostNS, hostPort, int(d.mtu.Load()), cidrs); err != nil {
		d.log.Error("host port routes", "err", err)
	}
}

// choosePool picks the pod's pool: what the runtime names, else what the
// cluster says (pod annotation, namespace label), else the netconf default.
func (d *Daemon) choosePool(ctx context.Context, nc *netconf.NetConf, a netconf.Args) (string, error) {
	if p := nc.ExplicitPool(a); p != "" {
		return p, nil
	}
	p, err := d.kubePool(ctx, a.PodNamespace, a.PodName)
	if p != "" || err != nil {
		return p, err
	}
	return nc.Pool, nil
}

// poolDomain is the domain of a pool in the view, "" if unknown.
func poolDomain(v *view, pool string) string {
	for _, p := range v.Pools {
		if p.Name == pool {
			return p.Domain
		}
	}
	return ""
}

// kubePool chooses a pool for a pod from the cluster: the pod's
// cane.io/pool annotation, else a pool usable on this node of the domain
// its namespace's cane.io/domain label names. "" if neither says.
func (d *Daemon) kubePool(ctx context.Context, namespace, name string) (string, error) {
	if d.watcher == nil || name == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pod, err := d.watcher.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	if err == nil && pod.Annotations[annotationPool] != "" {
		return pod.Annotations[annotationPool], nil
	}
	ns, err := d.watcher.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get namespace %s: %w", namespace, err)
	}
	domain := ns.Labels[labelDomain]
	if domain == "" {
		return "", nil
	}
	v := d.view.Load()
	for _, p := range v.Pools {
		if p.Domain == domain && v.Usable[p.Name] {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("namespace %s is in domain %q, which has no pool usable on node %s", namespace, domain, d.cfg.Node)
}
