package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/nodenet"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// Names of the ports Cane adds besides pods and host ports.
const (
	tunnelPort  = "cane-tun"    // on the bridge: flow-based VXLAN
	uplinkPort  = "cane-uplink" // on the bridge: patch to the underlay bridge
	uplinkPeer  = "cane-int"    // on the underlay bridge: patch back
	legacyHost  = "cane-host"   // the single host port of earlier releases: removed
	vxlanPortNo = "4789"
	idHostPort  = "cane.io/host-port" // external_id on a domain's host port: its domain
)

// vxlanOverhead is what VXLAN over IPv4 adds to a frame: outer IP 20, UDP
// 8, VXLAN 8, inner Ethernet 14.
const vxlanOverhead = 50

// nodeBridge sets up the node's side of OVS and of its kernel: Cane's
// bridge, the tunnel and uplink ports, a host port per domain, the pod
// MTU, and the node's routes, rules and nftables table for the host ports
// (nodenet). Every step is idempotent: it runs on every (re)start and,
// for the host ports and the kernel, on every cluster change.
//
// Lock: mu serializes syncHost (a leaf of the lock order in daemon.go;
// it is held across OVSDB and netlink calls, which no CNI path waits on).
type nodeBridge struct {
	cfg     *Config
	hostNS  ns.NetNS
	log     *slog.Logger
	overlay bool
	uplink  bool
	views   *clusterView
	lent    func() []flows.LentBlock // every lent block (the cluster's and this node's own)
	mtu     atomic.Int32             // pod MTU in force
	netdev  atomic.Bool              // the bridge runs in OVS's userspace datapath

	mu        sync.Mutex
	hostPorts atomic.Pointer[[]flows.HostPort] // the domains' host ports, as OVS has them
	kernel    *nodenet.State                   // last applied
}

// ensure creates the bridge (or brings it to Cane's settings), adds the
// node's ports and sets the pod MTU; it returns the datapath type.
func (b *nodeBridge) ensure(ctx context.Context, db *ovs.DB) (string, error) {
	dp := b.cfg.Datapath
	if dp == "" {
		dp = ovs.Datapath()
	}
	err := db.EnsureBridge(ctx, ovs.BridgeConfig{
		Name: b.cfg.Bridge, DatapathType: dp,
		OtherConfig: map[string]string{"mac-table-size": fmt.Sprint(b.cfg.MACTableSize)},
	})
	if err != nil {
		return "", fmt.Errorf("set up bridge %s: %w", b.cfg.Bridge, err)
	}
	if err := b.ensurePorts(ctx, db); err != nil {
		return "", err
	}
	b.mtu.Store(int32(b.podMTU()))
	b.netdev.Store(dp == "netdev")
	b.mu.Lock()
	b.kernel = nil // apply the kernel state again after a restart of OVS
	b.mu.Unlock()
	return dp, b.syncHost(ctx, db)
}

// txChecksumOff: the pods' interfaces and host ports must compute their
// TCP/UDP checksums themselves, as OVS's userspace datapath cannot tunnel
// packets that leave them to offload (ethtool.TxChecksumOff).
func (b *nodeBridge) txChecksumOff() bool { return b.overlay && b.netdev.Load() }

// wantPorts are the node's fixed ports: the tunnel port (multi-node) and
// the uplink patch pair (VLAN domains).
func (b *nodeBridge) wantPorts() []ovs.PortConfig {
	var want []ovs.PortConfig
	if b.overlay {
		want = append(want, ovs.PortConfig{Bridge: b.cfg.Bridge, Name: tunnelPort, Type: "vxlan", OFPortRequest: flows.TunnelOFPort,
			Options: map[string]string{"remote_ip": "flow", "key": "flow", "dst_port": vxlanPortNo}})
	}
	if b.uplink {
		want = append(want,
			ovs.PortConfig{Bridge: b.cfg.Bridge, Name: uplinkPort, Type: "patch", OFPortRequest: flows.UplinkOFPort, Options: map[string]string{"peer": uplinkPeer}},
			ovs.PortConfig{Bridge: b.cfg.UplinkBridge, Name: uplinkPeer, Type: "patch", Options: map[string]string{"peer": uplinkPort}})
	}
	return want
}

// ensurePorts adds the node's fixed ports that are missing, removes the
// single host port of earlier releases, and sizes the uplink bridge's MAC
// table.
func (b *nodeBridge) ensurePorts(ctx context.Context, db *ovs.DB) error {
	for _, p := range b.wantPorts() {
		if _, err := db.Port(ctx, p.Bridge, p.Name); err == nil {
			continue
		}
		if _, err := db.AddPort(ctx, p); err != nil {
			return fmt.Errorf("add %s to %s: %w", p.Name, p.Bridge, err)
		}
	}
	if err := db.DeletePort(ctx, b.cfg.Bridge, legacyHost); err != nil {
		return fmt.Errorf("remove the old host port %s: %w", legacyHost, err)
	}
	if !b.uplink {
		return nil
	}
	// The underlay bridge learns every MAC of the segment; OVS's default
	// table (2048) fills on a big one. An admin's setting stays.
	ub, err := db.Bridge(ctx, b.cfg.UplinkBridge)
	if err != nil {
		return err
	}
	if ub.OtherConfig["mac-table-size"] != "" {
		return nil
	}
	return db.SetBridgeOtherConfig(ctx, b.cfg.UplinkBridge, "mac-table-size", fmt.Sprint(b.cfg.MACTableSize))
}

