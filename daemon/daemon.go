// Package daemon is caned: the node agent. It serves CNI requests from the
// cane binary, attaches pods (ipam -> podnet -> ovs -> flows) with rollback,
// sets up the node bridge and reconciles with OVS on start. It is the only
// package that wires the others together.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/cluster/local"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/monitor"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// External IDs Cane puts on the OVS ports it owns.
const (
	idContainer = "cane.io/container"
	idIfName    = "cane.io/ifname"
	idNetns     = "cane.io/netns"
	idNetwork   = "cane.io/network"
	idPodNS     = "cane.io/pod-namespace"
	idPodName   = "cane.io/pod-name"
	idPool      = "cane.io/pool"
	idDomain    = "cane.io/domain"
	idIP        = "cane.io/ip"
	idLoan      = "cane.io/loan"  // the loan a borrower pod runs under on a lent node
	idRound     = "cane.io/round" // on the bridge: the flow round of the last caned run
)

// firstPodOFPort leaves ofports below it for the tunnel and uplink ports.
const firstPodOFPort = 10

// attachment is one pod interface on this node.
type attachment struct {
	alloc   ipam.Allocation
	port    string // OVS port = host veth name
	ofport  int
	mac     net.HardwareAddr
	netns   string
	network string
	loan    string // set for a borrower pod on a lent node
}

// Daemon is one node's caned.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	hostNS ns.NetNS
	store  *local.Store
	ipam   *ipam.IPAM
	of     *ovs.OpenFlow
	// podFlows applies the flows of concurrent ADDs in one bundle.
	podFlows *ovs.Batcher

	db       atomic.Pointer[ovs.DB]
	ready    atomic.Bool
	notReady atomic.Value  // string: why not ready
	round    atomic.Uint32 // flow cookie round of this run (16 bits)
	datapath atomic.Value  // string: the bridge's datapath type

	view    atomic.Pointer[view] // domains, pools, remote nodes
	watcher *kube.Watcher        // nil in static (single-node) mode
	mtu     atomic.Int32         // pod MTU in force

	// resync is held shared by every CNI operation and by syncFlows, and
	// exclusively by reconcile, so no flow is installed under a round that
	// a concurrent reconcile is about to delete.
	resync  sync.RWMutex
	syncMu  sync.Mutex            // serializes syncFlows
	applied map[string]flows.Flow // non-pod flows installed, by Key

	locks keyedMutex

	mu          sync.Mutex
	attachments map[string]*attachment // by ipam handle
	ofports     map[int]bool

	loanMu     sync.Mutex                 // borrower admission
	tendMu     sync.Mutex                 // one tendLoans at a time
	reported   map[string]kube.LoanReport // loan -> last status line written, to write only changes
	metrics    *monitor.Metrics
	monMu      sync.Mutex
	lastLook   *monitor.Snapshot // the monitor's last look, nil before the first
	lastAlerts []monitor.Alert
}

