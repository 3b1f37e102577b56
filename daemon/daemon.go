// Package daemon is caned: the node agent. It serves CNI requests from the
// cane binary, attaches pods (ipam -> podnet -> ovs -> flows) with
// rollback, sets up the node bridge and reconciles with OVS on start. It is
// the only package that wires the others together.
//
// caned is made of parts, each with its own state and at most one lock:
//
//	attacher         the CNI verbs and their undo (attach.go, add.go, del.go, check.go, gc.go)
//	attachmentStore  the node's attachments and ofports (attachments.go)
//	pipeline         the bridge's flows: reconcile, sync, round (pipeline.go, reconcile.go)
//	loanKeeper       borrower admission, and its own goroutine for loan status (loans.go)
//	inspector        xray, trace, flows, status (status.go, inspect.go, trace.go, xray.go)
//	monitorLoop      counters, alerts, metrics (monitor.go)
//	nodeBridge       the bridge, the node's own ports, MTU, host routes (nodebridge.go)
//	session          the OVSDB connection and readiness (session.go)
//	clusterView      the cluster state this node acts on (view.go), and what it
//	                 leaves out: logs, a metric and Events (ignored.go)
//	nodePublisher    this node's CaneNode, from its own Node (canenode.go)
//
// Lock order — a goroutine holding one of these may take only those below
// it, never one above:
//
//  1. pipeline.resync     (RW: shared by CNI verbs and syncs, exclusive by reconcile)
//  2. attacher.locks      (per container)
//  3. loanKeeper.admitMu  (a borrower's admission, held until its ADD ends)
//  4. pipeline.syncMu     (one diff of the non-pod flows at a time)
//  5. leaves: attachmentStore.mu, monitorLoop.mu, ignoredReporter.mu,
//     ipam's own lock, the coalescers' locks in ovs; none is held across
//     I/O.
//
// No lock is held across an API-server call: the loan keeper, the node
// publisher and the ignored-object reporter make theirs from their own
// goroutines, each with a deadline. The cluster sync re-applies pods
// whose domain's VNI changed under each one's container lock (2), with
// the resync lock (1) held shared.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
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
)

// Daemon is one node's caned: the parts, wired.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	store   *local.Store
	ipam    *ipam.IPAM
	watcher *kube.Watcher // nil in static (single-node) mode

	sess    *session
	views   *clusterView
	atts    *attachmentStore
	pipe    *pipeline
	want    *desired
	bridge  *nodeBridge
	loans   *loanKeeper
	mon     *monitorLoop
	cni     *attacher
	inspect *inspector
	publish *nodePublisher // nil in static mode

	stop     chan struct{} // closed by Close: Run returns
	stopOnce sync.Once
	running  sync.WaitGroup // Run, while it runs
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

// New opens the state store and IPAM and wires the parts. hostNS is the
// netns pods' host ends and OVS live in (the current one for a real node).
func New(cfg Config, hostNS ns.NetNS, log *slog.Logger) (*Daemon, error) {
	store, err := local.Open(cfg.State)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, store: store, stop: make(chan struct{})}
	var istore ipam.Store = store
	if cfg.Kubeconfig != "" {
		if d.watcher, err = newWatcher(cfg.Kubeconfig, cfg.Node); err != nil {
			store.Close()
			return nil, err
		}
		istore = kube.NewStore(d.watcher.Dynamic, store).Cached(d.watcher)
	}
	d.views = newClusterView(cfg, d.watcher, log)
	d.ipam, err = ipam.New(context.Background(), ipam.Config{Node: cfg.Node, Store: istore, Pools: d.views.load().ipamPools(), Reservations: cfg.ipamReservations()})
	if err != nil {
		store.Close()
		return nil, err
	}
	d.wire(hostNS)
	return d, nil
}

func newWatcher(kubeconfig, node string) (*kube.Watcher, error) {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	w, err := kube.NewWatcher(rc, node)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return w, nil
}

