package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/cane-cni/cane/cluster/kube"
)

// nodePublisher keeps this node's CaneNode saying what its own Node says
// (VTEP, addresses, labels: kube.CaneNodeSpec), so that every other node
// learns them from a small object that changes only when they do. It
// writes from its own goroutine, woken by poke (every cluster change: the
// own Node is one of the watched objects) and by its retry timer; it
// writes only when the CaneNode differs (kube.Watcher.PublishNode), so a
// steady node writes nothing. No lock: run is its only state's owner.
type nodePublisher struct {
	watcher *kube.Watcher
	log     *slog.Logger
	poked   chan struct{}
}

func newNodePublisher(w *kube.Watcher, log *slog.Logger) *nodePublisher {
	return &nodePublisher{watcher: w, log: log, poked: make(chan struct{}, 1)}
}

// poke asks for a look soon; it never blocks.
func (p *nodePublisher) poke() {
	select {
	case p.poked <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends, retrying a failed write with backoff.
func (p *nodePublisher) Run(ctx context.Context) {
	backoff := newBackoff(time.Second, time.Minute)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.poked:
		case <-retry.C:
		}
		if err := p.publish(ctx); err != nil {
			p.log.Warn("publish this node's CaneNode", "err", err, "retryIn", backoff.peek())
			retry.Reset(backoff.step())
			continue
		}
		backoff.reset()
	}
}

// publish writes the CaneNode if it changed, within a deadline. Nothing
// to publish yet (the own Node not seen, no VTEP) is no error: the next
// change of the Node pokes again.
func (p *nodePublisher) publish(ctx context.Context) error {
	self := p.watcher.Self()
	if self == nil || !self.VTEP.Is4() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	wrote, err := p.watcher.PublishNode(ctx, *self)
	if wrote {
		p.log.Info("CaneNode published", "node", self.Name, "vtep", self.VTEP, "addresses", self.Addrs, "labels", len(self.Labels))
	}
	return err
}
