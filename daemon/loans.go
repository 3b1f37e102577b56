package daemon

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/ipam"
)

// borrowed counts this node's borrower pods per loan.
func (d *Daemon) borrowed() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := map[string]int{}
	for _, a := range d.attachments {
		if a.loan != "" {
			n[a.loan]++
		}
	}
	return n
}

// deletedLoans names loans that borrower pods here run under but that
// are gone from the cluster.
func (d *Daemon) deletedLoans(v *view) []string {
	known := map[string]bool{}
	for _, l := range v.Loans {
		known[l.Name] = true
	}
	var gone []string
	for name := range d.borrowed() {
		if !known[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	return gone
}

// Loans is every loan, with what it means on this node.
func (d *Daemon) Loans() []api.Loan {
	v := d.view.Load()
	now := time.Now()
	pods := d.borrowerPods()
	var out []api.Loan
	for _, l := range v.Loans {
		out = append(out, api.Loan{
			Name: l.Name, Borrower: l.Borrower, Lenders: l.Lenders, Nodes: l.Nodes, NodeSelector: l.NodeSelector,
			PodsPerNode: l.PodsPerNode, Percent: l.Percent, LendBlocks: l.LendBlocks, Start: l.Start, End: l.End,
			Phase: string(l.Phase(now)), LendsHere: l.Lends(d.cfg.Node, v.Labels), Limit: l.Limit(v.MaxPods), Pods: pods[l.Name],
		})
	}
	return out
}

// borrowerPods names this node's borrower pods per loan.
func (d *Daemon) borrowerPods() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for _, a := range d.attachments {
		if a.loan != "" {
			out[a.loan] = append(out[a.loan], podName(a.alloc))
		}
	}
	for _, ps := range out {
		sort.Strings(ps)
	}
	return out
}

// Borrow creates a loan in the cluster.
func (d *Daemon) Borrow(ctx context.Context, l api.Loan) error {
	if d.watcher == nil {
		return fmt.Errorf("loans live in the cluster; this caned runs without a kubeconfig")
	}
	kl := kube.Loan{Name: l.Name, Borrower: l.Borrower, Lenders: l.Lenders, Nodes: l.Nodes, NodeSelector: l.NodeSelector,
		PodsPerNode: l.PodsPerNode, Percent: l.Percent, LendBlocks: l.LendBlocks, Start: l.Start, End: l.End}
	if err := ipamLoan(kl).Validate(); err != nil {
		return fmt.Errorf("loan %s: %w", l.Name, err)
	}
	return d.watcher.CreateLoan(ctx, kl)
}

// ipamLoan is a Loan object as IPAM decides with it.
func ipamLoan(l kube.Loan) ipam.Loan {
	return ipam.Loan{Name: l.Name, Borrower: l.Borrower, Lenders: l.Lenders, Nodes: l.Nodes, NodeSelector: l.NodeSelector,
		PodsPerNode: l.PodsPerNode, Percent: l.Percent, LendBlocks: l.LendBlocks, Start: l.Start, End: l.End}
}

// Return ends a loan now (or moves its end to at: later extends it).
func (d *Daemon) Return(ctx context.Context, name string, at time.Time) error {
	if d.watcher == nil {
		return fmt.Errorf("loans live in the cluster; this caned runs without a kubeconfig")
	}
	return d.watcher.EndLoan(ctx, name, at)
}

// tendLoans runs after every cluster change and every monitor look: it
// writes this node's line in the status of each loan that lends it (only
// when it changed), records an event when a loan ends with borrower pods
// still here, and gives back the borrower blocks left empty once no
// active loan needs them.
func (d *Daemon) tendLoans(ctx context.Context) {
	if d.watcher == nil {
		return
	}
	d.tendMu.Lock()
	defer d.tendMu.Unlock()
	v := d.view.Load()
	now := time.Now()
	pods := d.borrowerPods()
	active := map[string]bool{} // borrower domains and loans active here
	for _, l := range v.Loans {
		if l.Lends(d.cfg.Node, v.Labels) && l.Phase(now) == ipam.LoanActive {
			active[l.Borrower], active["loan/"+l.Name] = true, true
		}
	}
	// Blocks that go back once empty: the borrower's own blocks here (of a
	// pool this node may not use by itself) with no active loan for its
	// domain, and lent blocks whose loan is no longer active.
	freed, err := d.ipam.ReleaseEmptyBlocksIf(ctx, func(b ipam.Block) bool {
		if b.Domain != "" {
			return !active["loan/"+b.Loan]
		}
		return !v.Usable[b.Pool] && !active[poolDomain(v, b.Pool)]
	})
	if err != nil {
		d.log.Warn("loans: give back empty blocks", "err", err)
	}
	for _, b := range freed {
		d.log.Info("loans: block given back", "block", b.CIDR, "pool", b.Pool, "lentTo", b.Domain, "loan", b.Loan)
	}
	if len(freed) > 0 {
		if err := d.syncFlows(ctx); err != nil { // a lent block's flows go with it
			d.log.Warn("loans: flows after giving back blocks", "err", err)
		}
	}
	if d.reported == nil {
		d.reported = map[string]kube.LoanReport{}
	}
	held := d.ipam.Blocks()
	for _, l := range v.Loans {
		if !l.Lends(d.cfg.Node, v.Labels) {
			continue
		}
		phase := l.Phase(now)
		r := kube.LoanReport{Phase: string(phase), Limit: l.Limit(v.MaxPods), Pods: pods[l.Name], Draining: phase == ipam.LoanEnded && len(pods[l.Name]) > 0}
		for _, b := range held {
			if (!v.Usable[b.Pool] && poolDomain(v, b.Pool) == l.Borrower) || b.Loan == l.Name {
				r.Blocks = append(r.Blocks, b.CIDR.String())
			}
		}
		last, reported := d.reported[l.Name]
		if reported && sameReport(last, r) {
			continue
		}
		r.Updated = now.UTC().Truncate(time.Second)
		if err := d.watcher.ReportLoan(ctx, l.Name, d.cfg.Node, r); err != nil {
			d.log.Warn("loans: report", "loan", l.Name, "err", err)
			continue
		}
		if r.Draining && !last.Draining {
			msg := fmt.Sprintf("loan ended on node %s with %d borrower pods still running: drain %v", d.cfg.Node, len(r.Pods), r.Pods)
			d.log.Warn("loan ended: drain borrower pods", "loan", l.Name, "pods", r.Pods)
			if err := d.watcher.LoanEvent(ctx, l.Name, d.cfg.Node, "Draining", msg); err != nil {
				d.log.Warn("loans: event", "loan", l.Name, "err", err)
			}
		}
		d.reported[l.Name] = r
	}
}

// sameReport: nothing to write again (the time it was written aside).
func sameReport(a, b kube.LoanReport) bool {
	return a.Phase == b.Phase && a.Limit == b.Limit && a.Draining == b.Draining &&
		slices.Equal(a.Pods, b.Pods) && slices.Equal(a.Blocks, b.Blocks)
}
