package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// pipeline owns the flows on Cane's bridge: the cookie round, the non-pod
// flows it last installed, and the lock that orders a reconcile against
// everything else that changes flows.
//
// Locks (see the order in daemon.go):
//   - resync: held shared by every CNI operation and by sync, exclusively
//     by a reconcile, so nothing changes flows between the reconcile's
//     dump of what is installed and its bundle of the difference.
//   - syncMu: serializes sync (the diff against applied).
type pipeline struct {
	of     *ovs.OpenFlow
	bridge string
	log    *slog.Logger
	// podFlows applies the flows of concurrent ADDs in one bundle.
	podFlows *ovs.Batcher

	resync  sync.RWMutex
	syncMu  sync.Mutex
	applied map[flows.Key]uint64 // non-pod flows installed: flowHash by Key
	round   atomic.Uint32        // the bridge's cookie round (16 bits), kept across restarts
}

func newPipeline(of *ovs.OpenFlow, bridge string, log *slog.Logger) *pipeline {
	return &pipeline{of: of, bridge: bridge, log: log, podFlows: &ovs.Batcher{OF: of, Bridge: bridge}}
}

// shared takes the resync lock shared, for an operation that changes
// flows of its own (a CNI verb, a cluster sync); call the result to
// release it.
func (p *pipeline) shared() func() {
	p.resync.RLock()
	return p.resync.RUnlock
}

// exclusive takes the resync lock for a reconcile.
func (p *pipeline) exclusive() func() {
	p.resync.Lock()
	return p.resync.Unlock
}

func (p *pipeline) currentRound() uint16 { return uint16(p.round.Load()) }

// withRound stamps the pipeline's round on flows.
func (p *pipeline) withRound(fs []flows.Flow) []flows.Flow {
	return flows.WithRound(fs, p.currentRound())
}

// converge brings the installed flows to want by difference, in one
// bundle: what is already right is not touched (a restart of caned with
// nothing changed writes no flow), what is missing or different is added
// (an add with an existing match replaces that flow atomically), what is
// not desired is deleted — flows of another cookie round by cookie, extra
// flows of this round one by one, deletes before adds. Traffic never stops
// (no flush). The round is that of the bridge's last run (round; 0 for a
// bridge Cane has not run on, which starts at 1). Call with exclusive held.
func (p *pipeline) converge(ctx context.Context, round uint16, want []flows.Flow) (convergeStats, error) {
	if round == 0 {
		round = 1
	}
	p.round.Store(uint32(round))
	desired := keyed(flows.WithRound(want, round))
	installed, err := p.of.Dump(ctx, p.bridge, of.Selector{})
	if err != nil {
		return convergeStats{}, err
	}
	b, st := diffInstalled(installed, desired, round)
	if b.Len() > 0 {
		if err := p.of.Apply(ctx, p.bridge, b); err != nil {
			return st, err
		}
	}
	p.applied = hashed(desired)
	st.flows = len(desired)
	return st, nil
}

// convergeStats says what a converge did, for its log line.
type convergeStats struct {
	flows, added, deleted, staleRounds int
}

// diffInstalled is the bundle that turns installed into desired.
func diffInstalled(installed []ovs.FlowStats, desired map[flows.Key]flows.Flow, round uint16) (*ovs.Bundle, convergeStats) {
	var b ovs.Bundle
	var st convergeStats
	have := make(map[flows.Key]flows.Flow, len(installed))
	stale := map[uint16]bool{}
	for _, f := range installed {
		if r := flows.CookieOf(f.Flow).Round(); r != round {
			if !stale[r] {
				stale[r] = true
				b.Delete(roundCookie(r))
			}
			continue
		}
		k := f.Key()
		have[k] = f.Flow
		if _, ok := desired[k]; !ok {
			b.DeleteStrictKey(k)
		}
	}
	st.deleted, st.staleRounds = b.Len(), len(stale)
	for k, f := range desired {
		if h, ok := have[k]; !ok || !h.Equal(f) {
			b.Add(f)
		}
	}
	st.added = b.Len() - st.deleted
	return &b, st
}

// sync brings the non-pod flows (pipeline, domains, pools, remote nodes,
// lent blocks) to n by difference against what the pipeline last
// installed: a node joining adds its handful of flows, a node leaving
// deletes exactly its own. Nothing is flushed. Call with shared held.
func (p *pipeline) sync(ctx context.Context, n flows.Node) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	want := keyed(p.withRound(n.All()))
	var b ovs.Bundle
	for k, f := range want {
		if cur, ok := p.applied[k]; !ok || cur != flowHash(f) {
			b.Add(f)
		}
	}
	for k := range p.applied {
		if _, ok := want[k]; !ok {
			b.DeleteStrictKey(k)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := p.of.Apply(ctx, p.bridge, &b); err != nil {
		return fmt.Errorf("apply %d flow mods of the cluster's state: %w", b.Len(), err)
	}
	p.applied = hashed(want)
	p.log.Info("cluster change applied", "flowMods", b.Len(), "remoteNodes", len(n.Remotes))
	return nil
}

// applyPod installs the flows of pod (nil: none) and deletes those of the
// pod on ofport old (0: none), in one bundle, possibly shared with
// concurrent callers' (ovs.Batcher).
func (p *pipeline) applyPod(ctx context.Context, pod *flows.Pod, old int) error {
	var b ovs.Bundle
	if old != 0 {
		b.Delete(flows.PodCookie(uint32(old)))
	}
	if pod != nil {
		b.Add(p.withRound(flows.PodFlows(*pod))...)
	}
	return p.podFlows.Apply(ctx, &b)
}

// deletePod removes the flows of the pod on ofport, directly (DEL).
func (p *pipeline) deletePod(ctx context.Context, ofport int) error {
	var b ovs.Bundle
	b.Delete(flows.PodCookie(uint32(ofport)))
	return p.of.Apply(ctx, p.bridge, &b)
}

// podInstalled is the pod's installed flows (any round).
func (p *pipeline) podInstalled(ctx context.Context, ofport int) ([]ovs.FlowStats, error) {
	return p.of.Dump(ctx, p.bridge, flows.PodCookie(uint32(ofport)))
}

// roundCookie selects every flow of one round.
func roundCookie(r uint16) of.Selector { return flows.NewCookie(r, 0, 0, 0).Select(flows.RoundMask) }
