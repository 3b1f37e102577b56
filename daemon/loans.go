package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/ipam"
)

// apiTimeout bounds every API call the loan keeper makes.
const apiTimeout = 10 * time.Second

// loanKeeper is the node's side of loans: it admits borrower pods on a
// lent node, and — in its own goroutine, woken by poke and by a ticker —
// gives back the borrower blocks nobody needs any more, writes this
// node's line of each loan's status and records Draining events. Nothing
// on a CNI path waits for its API calls.
//
// Locks: admitMu (admission and the attachment it admits, one at a
// time) comes before pipeline.syncMu and the attachment store's lock in
// the order of daemon.go. reported is owned by the Run goroutine alone.
type loanKeeper struct {
	node     string
	log      *slog.Logger
	watcher  *kube.Watcher // nil in static mode: no loans
	views    *clusterView
	atts     *attachmentStore
	ipam     *ipam.IPAM
	syncFlow func(context.Context) error // the pipeline's sync of non-pod flows
	interval time.Duration

	admitMu  sync.Mutex
	poked    chan struct{}
	reported map[string]kube.LoanReport // loan -> last status line written
}

// init makes the keeper's channels and maps; call once, before use.
func (k *loanKeeper) init() *loanKeeper {
	k.poked = make(chan struct{}, 1)
	k.reported = map[string]kube.LoanReport{}
	return k
}

// poke asks the keeper to look again soon; it never blocks.
func (k *loanKeeper) poke() {
	select {
	case k.poked <- struct{}{}:
	default: // a look is already pending
	}
}

// Run tends loans until ctx ends.
func (k *loanKeeper) Run(ctx context.Context) {
	if k.watcher == nil {
		return
	}
	tick := time.NewTicker(k.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.poked:
		case <-tick.C:
		}
		k.tend(ctx)
	}
}

// admission is what a borrower pod's ADD was granted: the loan it runs
// under and the lender pools it may take a block from. done releases the
// admission lock (once the ADD has attached the pod or failed).
type admission struct {
	loan     string
	lendFrom []string
	done     func()
}

// admit decides whether a pod of pool may run here: always for a pool of
// this node's own; for another domain's pool only under an active loan
// with room. The admission lock is held until done, so two concurrent ADDs
// cannot both take the last place.
func (k *loanKeeper) admit(pool string) (admission, *types.Error) {
	v := k.views.load()
	if v.Usable[pool] || v.vni(poolDomain(v, pool)) == 0 {
		return admission{done: func() {}}, nil
	}
	k.admitMu.Lock()
	l, err := ipam.Admit(v.Loans, poolDomain(v, pool), k.node, v.Labels, v.MaxPods, k.atts.borrowed(), time.Now())
	if errors.Is(err, ipam.ErrNotLent) {
		if gone := k.deletedLoans(v); len(gone) > 0 {
			err = fmt.Errorf("%w (loan %s was deleted; its pods here are draining)", err, strings.Join(gone, ", "))
		}
	}
	if err != nil {
		k.admitMu.Unlock()
		return admission{}, loanError(pool, k.node, err)
	}
	adm := admission{loan: l.Name, done: k.admitMu.Unlock}
	if l.LendBlocks { // the borrower's pools may run dry: lender pools this node uses may lend a block
		for _, p := range v.Pools {
			if v.Usable[p.Name] && slices.Contains(l.Lenders, p.Domain) {
				adm.lendFrom = append(adm.lendFrom, p.Name)
			}
		}
	}
	return adm, nil
}

