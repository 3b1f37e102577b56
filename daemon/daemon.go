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
	"runtime/debug"
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
	round    atomic.Uint32 // flow cookie round of the bridge (16 bits), kept across restarts
	resyncs  atomic.Uint64 // full reconciles since start
	datapath atomic.Value  // string: the bridge's datapath type

	view    atomic.Pointer[view] // domains, pools, remote nodes
	watcher *kube.Watcher        // nil in static (single-node) mode
	mtu     atomic.Int32         // pod MTU in force

	// resync is held shared by every CNI operation and by syncFlows, and
	// exclusively by reconcile, so no flow changes between reconcile's dump
	// of the installed flows and its bundle of the difference.
	resync  sync.RWMutex
	syncMu  sync.Mutex        // serializes syncFlows
	applied map[string]uint64 // non-pod flows installed: flowHash by Key

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
		istore, v = kube.NewStore(w.Dynamic, store).Cached(w), &view{Usable: map[string]bool{}}
	}
	m, err := ipam.New(context.TODO(), ipam.Config{Node: cfg.Node, Store: istore, Pools: v.ipamPools(), Reservations: cfg.ipamReservations()})
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
		steps := newStepTimer()
		if err := d.watcher.Start(ctx); err != nil {
			return
		}
		steps.mark("list")
		d.refreshView()
		steps.mark("view")
		v := d.view.Load()
		d.log.Info("cluster cache synced", "nodes", len(v.Remotes), "pools", len(v.Pools), "took", steps.String())
		go d.syncLoop(ctx)
	}
	go d.watch(ctx)
	for ctx.Err() == nil {
		if d.Start(ctx) != nil {
			return
		}
		// The start's lists (every Node and Block of the cluster) and its
		// full flow set are garbage now: give their pages back at once, not
		// over the runtime's minutes.
		debug.FreeOSMemory()
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

// reconcile rebuilds the node's attachments from IPAM and OVS, then
// brings the installed flows to the desired set by difference, in one
// bundle: what is already right is not touched (a restart of caned with
// nothing changed writes no flow), what is missing or different is added
// (an add with an existing match replaces that flow atomically), what is
// not desired is deleted — flows of another cookie round by cookie, extra
// flows of this round one by one, deletes before adds. Traffic never
// stops (no flush). The round stays that of the bridge's last run; it
// changes only for a bridge Cane has not run on.
func (d *Daemon) reconcile(ctx context.Context, db *ovs.DB) error {
	d.resync.Lock()
	defer d.resync.Unlock()
	steps := newStepTimer()
	ids, err := db.BridgeExternalIDs(ctx, d.cfg.Bridge)
	if err != nil {
		return err
	}
	var round uint16
	fmt.Sscan(ids[idRound], &round)
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
	want := keyed(flows.WithRound(node.All(), round))
	steps.mark("desired")
	installed, err := d.of.Dump(ctx, d.cfg.Bridge, "")
	if err != nil {
		return err
	}
	steps.mark("dump")
	var b ovs.Bundle
	have := make(map[string]flows.Flow, len(installed))
	stale := map[uint16]bool{}
	for _, f := range installed {
		if r := f.Cookie.Round(); r != round {
			if !stale[r] {
				stale[r] = true
				b.DeleteCookie(roundCookie(r))
			}
			continue
		}
		have[f.Key()] = f.Flow
		if _, ok := want[f.Key()]; !ok {
			b.DeleteStrictKey(f.Key())
		}
	}
	deletes := b.Len()
	for k, f := range want {
		if h, ok := have[k]; !ok || h != f {
			b.Add(f)
		}
	}
	if b.Len() > 0 {
		if err := d.of.Apply(ctx, d.cfg.Bridge, &b); err != nil {
			return err
		}
	}
	steps.mark("apply")
	d.applied = hashed(want)
	if err := db.SetBridgeExternalID(ctx, d.cfg.Bridge, idRound, fmt.Sprint(round)); err != nil {
		return err
	}
	d.round.Store(uint32(round))
	d.resyncs.Add(1)
	d.log.Info("reconciled", "round", round, "pods", len(node.Pods), "flows", len(want), "added", b.Len()-deletes, "deleted", deletes, "staleRounds", len(stale), "took", steps.String())
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
