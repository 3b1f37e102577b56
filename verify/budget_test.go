package verify

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBudget: a verification past one of its limits stops, is not
// proven, and says which limit in its report and summary; within them it
// proves what Verify proves.
func TestBudget(t *testing.T) {
	small, big := saleNight(4), bigNode(50, 300)
	for _, tc := range []struct {
		name string
		big  bool
		lim  Limits
		want string // the budget the report names ("": none)
	}{
		{name: "no limits", lim: Limits{}},
		{name: "generous limits", lim: Limits{Time: time.Minute, Heap: 1 << 30, Classes: 1 << 40}},
		{name: "time", lim: Limits{Time: time.Nanosecond}, want: "time: more than 1ns"},
		{name: "classes", lim: Limits{Classes: 100}, want: "classes: more than 100 header classes"},
		{name: "heap", big: true, lim: Limits{Heap: 1 << 20}, want: "heap: grew by"},
		{name: "big node within limits", big: true, lim: Limits{Time: time.Minute, Heap: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := small
			if tc.big {
				n = big
			}
			runtime.GC() // the heap a test before left is not this one's growth
			rep, err := VerifyWithin(n.All(), FromNode(n), tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(rep.Summary())
			if tc.want == "" {
				if rep.Budget != "" || !rep.Proven() {
					t.Errorf("want proven within %+v: %s", tc.lim, rep.Summary())
				}
				return
			}
			if !strings.HasPrefix(rep.Budget, tc.want) || rep.Proven() {
				t.Errorf("budget %q, proven %v: want %q, not proven", rep.Budget, rep.Proven(), tc.want)
			}
			if !strings.Contains(rep.Summary(), "not proven: budget exceeded ("+rep.Budget+")") {
				t.Errorf("summary %q does not say the budget", rep.Summary())
			}
		})
	}
}

// TestBudgetKeepsViolations: what a verification found before it ran out
// of budget is in its report.
func TestBudgetKeepsViolations(t *testing.T) {
	n := saleNight(4)
	m := mutations(n)[1] // production into test's pool
	full, err := Verify(m.apply(n.All()), FromNode(n))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyWithin(m.apply(n.All()), FromNode(n), Limits{Classes: full.Classes - 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Budget == "" || len(rep.Violations) == 0 || len(rep.Violations) > len(full.Violations) {
		t.Errorf("%s: want the budget exceeded and some of the %d violations", rep.Summary(), len(full.Violations))
	}
}
