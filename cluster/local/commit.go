package local

import (
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/cane-cni/cane/internal/coalesce"
)

// groupCommit runs writes in shared bbolt transactions (group commit,
// internal/coalesce): a write that arrives while a transaction is being
// committed waits for it, then goes into the next one with every write
// that arrived meanwhile, so one fsync serves them all. A lone write
// commits at once: unlike bolt.DB.Batch there is no delay to wait for
// company (Batch waits up to MaxBatchDelay, 10 ms, which a single ADD
// would pay in full).
//
// Each write returns when its transaction is on disk, or with the error
// that kept it off. A transaction in which one write fails is rolled back
// and each of its writes is retried alone, so one bad write fails alone;
// a write function may therefore run more than once and must be
// idempotent (a Put or Delete of a fixed key and value is).
type groupCommit struct {
	db    *bolt.DB
	once  sync.Once
	group coalesce.Group[func(*bolt.Tx) error]
}

// do runs fn in the next transaction and waits until it is durable.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error {
	g.once.Do(func() { g.group.Do = g.commit })
	return g.group.Submit(fn)
}

// commit writes fns in one transaction.
func (g *groupCommit) commit(fns []func(*bolt.Tx) error) error {
	return g.db.Update(func(tx *bolt.Tx) error {
		for _, fn := range fns {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
}
