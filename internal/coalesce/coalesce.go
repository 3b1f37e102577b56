// Package coalesce runs the work of concurrent callers together: what is
// submitted while a run is busy goes, all of it, into the next run, so a
// burst pays for one OVSDB transaction, one flow bundle or one fsync, not
// one each. A lone item runs at once: nothing waits for company.
package coalesce

import "sync"

// Group runs Do for batches of submitted items. A batch that fails is run
// again item by item, so one bad item fails only its own caller; Do must
// therefore be safe to run again for an item (idempotent). The zero value
// with Do set is ready; safe for concurrent use.
type Group[T any] struct {
	Do func(items []T) error

	mu      sync.Mutex
	pending []*submitted[T]
	running bool // a goroutine is draining pending
}

type submitted[T any] struct {
	item T
	done chan error
}

// Submit runs item, possibly with concurrent callers' items, and returns
// its outcome once its batch has run.
func (g *Group[T]) Submit(item T) error {
	s := &submitted[T]{item: item, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, s)
	if !g.running {
		g.running = true
		go g.drain()
	}
	g.mu.Unlock()
	return <-s.done
}

// drain runs what is pending, batch after batch, until nothing is.
func (g *Group[T]) drain() {
	for {
		g.mu.Lock()
		batch := g.pending
		g.pending = nil
		if len(batch) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.run(batch)
	}
}

// run runs one batch, or, if it fails, each of its items alone.
func (g *Group[T]) run(batch []*submitted[T]) {
	items := make([]T, len(batch))
	for i, s := range batch {
		items[i] = s.item
	}
	err := g.Do(items)
	for _, s := range batch {
		if err != nil && len(batch) > 1 {
			s.done <- g.Do([]T{s.item})
			continue
		}
		s.done <- err
	}
}

// Queued says how many items wait for the next run, and whether a run is
// going (for tests and metrics).
func (g *Group[T]) Queued() (n int, running bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending), g.running
}
