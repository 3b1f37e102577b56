package coalesce

import (
	"errors"
	"runtime"
	"sync"
	"testing"
)

// TestGroup: items submitted while a run is busy share the next run; a
// failing batch is retried item by item, so only the bad item fails.
func TestGroup(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var runs [][]int
	g := &Group[int]{Do: func(items []int) error {
		mu.Lock()
		runs = append(runs, append([]int(nil), items...))
		first := len(runs) == 1
		mu.Unlock()
		if first {
			<-release // hold the first run while the others queue up
		}
		for _, i := range items {
			if i == 13 {
				return errors.New("bad item")
			}
		}
		return nil
	}}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	wg.Add(1)
	go func() { defer wg.Done(); errs[0] = g.Submit(0) }()
	for { // wait until the first run holds
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	for i, item := range []int{1, 2, 13, 4, 5} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i+1] = g.Submit(item) }()
	}
	for { // all five queued behind the held run
		if n, _ := g.Queued(); n == 5 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if (i == 3) != (err != nil) {
			t.Errorf("item %d: %v", i, err)
		}
	}
	if len(runs) != 2+5 || len(runs[1]) != 5 {
		t.Errorf("runs %v: want one alone, one of five, then five alone", runs)
	}
}