// deletedLoans names loans that borrower pods here run under but that
// are gone from the cluster.
func (k *loanKeeper) deletedLoans(v *view) []string {
	known := map[string]bool{}
	for _, l := range v.Loans {
		known[l.Name] = true
	}
	var gone []string
	for name := range k.atts.borrowed() {
		if !known[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	return gone
}

// tend gives back what loans no longer need and reports each loan that
// lends this node.
func (k *loanKeeper) tend(ctx context.Context) {
	v := k.views.load()
	now := time.Now()
	k.giveBack(ctx, v, now)
	pods := k.atts.borrowerPods()
	held := k.ipam.Blocks()
	for _, l := range v.Loans {
		if l.Lends(k.node, v.Labels) {
			k.report(ctx, l, k.lineOf(v, l, now, pods[l.Name], held))
		}
	}
}

// giveBack returns the blocks that go back once empty: the borrower's own
// blocks here (of a pool this node may not use by itself) with no active
// loan for its domain, and lent blocks whose loan is no longer active.
func (k *loanKeeper) giveBack(ctx context.Context, v *view, now time.Time) {
	active := map[string]bool{} // borrower domains and loans active here
	for _, l := range v.Loans {
		if l.Lends(k.node, v.Labels) && l.Phase(now) == ipam.LoanActive {
			active[l.Borrower], active["loan/"+l.Name] = true, true
		}
	}
	freed, err := k.ipam.ReleaseEmptyBlocksIf(ctx, func(b ipam.Block) bool {
		if b.Domain != "" {
			return !active["loan/"+b.Loan]
		}
		return !v.Usable[b.Pool] && !active[poolDomain(v, b.Pool)]
	})
	if err != nil {
		k.log.Warn("loans: give back empty blocks", "err", err)
	}
	for _, b := range freed {
		k.log.Info("loans: block given back", "block", b.CIDR, "pool", b.Pool, "lentTo", b.Domain, "loan", b.Loan)
	}
	if len(freed) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := k.syncFlow(sctx); err != nil { // a lent block's flows go with it
		k.log.Warn("loans: flows after giving back blocks", "err", err)
	}
}

// lineOf is this node's line of a loan's status now.
func (k *loanKeeper) lineOf(v *view, l ipam.Loan, now time.Time, pods []string, held []ipam.Block) kube.LoanReport {
	phase := l.Phase(now)
	r := kube.LoanReport{Phase: string(phase), Limit: l.Limit(v.MaxPods), Pods: pods, Draining: phase == ipam.LoanEnded && len(pods) > 0}
	for _, b := range held {
		if (!v.Usable[b.Pool] && poolDomain(v, b.Pool) == l.Borrower) || b.Loan == l.Name {
			r.Blocks = append(r.Blocks, b.CIDR.String())
		}
	}
	return r
}

// report writes the line if it changed since it was last written, and a
// Draining event when the loan ended with borrower pods still here.
func (k *loanKeeper) report(ctx context.Context, l ipam.Loan, r kube.LoanReport) {
	last, reported := k.reported[l.Name]
	if reported && sameReport(last, r) {
		return
	}
	r.Updated = time.Now().UTC().Truncate(time.Second)
	actx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := k.watcher.ReportLoan(actx, l.Name, k.node, r); err != nil {
		k.log.Warn("loans: report", "loan", l.Name, "err", err)
		return
	}
	k.reported[l.Name] = r
	if !r.Draining || last.Draining {
		return
	}
	msg := fmt.Sprintf("loan ended on node %s with %d borrower pods still running: drain %v", k.node, len(r.Pods), r.Pods)
	k.log.Warn("loan ended: drain borrower pods", "loan", l.Name, "pods", r.Pods)
	if err := k.watcher.LoanEvent(actx, l.Name, k.node, "Draining", msg); err != nil {
		k.log.Warn("loans: event", "loan", l.Name, "err", err)
	}
}

// sameReport: nothing to write again (the time it was written aside).
func sameReport(a, b kube.LoanReport) bool {
	return a.Phase == b.Phase && a.Limit == b.Limit && a.Draining == b.Draining &&
		slices.Equal(a.Pods, b.Pods) && slices.Equal(a.Blocks, b.Blocks)
}

// Loans is every loan, with what it means on this node.
func (k *loanKeeper) Loans() []api.Loan {
	v := k.views.load()
	now := time.Now()
	pods := k.atts.borrowerPods()
	var out []api.Loan
	for _, l := range v.Loans {
		out = append(out, api.Loan{
			Name: l.Name, Borrower: l.Borrower, Lenders: l.Lenders, Nodes: l.Nodes, NodeSelector: l.NodeSelector,
			PodsPerNode: l.PodsPerNode, Percent: l.Percent, LendBlocks: l.LendBlocks, Start: l.Start, End: l.End,
			Phase: string(l.Phase(now)), LendsHere: l.Lends(k.node, v.Labels), Limit: l.Limit(v.MaxPods), Pods: pods[l.Name],
		})
	}
	return out
}

// ipamLoan is a Loan object as IPAM decides with it.
func ipamLoan(l kube.Loan) ipam.Loan {
	return ipam.Loan{Name: l.Name, Borrower: l.Borrower, Lenders: l.Lenders, Nodes: l.Nodes, NodeSelector: l.NodeSelector,
		PodsPerNode: l.PodsPerNode, Percent: l.Percent, LendBlocks: l.LendBlocks, Start: l.Start, End: l.End}
}
