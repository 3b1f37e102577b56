package ovs

import (
	"context"
	"sync"
)

// Batcher applies bundles that arrive while one is being applied together,
// in one ovs-ofctl run and one OpenFlow bundle: a burst of concurrent ADDs
// pays for one exec and one commit, not one each. A bundle that fails with
// others is retried alone, so one bad bundle fails only its own caller.
type Batcher struct {
	OF     *OpenFlow
	Bridge string

	mu      sync.Mutex
	pending []*batchReq
	running bool
}

type batchReq struct {
	b    *Bundle
	done chan error
}

// Apply applies b, possibly with bundles of concurrent callers.
func (bt *Batcher) Apply(ctx context.Context, b *Bundle) error {
	r := &batchReq{b: b, done: make(chan error, 1)}
	bt.mu.Lock()
	bt.pending = append(bt.pending, r)
	if !bt.running {
		bt.running = true
		go bt.drain(context.WithoutCancel(ctx))
	}
	bt.mu.Unlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain applies what is pending, batch after batch, until nothing is.
func (bt *Batcher) drain(ctx context.Context) {
	for {
		bt.mu.Lock()
		batch := bt.pending
		bt.pending = nil
		if len(batch) == 0 {
			bt.running = false
			bt.mu.Unlock()
			return
		}
		bt.mu.Unlock()
		var all Bundle
		for _, r := range batch {
			all.lines = append(all.lines, r.b.lines...)
		}
		err := bt.OF.Apply(ctx, bt.Bridge, &all)
		for _, r := range batch {
			if err != nil && len(batch) > 1 {
				r.done <- bt.OF.Apply(ctx, bt.Bridge, r.b)
				continue
			}
			r.done <- err
		}
	}
}
