package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// Names of the ports Cane adds besides pods.
const (
	tunnelPort  = "cane-tun"    // on the bridge: flow-based VXLAN
	uplinkPort  = "cane-uplink" // on the bridge: patch to the underlay bridge
	uplinkPeer  = "cane-int"    // on the underlay bridge: patch back
	hostPort    = "cane-host"   // on the bridge: internal port to the node's own stack
	hostMAC     = "0a:58:00:00:00:02"
	vxlanPortNo = "4789"
)

// vxlanOverhead is what VXLAN over IPv4 adds to a frame: outer IP 20, UDP
// 8, VXLAN 8, inner Ethernet 14.
const vxlanOverhead = 50

// nodeBridge sets up the node's side of OVS: Cane's bridge, its
// tunnel/uplink/host ports, the host port's routes and the pod MTU. Every
// step is idempotent: it runs on every (re)start.
type nodeBridge struct {
	cfg     *Config
	hostNS  ns.NetNS
	log     *slog.Logger
	overlay bool
	uplink  bool
	views   *clusterView
	mtu     atomic.Int32 // pod MTU in force
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
	b.syncHostPort()
	return dp, nil
}

// wantPorts are the node's own ports: the host port, the tunnel port
// (multi-node) and the uplink patch pair (VLAN domains).
func (b *nodeBridge) wantPorts() []ovs.PortConfig {
	want := []ovs.PortConfig{{Bridge: b.cfg.Bridge, Name: hostPort, Type: "internal", OFPortRequest: flows.HostOFPort, MAC: hostMAC}}
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

// ensurePorts adds the node's own ports that are missing, and sizes the
// uplink bridge's MAC table.
func (b *nodeBridge) ensurePorts(ctx context.Context, db *ovs.DB) error {
	for _, p := range b.wantPorts() {
		if _, err := db.Port(ctx, p.Bridge, p.Name); err == nil {
			continue
		}
		if _, err := db.AddPort(ctx, p); err != nil {
			return fmt.Errorf("add %s to %s: %w", p.Name, p.Bridge, err)
		}
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

// syncHostPort routes every pool through the host port, so the node
// reaches its pods (probes, hostPort DNAT); a failure is logged and tried
// again with the next change or start.
func (b *nodeBridge) syncHostPort() {
	var cidrs []netip.Prefix
	for _, p := range b.views.load().Pools {
		cidrs = append(cidrs, p.CIDR)
	}
	if err := podnet.SetupHostPort(b.hostNS, hostPort, b.podMTUInForce(), cidrs); err != nil {
		b.log.Error("host port routes", "err", err)
	}
}
