package verify

import (
	"fmt"
	"runtime/metrics"
	"time"
)

// Limits bound one verification. Zero values are no limit. caned runs
// verify in every xray, on nodes of any size: past a limit the
// verification stops and says so, it never runs away with the daemon.
type Limits struct {
	// Time is the wall-clock time it may take.
	Time time.Duration
	// Heap is how far the process's heap in use (runtime/metrics'
	// /memory/classes/heap/objects:bytes: live objects and garbage not
	// yet collected) may grow over what it was when the verification
	// began, in bytes. Approximate, and process-wide: what other
	// goroutines allocate meanwhile counts too, and garbage counts until
	// the collector runs (at the default GOGC the heap is at most about
	// twice what is live): a bound against running away, not a measure.
	Heap uint64
	// Classes is how many header classes it may follow to the end of
	// their paths (Report.Classes).
	Classes int
}

// checkEvery is how many steps (table lookups, leaves) go between two
// looks at the clock and the heap.
const checkEvery = 256

// budget watches a verification's limits. Exceeding one unwinds the
// traversal (overBudget, recovered in verify), so no code path needs to
// carry an error for it.
type budget struct {
	lim     Limits
	start   time.Time
	heap0   uint64
	steps   int
	partial func() Report // the report of what was found so far
	sample  []metrics.Sample
}

// overBudget is what a verification that exceeds a limit panics with.
type overBudget struct{ what string }

func newBudget(lim Limits) *budget {
	b := &budget{lim: lim, start: time.Now(), sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}, partial: func() Report { return Report{} }}
	b.heap0 = b.heap()
	return b
}

// step counts one step and, every checkEvery, looks at the limits.
func (b *budget) step() {
	if b.steps++; b.steps%checkEvery != 0 {
		return
	}
	if b.lim.Time > 0 && time.Since(b.start) > b.lim.Time {
		panic(overBudget{fmt.Sprintf("time: more than %v", b.lim.Time)})
	}
	if b.lim.Heap > 0 {
		if h := b.heap(); h > b.heap0 && h-b.heap0 > b.lim.Heap {
			panic(overBudget{fmt.Sprintf("heap: grew by %s, more than %s", size(h-b.heap0), size(b.lim.Heap))})
		}
	}
}

// counted looks at the classes followed so far.
func (b *budget) counted(classes int) {
	if b.lim.Classes > 0 && classes > b.lim.Classes {
		panic(overBudget{fmt.Sprintf("classes: more than %d header classes", b.lim.Classes)})
	}
}

// size is a number of bytes as people read it.
func size(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// heap is the heap in use, garbage included.
func (b *budget) heap() uint64 {
	metrics.Read(b.sample)
	if b.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return b.sample[0].Value.Uint64()
}

// recover turns a verification's panic into its result: over budget, a
// report of what was found so far that says which limit; any other, an
// error (a fault of the verifier: the caller goes on).
func (b *budget) recover(rep *Report, err *error) {
	x := recover()
	if x == nil {
		return
	}
	if ob, ok := x.(overBudget); ok {
		*rep, *err = b.partial(), nil
		rep.Budget = ob.what
		return
	}
	*rep, *err = Report{}, fmt.Errorf("verify: internal error: %v", x)
	if e, ok := x.(error); ok {
		*err = fmt.Errorf("verify: internal error: %w", e)
	}
}
