package ovs

import (
	"context"
	"sync"
	"time"
)

// batchTimeout bounds one batch's OVS work: its callers wait for the
// outcome (not for their own contexts, so nothing is committed after a
// caller gave up and undid its part), and never forever.
const batchTimeout = 30 * time.Second

// coalescer runs do once for everything submitted while the previous run
// was busy: a burst of concurrent ADDs pays for one OVSDB transaction or
// one flow commit, not one each. A batch that fails is run again item by
// item, so one bad item fails only its own caller.
type coalescer[T any] struct {
	do func(ctx context.Context, items []T) error

	mu      sync.Mutex
	pending []*submitted[T]
	running bool
}

type submitted[T any] struct {
	item T
	done chan error
}

// submit runs item, possibly with concurrent callers' items, and returns
// its outcome.
func (c *coalescer[T]) submit(item T) error {
	s := &submitted[T]{item: item, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, s)
	if !c.running {
		c.running = true
		go c.drain()
	}
	c.mu.Unlock()
	return <-s.done
}

// drain runs what is pending, batch after batch, until nothing is.
func (c *coalescer[T]) drain() {
	for {
		c.mu.Lock()
		batch := c.pending
		c.pending = nil
		if len(batch) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		items := make([]T, len(batch))
		for i, s := range batch {
			items[i] = s.item
		}
		err := c.run(items)
		for _, s := range batch {
			if err != nil && len(batch) > 1 {
				s.done <- c.run([]T{s.item})
				continue
			}
			s.done <- err
		}
	}
}

func (c *coalescer[T]) run(items []T) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	return c.do(ctx, items)
}

// Batcher applies the bundles of concurrent callers as one bundle.
type Batcher struct {
	OF     *OpenFlow
	Bridge string

	once sync.Once
	c    coalescer[*Bundle]
}

// Apply applies b, possibly with bundles of concurrent callers. It waits
// for the outcome even if ctx ends first (see batchTimeout).
func (bt *Batcher) Apply(ctx context.Context, b *Bundle) error {
	bt.once.Do(func() {
		bt.c.do = func(ctx context.Context, bs []*Bundle) error {
			var all Bundle
			for _, b := range bs {
				all.ops = append(all.ops, b.ops...)
			}
			return bt.OF.Apply(ctx, bt.Bridge, &all)
		}
	})
	return bt.c.submit(b)
}