// InCluster as the kubeconfig: caned runs in a pod (the DaemonSet) and
// uses its service account.
const InCluster = "in-cluster"

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == InCluster {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// New opens the state store and IPAM. hostNS is the netns pods' host ends
// and OVS live in (the current one for a real node).
func New(cfg Config, hostNS ns.NetNS, log *slog.Logger) (*Daemon, error) {
	store, err := local.Open(cfg.State)
	if err != nil {
		return nil, err
	}
	v := staticView(cfg)
	var istore ipam.Store = store
	var w *kube.Watcher
	if cfg.Kubeconfig != "" {
		rc, err := restConfig(cfg.Kubeconfig)
		if err == nil {
			w, err = kube.NewWatcher(rc)
		}
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
		istore, v = kube.NewStore(w.Dynamic, store), &view{Usable: map[string]bool{}}
	}
	m, err := ipam.New(ipam.Config{Node: cfg.Node, Store: istore, Pools: v.ipamPools(), Reservations: cfg.ipamReservations()})
	if err != nil {
		store.Close()
		return nil, err
	}
	d := &Daemon{
		cfg: cfg, log: log, hostNS: hostNS, store: store, ipam: m, watcher: w,
		of:          &ovs.OpenFlow{RunDir: cfg.OVSRunDir},
		attachments: map[string]*attachment{}, ofports: map[int]bool{},
	}
	d.podFlows = &ovs.Batcher{OF: d.of, Bridge: cfg.Bridge}
	d.view.Store(v)
	d.notReady.Store("starting")
	d.metrics = monitor.NewMetrics(d.report)
	return d, nil
}

// Close releases the store. The network stays as it is: stopping caned
// never touches running pods.
func (d *Daemon) Close() error {
	if db := d.db.Load(); db != nil {
		db.Close()
	}
	return d.store.Close()
}

// Run keeps the daemon in sync with OVS until ctx ends: Start, then on a
// lost ovsdb session (ovsdb-server restarted) or a lost OpenFlow watch
// (ovs-vswitchd restarted: every flow is gone) mark not ready, reconnect
// and reconcile again, which replays every flow under a new round.
func (d *Daemon) Run(ctx context.Context) {
	if d.watcher != nil {
		d.notReady.Store("waiting for the Kubernetes API (domains, pools, blocks, nodes)")
		if err := d.watcher.Start(ctx); err != nil {
			return
		}
		d.refreshView()
		go d.syncLoop(ctx)
	}
	go d.watch(ctx)
	for ctx.Err() == nil {
		if d.Start(ctx) != nil {
			return
		}
		db := d.db.Load()
		wctx, stopWatch := context.WithCancel(ctx)
		switchGone, err := d.of.Watch(wctx, d.cfg.Bridge)
		if err != nil {
			closed := make(chan struct{})
			close(closed)
			switchGone = closed
		}
		why := ""
		select {
		case <-ctx.Done():
		case <-db.Lost():
			why = "lost the session to ovsdb-server; reconnecting"
		case <-switchGone:
			why = "ovs-vswitchd went away (flows are gone); replaying when it is back"
		}
		stopWatch()
		if why == "" {
			return
		}
		d.ready.Store(false)
		d.notReady.Store(why)
		d.log.Warn(why)
	}
}

// Start connects to OVS, retrying until ctx ends, then sets up the bridge
// and reconciles. Until it returns nil the daemon answers "not ready".
func (d *Daemon) Start(ctx context.Context) error {
	wait := 50 * time.Millisecond // short first: an OVS restart takes well under a second
	for {
		err := d.start(ctx)
		if err == nil {
			d.ready.Store(true)
			return nil
		}
		d.ready.Store(false)
		d.notReady.Store(err.Error())
		d.log.Warn("not ready, retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (d *Daemon) start(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db := d.db.Load()
	if db == nil || !db.Connected() {
		if db != nil {
			db.Close()
		}
		var err error
		if db, err = ovs.Connect(cctx, d.cfg.OVSDB); err != nil {
			return err
		}
		d.db.Store(db)
	}
	dp := d.cfg.Datapath
	if dp == "" {
		dp = ovs.Datapath()
	}
	err := db.EnsureBridge(cctx, ovs.BridgeConfig{
		Name: d.cfg.Bridge, DatapathType: dp,
		OtherConfig: map[string]string{"mac-table-size": fmt.Sprint(d.cfg.MACTableSize)},
	})
	if err != nil {
		return fmt.Errorf("set up bridge %s: %w", d.cfg.Bridge, err)
	}
	d.datapath.Store(dp)
	if err := d.ensurePorts(cctx, db); err != nil {
		return err
	}
	d.mtu.Store(int32(d.detectMTU()))
	d.syncHostPort()
	return d.reconcile(cctx, db)
}

// reconcile rebuilds the node's attachments from IPAM and OVS and installs
// the whole desired flow set under a new cookie round in one bundle that
// also deletes every older round: flows that stay the same are replaced
// in place atomically, so traffic never stops (no flush).
func (d *Daemon) reconcile(ctx context.Context, db *ovs.DB) error {
	d.resync.Lock()
	defer d.resync.Unlock()
	ids, err := db.BridgeExternalIDs(ctx, d.cfg.Bridge)
	if err != nil {
		return err
	}
	var last uint16
	fmt.Sscan(ids[idRound], &last)
	round := last + 1
	if round == 0 {
		round = 1
	}
	ports, err := db.Ports(ctx, d.cfg.Bridge)
	if err != nil {
		return err
	}
	byHandle := map[string]ovs.PortInfo{}
	d.mu.Lock()
	d.ofports = map[int]bool{}
	for _, p := range ports {
		d.ofports[p.OFPort] = true
		if c := p.ExternalIDs[idContainer]; c != "" {
			byHandle[ipam.Handle(c, p.ExternalIDs[idIfName])] = p
		}
	}
	d.attachments = map[string]*attachment{}
	for _, a := range d.ipam.List() {
		p, ok := byHandle[a.Handle()]
		if !ok {
			d.log.Warn("allocation without OVS port; left for GC", "ip", a.IP, "container", a.ContainerID)
			continue
		}
		d.attachments[a.Handle()] = &attachment{alloc: a, port: p.Name, ofport: p.OFPort, mac: podnet.MACFor(a.IP), netns: p.ExternalIDs[idNetns], network: p.ExternalIDs[idNetwork], loan: p.ExternalIDs[idLoan]}
		delete(byHandle, a.Handle())
	}
	for h, p := range byHandle {
		d.log.Warn("OVS port without allocation; left for GC", "port", p.Name, "handle", h)
	}
	node := d.desiredLocked()
	d.mu.Unlock()
	pods := node.Pods
	node.Pods = nil
	d.applied = keyed(flows.WithRound(node.All(), round))
	node.Pods = pods

	installed, err := d.of.Dump(ctx, d.cfg.Bridge, "")
	if err != nil {
		return err
	}
	var b ovs.Bundle
	b.Add(flows.WithRound(node.All(), round)...)
	stale := map[uint16]bool{}
	for _, f := range installed {
		if r := f.Cookie.Round(); r != round && !stale[r] {
			stale[r] = true
			b.DeleteCookie(roundCookie(r))
		}
	}
	if err := d.of.Apply(ctx, d.cfg.Bridge, &b); err != nil {
		return err
	}
	if err := db.SetBridgeExternalID(ctx, d.cfg.Bridge, idRound, fmt.Sprint(round)); err != nil {
		return err
	}
	d.round.Store(uint32(round))
	d.log.Info("reconciled", "round", round, "pods", len(node.Pods), "flows", b.Len()-len(stale), "staleRounds", len(stale))
	return nil
}

// ovsdb returns the connection, or an error if there is none yet.
func (d *Daemon) ovsdb() (*ovs.DB, error) {
	db := d.db.Load()
	if db == nil || !db.Connected() {
		return nil, errors.New("not connected to ovsdb-server")
	}
	return db, nil
}

// nextOFPort reserves the lowest free pod ofport.
func (d *Daemon) nextOFPort() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := firstPodOFPort; ; p++ {
		if !d.ofports[p] {
			d.ofports[p] = true
			return p
		}
	}
}

func (d *Daemon) freeOFPort(p int) {
	d.mu.Lock()
	delete(d.ofports, p)
	d.mu.Unlock()
}
