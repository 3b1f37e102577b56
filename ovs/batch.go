package ovs

import (
	"context"
	"sync"
	"time"

	"github.com/cane-cni/cane/internal/coalesce"
)

// A burst of concurrent ADDs pays for one OVSDB transaction or one flow
// commit, not one each (internal/coalesce).

// batchTimeout bounds one batch's OVS work: its callers wait for the
// outcome (not for their own contexts, so nothing is committed after a
// caller gave up and undid its part), and never forever.
const batchTimeout = 30 * time.Second

// bounded runs do within batchTimeout: what ovs's coalesce.Groups run.
func bounded[T any](do func(ctx context.Context, items []T) error) func([]T) error {
	return func(items []T) error {
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		defer cancel()
		return do(ctx, items)
	}
}

// Batcher applies the bundles of concurrent callers as one bundle.
type Batcher struct {
	OF     *OpenFlow
	Bridge string

	once sync.Once
	c    coalesce.Group[*Bundle]
}

// Apply applies b, possibly with bundles of concurrent callers. It waits
// for the outcome even if ctx ends first (see batchTimeout).
func (bt *Batcher) Apply(ctx context.Context, b *Bundle) error {
	bt.once.Do(func() {
		bt.c.Do = bounded(func(ctx context.Context, bs []*Bundle) error {
			var all Bundle
			for _, b := range bs {
				all.ops = append(all.ops, b.ops...)
			}
			return bt.OF.Apply(ctx, bt.Bridge, &all)
		})
	})
	return bt.c.Submit(b)
}
