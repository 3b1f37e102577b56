package daemon

import (
	"context"
	"time"
)

// backoff is an exponential wait between retries, from min up to max.
type backoff struct {
	min, max, next time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, next: min} }

// peek is how long the next wait will be.
func (b *backoff) peek() time.Duration { return b.next }

// wait sleeps for the next interval, doubling it for the time after; it
// reports false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reset starts again from min after a success.
func (b *backoff) reset() { b.next = b.min }

// step is wait without the sleep: the next interval, doubled for the
// time after (for a caller that waits on a timer among other things).
func (b *backoff) step() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}
