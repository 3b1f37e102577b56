package ipam

import (
	"context"
	"sync"
)

// keyLocks is a set of mutexes by name (a handle, a pool), made on first
// use and dropped when free. A wait for one honours ctx. Its own mutex is
// held only inside lock and unlock, never while waiting, so it sits below
// every other lock.
type keyLocks struct {
	mu      sync.Mutex
	held    map[string]chan struct{} // closed when the key is unlocked
	waiting map[string]int           // callers waiting per key (tests watch it)
}

// lock takes key's mutex, waiting for the holder as long as ctx allows,
// and returns the function that gives it back.
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		k.mu.Lock()
		busy, ok := k.held[key]
		if !ok {
			if k.held == nil {
				k.held, k.waiting = map[string]chan struct{}{}, map[string]int{}
			}
			free := make(chan struct{})
			k.held[key] = free
			k.mu.Unlock()
			return func() { k.unlock(key, free) }, nil
		}
		k.waiting[key]++
		k.mu.Unlock()
		select {
		case <-busy:
			err = nil
		case <-ctx.Done():
			err = ctx.Err()
		}
		k.mu.Lock()
		if k.waiting[key]--; k.waiting[key] == 0 {
			delete(k.waiting, key)
		}
		k.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

func (k *keyLocks) unlock(key string, free chan struct{}) {
	k.mu.Lock()
	delete(k.held, key)
	k.mu.Unlock()
	close(free)
}

// waiters is how many callers wait for key.
func (k *keyLocks) waiters(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.waiting[key]
}
