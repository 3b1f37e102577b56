package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
)

// Node is one simulated node: a netns with an OVS instance and caned.
type Node struct {
	Name   string
	NS     ns.NetNS
	OVS    *ovstest.Server
	Config daemon.Config
	Dir    string // the node's files: config, state, OVS, log
	Socket string
	Log    string     // caned's log file
	VTEP   netip.Addr // underlay address (cluster nodes)
	Env    []string   // extra environment for caned (e.g. CANE_CRASH_AT)

	tb    *Testbed
	cp    *ControlPlane
	caned *proc
	left  bool // left the cluster: its pods are not DELeted, their netns go with the testbed
}

// NetNSName is the node's netns for `ip netns exec`.
func (n *Node) NetNSName() string { return filepath.Base(n.NS.Path()) }

// NewNetNS creates a netns that Close removes.
func (tb *Testbed) NewNetNS() (ns.NetNS, error) {
	n, err := testutils.NewNS()
	if err != nil {
		return nil, fmt.Errorf("create netns: %w", err)
	}
	tb.defer_(func() error {
		n.Close()
		return testutils.UnmountNS(n)
	})
	return n, nil
}

// StartNode creates a standalone node: its netns, its OVS, and its caned
// with cfg (node name, paths and datapath are filled in), and waits until
// caned reports ready.
func (tb *Testbed) StartNode(ctx context.Context, name string, cfg daemon.Config) (*Node, error) {
	n, err := tb.newNode(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := n.configure(cfg); err != nil {
		return nil, err
	}
	tb.defer_(n.StopCaned)
	return n, n.StartCaned(ctx)
}

// newNode makes the node's netns and starts its OVS.
func (tb *Testbed) newNode(ctx context.Context, name string) (*Node, error) {
	netns, err := tb.NewNetNS()
	if err != nil {
		return nil, err
	}
	err = netns.Do(func(ns.NetNS) error { // loopback up: caned's /metrics may listen there
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tb.Dir, name)
	o := &ovstest.Server{Dir: filepath.Join(dir, "ovs"), NetNS: filepath.Base(netns.Path())}
	tb.defer_(o.Stop)
	if err := o.Start(ctx); err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return &Node{Name: name, NS: netns, OVS: o, Dir: dir, Socket: filepath.Join(dir, "run", "caned.sock"), Log: filepath.Join(dir, "caned.log"), tb: tb}, nil
}

// configure writes caned's config file: cfg with this node's name, paths
// and the netdev datapath filled in.
func (n *Node) configure(cfg daemon.Config) error {
	dir := n.Dir
	cfg.Node, cfg.Datapath = n.Name, "netdev"
	cfg.OVSDB, cfg.OVSRunDir = n.OVS.DBEndpoint(), n.OVS.Dir
	cfg.Socket, cfg.State = n.Socket, filepath.Join(dir, "state.db")
	if cfg.Bridge == "" {
		cfg.Bridge = "br-int"
	}
	n.Config = cfg
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "caned.json"), data, 0o600)
}

// StartCaned starts caned in the node's netns and waits for ready.
func (n *Node) StartCaned(ctx context.Context) error {
	p, err := startProc(n.NS, n.Log, n.Env, filepath.Join(n.tb.BinDir, "caned"), "--config", filepath.Join(n.Dir, "caned.json"))
	if err != nil {
		return fmt.Errorf("caned on %s: %w", n.Name, err)
	}
	n.caned = p
	return n.WaitReady(ctx)
}

// WaitReady polls caned's status until it is ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	c := api.NewClient(n.Socket)
	for {
		var s api.Status
		err := c.Get(ctx, "/v1/status", &s)
		if err == nil && s.Ready {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("not ready: %s", s.Reason)
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(n.Log)
			return fmt.Errorf("caned on %s: %w; log:\n%s", n.Name, err, tail(log, 2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StopCaned ends the caned this node started (by its PID) gracefully.
func (n *Node) StopCaned() error { return n.stopCaned(syscall.SIGTERM) }

// KillCaned ends caned with SIGKILL, as a crash would.
func (n *Node) KillCaned() error { return n.stopCaned(syscall.SIGKILL) }

func (n *Node) stopCaned(sig syscall.Signal) error {
	n.caned.stop(sig, 10*time.Second)
	n.caned = nil
	return nil
}

// CanedPID is the PID of the caned this node started, 0 if none.
func (n *Node) CanedPID() int {
	if n.caned == nil {
		return 0
	}
	return n.caned.cmd.Process.Pid
}

// CanedExited waits briefly for the caned this node started to end and
// reports whether it did (a crash point fired).
func (n *Node) CanedExited() bool {
	if n.caned == nil {
		return true
	}
	select {
	case <-n.caned.exited():
		n.caned = nil
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

// Client is an API client for the node's caned.
func (n *Node) Client() *api.Client { return api.NewClient(n.Socket) }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Drops is the number of packets the node's pipeline dropped for reason.
func (n *Node) Drops(ctx context.Context, reason flows.Reason) (uint64, error) {
	return n.Packets(ctx, flows.NewCookie(0, flows.KindBase, reason, 0).Select(flows.ReasonMask))
}

// Packets sums the packet counters of the node's flows that sel selects
// and that match on each of ms (of.InPort(1): the flows of in_port=1).
func (n *Node) Packets(ctx context.Context, sel of.Selector, ms ...of.Match) (uint64, error) {
	fs, err := n.OVS.OpenFlow().Dump(ctx, n.Config.Bridge, sel)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, f := range fs {
		if slices.ContainsFunc(ms, func(m of.Match) bool { return !slices.Contains(f.Matches, m) }) {
			continue
		}
		sum += f.Packets
	}
	return sum, nil
}

// PodPorts names the OVS ports on the node's bridge that belong to pods
// (those with Cane's container external ID).
func (n *Node) PodPorts(ctx context.Context) ([]string, error) {
	db, err := ovs.Connect(ctx, n.OVS.DBEndpoint())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ports, err := db.Ports(ctx, n.Config.Bridge)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range ports {
		if p.ExternalIDs["cane.io/container"] != "" {
			names = append(names, p.Name)
		}
	}
	return names, nil
}
