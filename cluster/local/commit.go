package local

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit runs writes in shared bbolt transactions (group commit): a
// write that arrives while a transaction is being committed waits for it,
// then goes into the next one with every write that arrived meanwhile, so
// one fsync serves them all. A lone write commits at once: unlike
// bolt.DB.Batch there is no delay to wait for company (Batch waits up to
// MaxBatchDelay, 10 ms, which a single ADD would pay in full).
//
// Each write returns when its transaction is on disk, or with the error
// that kept it off. A transaction in which one write fails is rolled back
// and each of its writes is retried alone, so one bad write fails alone;
// a write function may therefore run more than once and must be
// idempotent (a Put or Delete of a fixed key and value is).
type groupCommit struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []write
	running bool // a committer goroutine is draining queue
}

type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// do runs fn in the next transaction and waits until it is durable.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error {
	w := write{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if !g.running {
		g.running = true
		go g.drain()
	}
	g.mu.Unlock()
	return <-w.done
}

// drain commits what is queued, one transaction per round, until the
// queue is empty.
func (g *groupCommit) drain() {
	for {
		g.mu.Lock()
		ws := g.queue
		g.queue = nil
		if len(ws) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(ws)
	}
}

// commit writes ws in one transaction, or, if that fails, each alone.
func (g *groupCommit) commit(ws []write) {
	err := g.db.Update(func(tx *bolt.Tx) error {
		for _, w := range ws {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(ws) == 1 {
		for _, w := range ws {
			w.done <- err
		}
		return
	}
	for _, w := range ws {
		w.done <- g.db.Update(w.fn)
	}
}
