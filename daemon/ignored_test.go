package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a settable now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func quietReporter(node string, clock *fakeClock) *ignoredReporter {
	r := newIgnoredReporter(node, slog.New(slog.NewTextHandler(io.Discard, nil)), func(context.Context, string, string, string) error { return nil })
	r.now = clock.now
	return r
}

func names(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("node-%04d", i))
	}
	return out
}

// TestIgnoredReportersFew: one rogue object seen by every node of a
// 1,000-node cluster is reported by exactly `reporters` of them, and the
// same ones whichever node computes it; many objects spread their Events
// over the nodes.
func TestIgnoredReportersFew(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	nodes := names(1000)
	ign := []ignored{{"Block", "prod.198-19-0-0-16", "cidr 198.19.0.0/16 is not a /26 block of pool prod"}}
	var posting []string
	for _, n := range nodes {
		r := quietReporter(n, clock)
		r.observe(ign, nodes)
		clock.t = clock.t.Add(settle)
		if len(r.due()) > 0 {
			posting = append(posting, n)
		}
	}
	want := rankFor(ignoredKey{ign[0].Kind, ign[0].Name, ign[0].Why}, nodes, reporters)
	if strings.Join(posting, ",") != strings.Join(sortedCopy(want), ",") {
		t.Errorf("nodes posting %v, want the %d ranked first %v", posting, reporters, want)
	}
	load := map[string]int{}
	for i := range 3000 {
		for _, n := range rankFor(ignoredKey{"Block", fmt.Sprint("b", i), "x"}, nodes[:100], reporters) {
			load[n]++
		}
	}
	for n, c := range load {
		if c > 3*90 { // 90 on average over 100 nodes
			t.Errorf("%s reports %d of 3000 objects", n, c)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestIgnoredReporterOnce: an object is reported once it has been
// ignored for settle, once per reason; gone and back, again; the gauge
// counts by kind, 0 for kinds with none.
func TestIgnoredReporterOnce(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	r := quietReporter("n1", clock)
	nodes := []string{"n1"} // alone: it reports everything
	bad := []ignored{{"Block", "b1", "not aligned"}, {"Block", "b2", "not IPv4"}, {"Domain", "d", "vni 100 already used"}}
	r.observe(bad, nodes)
	if d := r.due(); len(d) != 0 {
		t.Errorf("due before settling: %v", d)
	}
	clock.t = clock.t.Add(settle)
	r.observe(bad, nodes) // a later refresh changes nothing
	due := r.due()
	if len(due) != 3 {
		t.Fatalf("due %v, want 3", due)
	}
	for _, k := range due {
		r.sent(k)
	}
	if d := r.due(); len(d) != 0 {
		t.Errorf("due again after sending: %v", d)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			got[f.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{"cane_ignored_objects/Block": 2, "cane_ignored_objects/CaneNode": 0, "cane_ignored_objects/Domain": 1,
		"cane_ignored_objects/Loan": 0, "cane_ignored_objects/Pool": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	r.observe(bad[:1], nodes) // b2 and d fixed
	r.observe(bad, nodes)     // and broken again
	clock.t = clock.t.Add(settle)
	if d := r.due(); len(d) != 2 {
		t.Errorf("due after coming back: %v, want b2 and d", d)
	}
}