// wire makes the parts, each given only what it uses.
func (d *Daemon) wire(hostNS ns.NetNS) {
	cfg, log := &d.cfg, d.log
	overlay, uplink := d.watcher != nil, cfg.UplinkBridge != ""
	d.sess = newSession(cfg.OVSDB)
	d.atts = newAttachmentStore()
	d.pipe = newPipeline(&ovs.OpenFlow{RunDir: cfg.OVSRunDir}, cfg.Bridge, log)
	d.want = &desired{gatewayMAC: cfg.GatewayMAC, overlay: overlay, uplink: uplink, views: d.views, ipam: d.ipam, atts: d.atts}
	d.bridge = &nodeBridge{cfg: cfg, hostNS: hostNS, log: log, overlay: overlay, uplink: uplink, views: d.views,
		lent: func() []flows.LentBlock { return d.want.base().LentBlocks }}
	d.want.hostPorts = d.bridge.ports
	interval := time.Duration(cfg.MonitorSeconds * float64(time.Second))
	d.loans = (&loanKeeper{node: cfg.Node, log: log, watcher: d.watcher, views: d.views, atts: d.atts, ipam: d.ipam,
		syncFlow: d.syncFlows, interval: interval}).init()
	d.mon = &monitorLoop{cfg: cfg, hostNS: hostNS, log: log, sess: d.sess, of: d.pipe.of, atts: d.atts, interval: interval, usage: d.usage}
	d.mon.metrics = monitor.NewMetrics(d.mon.report)
	d.cni = &attacher{cfg: cfg, log: log, hostNS: hostNS, sess: d.sess, ipam: d.ipam, atts: d.atts, pipe: d.pipe, want: d.want,
		bridge: d.bridge, views: d.views, pools: d.poolChooser(), loans: d.loans,
		observe: func(cmd, result string, took time.Duration) {
			d.mon.metrics.CNI.WithLabelValues(cmd, result).Observe(took.Seconds())
		}}
	d.inspect = &inspector{cfg: cfg, hostNS: hostNS, log: log, sess: d.sess, pipe: d.pipe, atts: d.atts, ipam: d.ipam, views: d.views,
		want: d.want, bridge: d.bridge, mon: d.mon, cni: d.cni, watcher: d.watcher}
	if d.watcher != nil {
		d.publish = newNodePublisher(d.watcher, log)
		d.mon.metrics.Registry.MustRegister(d.views.reporter)
	}
}

func (d *Daemon) poolChooser() *poolChooser {
	c := &poolChooser{node: d.cfg.Node, views: d.views}
	if d.watcher != nil { // a nil *kube.Watcher in the interface would not be nil
		c.cluster = d.watcher
	}
	return c
}

// Close ends Run's loops, waits for them, and releases the OVSDB session
// and the store. The network stays as it is: stopping caned never touches
// running pods.
func (d *Daemon) Close() error {
	d.stopOnce.Do(func() { close(d.stop) })
	d.running.Wait()
	d.sess.close()
	return d.store.Close()
}

// Run keeps the daemon in sync with the cluster and with OVS until ctx
// ends or Close is called, and returns why it stopped: nil when asked to,
// an error if the cluster's caches never synced. It starts the loops (the
// cluster sync, the loan keeper, the monitor), each owned by Run: Close
// waits for them.
func (d *Daemon) Run(ctx context.Context) error {
	d.running.Add(1)
	defer d.running.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var loops sync.WaitGroup
	defer loops.Wait() // after cancel: each loop ends with ctx
	defer cancel()
	if d.watcher != nil {
		if err := d.startCluster(ctx); err != nil {
			return err
		}
		loops.Go(func() { d.syncLoop(ctx) })
		loops.Go(func() { d.publish.Run(ctx) })
		loops.Go(func() { d.views.reporter.Run(ctx) })
	}
	loops.Go(func() { d.loans.Run(ctx) })
	loops.Go(func() { d.mon.Run(ctx) })
	d.runOVS(ctx)
	return nil
}

