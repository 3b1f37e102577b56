package daemon

import (
	"fmt"
	"strings"
	"time"
)

// stepTimer records how long each step of an operation took, for the log
// line that ends it ("allocated=1.2ms veth=3.4ms ...").
type stepTimer struct {
	last  time.Time
	parts []string
}

func newStepTimer() *stepTimer { return &stepTimer{last: time.Now()} }

func (s *stepTimer) mark(step string) {
	now := time.Now()
	s.parts = append(s.parts, fmt.Sprintf("%s=%s", step, now.Sub(s.last).Round(10*time.Microsecond)))
	s.last = now
}

func (s *stepTimer) String() string { return strings.Join(s.parts, " ") }
