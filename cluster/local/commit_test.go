package local

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestGroupCommit: writes that arrive while a transaction commits share
// the next one; one that fails fails alone, the others still land.
func TestGroupCommit(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "cane.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := &groupCommit{db: s.db}
	bucket := []byte("t")
	put := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			return b.Put([]byte(key), []byte(key))
		}
	}
	// A first write holds its transaction open until the others queue.
	hold := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.do(func(tx *bolt.Tx) error {
			<-hold
			return put("first")(tx)
		})
	}()
	waitFor(t, func() bool { n, running := g.group.Queued(); return running && n == 0 })
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := string(rune('a' + i))
			errs[i] = g.do(func(tx *bolt.Tx) error {
				if i == 3 {
					return boom
				}
				return put(key)(tx)
			})
		}()
	}
	waitFor(t, func() bool { n, _ := g.group.Queued(); return n == 10 })
	close(hold)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if (i == 3) != errors.Is(err, boom) || (i != 3 && err != nil) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for i := range 10 {
			key := string(rune('a' + i))
			if got := tx.Bucket(bucket).Get([]byte(key)); (i == 3) != (got == nil) {
				t.Errorf("key %s: %q", key, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitShares: ten writes queued behind a running transaction
// commit together, in one transaction.
func TestGroupCommitShares(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "cane.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := &groupCommit{db: s.db}
	hold := make(chan struct{})
	go func() { _ = g.do(func(*bolt.Tx) error { <-hold; return nil }) }()
	waitFor(t, func() bool { n, running := g.group.Queued(); return running && n == 0 })
	var mu sync.Mutex
	txs := map[int]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.do(func(tx *bolt.Tx) error {
				mu.Lock()
				txs[tx.ID()]++
				mu.Unlock()
				_, err := tx.CreateBucketIfNotExists([]byte("t"))
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool { n, _ := g.group.Queued(); return n == 10 })
	close(hold)
	wg.Wait()
	if len(txs) != 1 {
		t.Fatalf("10 queued writes ran in transactions %v, want one", txs)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
