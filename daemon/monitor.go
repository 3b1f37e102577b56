package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/monitor"
)

// Snapshot reads every monitored counter of the node now: the MAC tables
// of the bridges that learn (every bridge but Cane's, which never does),
// UDP and reassembly counters of the node and of each pod's netns, OVS
// drops on each pod port, and pipeline drops by reason.
func (d *Daemon) Snapshot(ctx context.Context) (monitor.Snapshot, error) {
	s := monitor.Snapshot{Time: time.Now(), Drops: map[string]uint64{}}
	db, err := d.ovsdb()
	if err != nil {
		return s, err
	}
	bridges, err := db.Bridges(ctx)
	if err != nil {
		return s, err
	}
	for _, b := range bridges {
		if b.Name == d.cfg.Bridge {
			continue
		}
		out, err := d.of.FDBStats(ctx, b.Name)
		if err != nil {
			return s, err
		}
		m, err := monitor.ParseFDBStats(b.Name, out)
		if err != nil {
			return s, err
		}
		s.MACTables = append(s.MACTables, m)
	}
	hostPath := ""
	if d.hostNS != nil {
		hostPath = d.hostNS.Path()
	}
	if s.Node, err = monitor.ReadSNMP(hostPath); err != nil {
		return s, err
	}
	ports, err := db.Ports(ctx, d.cfg.Bridge)
	if err != nil {
		return s, err
	}
	byName := map[string]map[string]int{}
	for _, p := range ports {
		byName[p.Name] = p.Stats
	}
	d.mu.Lock()
	atts := make([]*attachment, 0, len(d.attachments))
	for _, a := range d.attachments {
		atts = append(atts, a)
	}
	d.mu.Unlock()
	for _, a := range atts {
		p := monitor.Pod{Name: podName(a.alloc), Domain: a.alloc.Domain, Port: a.port,
			RxDropped: uint64(byName[a.port]["rx_dropped"]), TxDropped: uint64(byName[a.port]["tx_dropped"])}
		if p.SNMP, err = monitor.ReadSNMP(a.netns); err != nil {
			p.Err = err.Error()
		}
		s.Pods = append(s.Pods, p)
	}
	installed, err := d.of.Dump(ctx, d.cfg.Bridge, "")
	if err != nil {
		return s, err
	}
	for _, f := range installed {
		if r := f.Cookie.Reason(); r != flows.ReasonNone {
			s.Drops[r.String()] += f.Packets
		}
	}
	return s, nil
}

// Counters takes a fresh snapshot and judges it against the monitor's
// last one.
func (d *Daemon) Counters(ctx context.Context) (api.Counters, error) {
	s, err := d.Snapshot(ctx)
	if err != nil {
		return api.Counters{}, err
	}
	d.monMu.Lock()
	prev := d.lastLook
	d.monMu.Unlock()
	return s.Counters(monitor.Alerts(prev, &s, d.thresholds())), nil
}

func (d *Daemon) thresholds() monitor.Thresholds {
	return monitor.Thresholds{MACTablePercent: d.cfg.MACTableAlert}
}

// watch looks at the counters every MonitorSeconds and logs each alert
// when it starts and when it ends.
func (d *Daemon) watch(ctx context.Context) {
	tick := time.NewTicker(time.Duration(d.cfg.MonitorSeconds * float64(time.Second)))
	defer tick.Stop()
	firing := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !d.ready.Load() {
			continue
		}
		d.tendLoans(ctx)
		s, err := d.Snapshot(ctx)
		if err != nil {
			d.log.Warn("monitor: cannot read counters", "err", err)
			continue
		}
		d.monMu.Lock()
		alerts := monitor.Alerts(d.lastLook, &s, d.thresholds())
		d.lastLook, d.lastAlerts = &s, alerts
		d.monMu.Unlock()
		now := map[string]bool{}
		for _, a := range alerts {
			key := a.Kind + " " + a.Subject
			now[key] = true
			if !firing[key] {
				d.log.Warn("alert", "kind", a.Kind, "subject", a.Subject, "message", a.Message)
			}
		}
		for key := range firing {
			if !now[key] {
				d.log.Info("alert resolved", "alert", key)
			}
		}
		firing = now
	}
}

// report is a scrape's view: the monitor's last look and its alerts,
// pools and flows now.
func (d *Daemon) report() monitor.Report {
	d.monMu.Lock()
	r := monitor.Report{Alerts: d.lastAlerts}
	if d.lastLook != nil {
		r.Snapshot = *d.lastLook
	}
	d.monMu.Unlock()
	for _, p := range d.Pools() {
		held := 0
		for _, b := range p.Blocks {
			held += 1 << (32 - b.Bits())
		}
		r.Pools = append(r.Pools, monitor.PoolUsage{Pool: p.Name, Domain: p.Domain, Allocated: p.Allocated, Held: held})
	}
	for _, l := range d.Loans() {
		if l.LendsHere {
			r.Loans = append(r.Loans, monitor.LoanUsage{Loan: l.Name, Phase: l.Phase, Pods: len(l.Pods)})
		}
	}
	n := d.borrowed()
	for _, name := range d.deletedLoans(d.view.Load()) {
		r.Loans = append(r.Loans, monitor.LoanUsage{Loan: name, Phase: "Deleted", Pods: n[name]})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if installed, err := d.of.Dump(ctx, d.cfg.Bridge, ""); err == nil {
		r.Flows = map[string]int{}
		for _, f := range installed {
			r.Flows[f.Table.String()]++
		}
	}
	return r
}

// ServeMetrics answers Prometheus on addr (GET /metrics) until ctx ends.
func (d *Daemon) ServeMetrics(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.Registry, promhttp.HandlerOpts{}))
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
