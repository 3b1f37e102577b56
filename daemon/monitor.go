package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/monitor"
	"github.com/cane-cni/cane/ovs"
)

// monitorLoop is the node's monitor: every interval it looks at the counters
// (MAC tables, UDP and reassembly drops of the node and of every pod's
// netns, OVS port drops, pipeline drops by reason, flows per table),
// judges the look against the last one and logs each alert when it starts
// and when it ends. A Prometheus scrape serves the last look and does no
// I/O of its own.
//
// Lock: mu guards the last look; a leaf of the lock order (daemon.go).
type monitorLoop struct {
	cfg      *Config
	hostNS   ns.NetNS
	log      *slog.Logger
	sess     *session
	of       *ovs.OpenFlow
	atts     *attachmentStore
	interval time.Duration
	// usage adds what a scrape shows besides the counters (pools, loans).
	usage   func(*monitor.Report)
	metrics *monitor.Metrics

	mu     sync.Mutex
	last   *monitor.Snapshot // nil before the first look
	flows  map[string]int    // installed flows per table at the last look
	alerts []monitor.Alert
}

// Run looks every interval until ctx ends.
func (w *monitorLoop) Run(ctx context.Context) {
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	firing := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !w.sess.isReady() {
			continue
		}
		s, tables, err := w.look(ctx)
		if err != nil {
			w.log.Warn("monitor: cannot read counters", "err", err)
			continue
		}
		firing = w.judge(s, tables, firing)
	}
}

// judge records the look, logs the alerts that started and ended, and
// returns those firing now.
func (w *monitorLoop) judge(s monitor.Snapshot, tables map[string]int, firing map[string]bool) map[string]bool {
	w.mu.Lock()
	alerts := monitor.Alerts(w.last, &s, w.thresholds())
	w.last, w.flows, w.alerts = &s, tables, alerts
	w.mu.Unlock()
	now := map[string]bool{}
	for _, a := range alerts {
		key := a.Kind + " " + a.Subject
		now[key] = true
		if !firing[key] {
			w.log.Warn("alert", "kind", a.Kind, "subject", a.Subject, "message", a.Message)
		}
	}
	for key := range firing {
		if !now[key] {
			w.log.Info("alert resolved", "alert", key)
		}
	}
	return now
}

func (w *monitorLoop) thresholds() monitor.Thresholds {
	return monitor.Thresholds{MACTablePercent: w.cfg.MACTableAlert}
}

// Snapshot reads every monitored counter of the node now.
func (w *monitorLoop) Snapshot(ctx context.Context) (monitor.Snapshot, error) {
	s, _, err := w.look(ctx)
	return s, err
}

// look reads the counters, and the installed flows per table.
func (w *monitorLoop) look(ctx context.Context) (monitor.Snapshot, map[string]int, error) {
	s := monitor.Snapshot{Time: time.Now(), Drops: map[string]uint64{}}
	db, err := w.sess.current()
	if err != nil {
		return s, nil, err
	}
	if s.MACTables, err = w.macTables(ctx, db); err != nil {
		return s, nil, err
	}
	hostPath := ""
	if w.hostNS != nil {
		hostPath = w.hostNS.Path()
	}
	if s.Node, err = monitor.ReadSNMP(hostPath); err != nil {
		return s, nil, err
	}
	if s.Pods, err = w.pods(ctx, db); err != nil {
		return s, nil, err
	}
	installed, err := w.of.Dump(ctx, w.cfg.Bridge, of.Selector{})
	if err != nil {
		return s, nil, err
	}
	tables := map[string]int{}
	for _, f := range installed {
		tables[flows.TableOf(f.Flow).String()]++
		if r := flows.CookieOf(f.Flow).Reason(); r != flows.ReasonNone {
			s.Drops[r.String()] += f.Packets
		}
	}
	return s, tables, nil
}

// macTables are the MAC tables of the bridges that learn: every bridge
// but Cane's, which never does.
func (w *monitorLoop) macTables(ctx context.Context, db *ovs.DB) ([]monitor.MACTable, error) {
	bridges, err := db.Bridges(ctx)
	if err != nil {
		return nil, err
	}
	var out []monitor.MACTable
	for _, b := range bridges {
		if b.Name == w.cfg.Bridge {
			continue
		}
		text, err := w.of.FDBStats(ctx, b.Name)
		if err != nil {
			return nil, err
		}
		m, err := monitor.ParseFDBStats(b.Name, text)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// pods are each pod's UDP counters (read inside its netns) and its
// port's OVS drops.
func (w *monitorLoop) pods(ctx context.Context, db *ovs.DB) ([]monitor.Pod, error) {
	ports, err := db.Ports(ctx, w.cfg.Bridge)
	if err != nil {
		return nil, err
	}
	stats := map[string]map[string]int{}
	for _, p := range ports {
		stats[p.Name] = p.Stats
	}
	var out []monitor.Pod
	for _, a := range w.atts.list() {
		p := monitor.Pod{Name: podName(a.alloc), Domain: a.alloc.Domain, Port: a.port,
			RxDropped: uint64(stats[a.port]["rx_dropped"]), TxDropped: uint64(stats[a.port]["tx_dropped"])}
		if p.SNMP, err = monitor.ReadSNMP(a.netns); err != nil {
			p.Err = err.Error()
		}
		out = append(out, p)
	}
	return out, nil
}

// Counters takes a fresh look and judges it against the monitor's last.
func (w *monitorLoop) Counters(ctx context.Context) (api.Counters, error) {
	s, err := w.Snapshot(ctx)
	if err != nil {
		return api.Counters{}, err
	}
	w.mu.Lock()
	prev := w.last
	w.mu.Unlock()
	return s.Counters(monitor.Alerts(prev, &s, w.thresholds())), nil
}

// report is a scrape's view: the last look, its alerts and flow counts,
// and the pools' and loans' use. No I/O.
func (w *monitorLoop) report() monitor.Report {
	w.mu.Lock()
	r := monitor.Report{Alerts: w.alerts, Flows: w.flows}
	if w.last != nil {
		r.Snapshot = *w.last
	}
	w.mu.Unlock()
	w.usage(&r)
	return r
}

// ServeMetrics answers Prometheus on addr (GET /metrics) until ctx ends.
func (w *monitorLoop) ServeMetrics(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