// podMTU is the configured MTU, else the MTU of the link holding this
// node's underlay address (1500 if unknown), less the VXLAN overhead when
// pods may talk through the tunnel.
func (b *nodeBridge) podMTU() int {
	if b.cfg.MTU > 0 {
		return b.cfg.MTU
	}
	mtu := 1500
	if vtep := b.views.load().VTEP; vtep.IsValid() {
		if m, err := podnet.MTUOfAddress(b.hostNS, vtep); err == nil {
			mtu = m
		} else {
			b.log.Warn("underlay MTU unknown; assuming 1500", "vtep", vtep, "err", err)
		}
	}
	if b.overlay {
		mtu -= vxlanOverhead
	}
	return mtu
}

func (b *nodeBridge) podMTUInForce() int { return int(b.mtu.Load()) }

// ports are the domains' host ports as last synced.
func (b *nodeBridge) ports() []flows.HostPort {
	if p := b.hostPorts.Load(); p != nil {
		return *p
	}
	return nil
}

// syncHost brings the host ports to the view's domains (one each; those
// of domains gone are removed) and the node's kernel state to the view
// (nodenet.Apply, skipped if nothing changed since the last time).
func (b *nodeBridge) syncHost(ctx context.Context, db *ovs.DB) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.views.load()
	ports, err := b.syncHostPorts(ctx, db, v)
	if err != nil {
		return err
	}
	b.hostPorts.Store(&ports)
	want := b.kernelState(v)
	if b.kernel != nil && want.Equal(*b.kernel) {
		return nil
	}
	if err := nodenet.Apply(b.hostNS, want); err != nil {
		return fmt.Errorf("node kernel state: %w", err)
	}
	b.kernel = &want
	return nil
}

// syncHostPorts adds a host port for every domain that lacks one and
// removes those of domains gone; it returns the ports as OVS has them.
func (b *nodeBridge) syncHostPorts(ctx context.Context, db *ovs.DB, v *view) ([]flows.HostPort, error) {
	have, err := db.Ports(ctx, b.cfg.Bridge)
	if err != nil {
		return nil, err
	}
	byName, used := map[string]ovs.PortInfo{}, map[int]bool{}
	for _, p := range have {
		byName[p.Name], used[p.OFPort] = p, true
	}
	var out []flows.HostPort
	keep := map[string]bool{}
	for _, d := range v.Domains {
		name := nodenet.HostPortName(d.VNI)
		keep[name] = true
		p, ok := byName[name]
		if !ok || p.ExternalIDs[idHostPort] != d.Name {
			if p, err = b.addHostPort(ctx, db, d, ok, used); err != nil {
				return nil, err
			}
		}
		out = append(out, flows.HostPort{Domain: d.Name, OFPort: uint32(p.OFPort), MAC: hostPortMAC(d.VNI)})
	}
	for name := range byName {
		if strings.HasPrefix(name, nodenet.HostPortPrefix) && !keep[name] {
			if err := db.DeletePort(ctx, b.cfg.Bridge, name); err != nil {
				return nil, fmt.Errorf("remove host port %s: %w", name, err)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OFPort < out[j].OFPort })
	return out, nil
}

// addHostPort adds a domain's host port (replacing one of the same name
// that names another domain, left by a domain deleted and recreated with
// its VNI under another name) at the lowest free host ofport.
func (b *nodeBridge) addHostPort(ctx context.Context, db *ovs.DB, d DomainConf, exists bool, used map[int]bool) (ovs.PortInfo, error) {
	name := nodenet.HostPortName(d.VNI)
	if exists {
		if err := db.DeletePort(ctx, b.cfg.Bridge, name); err != nil {
			return ovs.PortInfo{}, fmt.Errorf("replace host port %s: %w", name, err)
		}
	}
	ofport := flows.FirstHostOFPort
	for used[ofport] {
		ofport++
	}
	used[ofport] = true
	got, err := db.AddPort(ctx, ovs.PortConfig{Bridge: b.cfg.Bridge, Name: name, Type: "internal", OFPortRequest: ofport,
		MAC: hostPortMAC(d.VNI).String(), ExternalIDs: map[string]string{idHostPort: d.Name}})
	if err != nil {
		return ovs.PortInfo{}, fmt.Errorf("add the host port of domain %s: %w", d.Name, err)
	}
	b.log.Info("host port added", "domain", d.Name, "port", name, "ofport", got)
	b.kernel = nil // a new device: its routes, sysctls and offloads again
	return ovs.PortInfo{Name: name, OFPort: got, ExternalIDs: map[string]string{idHostPort: d.Name}}, nil
}

// hostPortMAC is the MAC of a domain's host port: 0a:58:ff and the VNI
// (pod MACs are 0a:58 and a pool address; no pool holds 255.0.0.0/8).
func hostPortMAC(vni uint32) net.HardwareAddr {
	return net.HardwareAddr{0x0a, 0x58, 0xff, byte(vni >> 16), byte(vni >> 8), byte(vni)}
}