// startCluster waits for the informers' first list and builds the view.
func (d *Daemon) startCluster(ctx context.Context) error {
	d.sess.setNotReady("waiting for the Kubernetes API (domains, pools, blocks, loans, CaneNodes, this node's Node)")
	steps := newStepTimer()
	if err := d.watcher.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sync the cluster's caches: %w", err)
	}
	steps.mark("list")
	// Published before this node can claim a block (no ADD before ready),
	// so other nodes know it runs Cane when its first Block arrives.
	if err := d.publish.publish(ctx); err != nil {
		d.log.Warn("publish this node's CaneNode; retrying in the background", "err", err)
	}
	steps.mark("published")
	d.views.refresh(ctx, d.ipam.SetPools)
	steps.mark("view")
	v := d.views.load()
	d.log.Info("cluster cache synced", "nodes", len(v.Remotes), "pools", len(v.Pools), "took", steps.String())
	return nil
}

// runOVS starts against OVS and, whenever the ovsdb-server session is
// lost (it restarted) or the OpenFlow watch ends (ovs-vswitchd restarted:
// every flow is gone), marks caned not ready and starts again, which
// replays what is missing. It backs off while vswitchd cannot be watched.
func (d *Daemon) runOVS(ctx context.Context) {
	backoff := newBackoff(50*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		if d.Start(ctx) != nil {
			return
		}
		// The start's lists (every Node and Block of the cluster) and its
		// full flow set are garbage now: give their pages back at once, not
		// over the runtime's minutes.
		debug.FreeOSMemory()
		why, err := d.waitLost(ctx)
		if why == "" {
			return
		}
		d.sess.setNotReady(why)
		if err != nil {
			d.log.Warn(why, "err", err, "retryIn", backoff.peek())
			backoff.wait(ctx)
			continue
		}
		d.log.Warn(why)
		backoff.reset()
	}
}

// waitLost waits until OVS is lost and says how ("" if ctx ended). If
// the OpenFlow watch cannot even be opened, it returns at once with the
// error.
func (d *Daemon) waitLost(ctx context.Context) (string, error) {
	db, err := d.sess.current()
	if err != nil {
		return "lost the session to ovsdb-server; reconnecting", err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	switchGone, err := d.pipe.of.Watch(wctx, d.cfg.Bridge)
	if err != nil {
		return "cannot watch ovs-vswitchd's bridge " + d.cfg.Bridge + "; retrying", err
	}
	select {
	case <-ctx.Done():
		return "", nil
	case <-db.Lost():
		return "lost the session to ovsdb-server; reconnecting", nil
	case <-switchGone:
		return "ovs-vswitchd went away (flows are gone); replaying when it is back", nil
	}
}

// Start connects to OVS, retrying until ctx ends, then sets up the bridge
// and reconciles. Until it returns nil the daemon answers "not ready".
func (d *Daemon) Start(ctx context.Context) error {
	backoff := newBackoff(50*time.Millisecond, time.Second) // short first: an OVS restart takes well under a second
	for {
		err := d.start(ctx)
		if err == nil {
			d.sess.setReady()
			return nil
		}
		d.sess.setNotReady(err.Error())
		d.log.Warn("not ready, retrying", "err", err, "in", backoff.peek())
		if !backoff.wait(ctx) {
			return errors.Join(err, ctx.Err())
		}
	}
}

// start is one attempt: connect, bridge and ports, reconcile.
func (d *Daemon) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := d.sess.connect(ctx)
	if err != nil {
		return err
	}
	dp, err := d.bridge.ensure(ctx, db)
	if err != nil {
		return err
	}
	d.sess.datapath.Store(dp)
	return d.reconcile(ctx, db)
}

// usage adds the pools' and loans' use to a scrape's report.
func (d *Daemon) usage(r *monitor.Report) {
	for _, p := range d.inspect.Pools() {
		held := 0
		for _, b := range p.Blocks {
			held += 1 << (32 - b.Bits())
		}
		r.Pools = append(r.Pools, monitor.PoolUsage{Pool: p.Name, Domain: p.Domain, Allocated: p.Allocated, Held: held})
	}
	for _, l := range d.loans.Loans() {
		if l.LendsHere {
			r.Loans = append(r.Loans, monitor.LoanUsage{Loan: l.Name, Phase: l.Phase, Pods: len(l.Pods)})
		}
	}
	n := d.atts.borrowed()
	for _, name := range d.loans.deletedLoans(d.views.load()) {
		r.Loans = append(r.Loans, monitor.LoanUsage{Loan: name, Phase: "Deleted", Pods: n[name]})
	}
}
