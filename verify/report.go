package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cane-cni/cane/flows"
)

// Report is what one verification found.
type Report struct {
	Sources    int // ports followed as sources
	Contexts   int // sources as followed: a pod as itself and as a spoofer, the tunnel per VNI, ...
	Classes    int // header classes followed to the end of their path
	Computed   int // table traversals computed (the rest were reused)
	Flows      int
	Violations []Violation
	Notes      []string // approximations and ambiguities: not violations
	// Budget is the limit the verification ran out of ("": none; then
	// the report is of the whole node). Past it, Violations are those
	// found so far, and nothing is proven.
	Budget string
}

// Proven reports whether nothing was found, everywhere.
func (r Report) Proven() bool { return len(r.Violations) == 0 && r.Budget == "" }

// Summary is the report in one line.
func (r Report) Summary() string {
	switch {
	case r.Budget != "":
		return fmt.Sprintf("isolation not proven: budget exceeded (%s); %d sources, %d header classes and %d violations so far",
			r.Budget, r.Sources, r.Classes, len(r.Violations))
	case r.Proven():
		return fmt.Sprintf("isolation proven: %d sources, %d header classes, 0 violations", r.Sources, r.Classes)
	}
	return fmt.Sprintf("isolation NOT proven: %d sources, %d header classes, %d violations", r.Sources, r.Classes, len(r.Violations))
}

// Violation is one thing wrong, with one packet that shows it.
type Violation struct {
	Kind     Kind
	Source   string // the first source that shows it
	Sources  int    // how many sources show it
	From     string // the source domain (isolation)
	To       string // where the packet goes
	ToDomain string // the domain it reaches (isolation)
	Detail   string
	Classes  int // header classes that show it
	Witness  Witness
	Path     []Hop
}

// String is the violation in one line.
func (v Violation) String() string {
	var what string
	switch v.Kind {
	case Isolation:
		what = fmt.Sprintf("%s reaches %s: %s", v.From, v.ToDomain, v.To)
	case Spoof, Admission:
		what = fmt.Sprintf("%s: %s, to %s", v.Source, v.Detail, v.To)
	case Leak:
		what = fmt.Sprintf("%s leaks: %s", v.From, v.To)
	default:
		what = v.Detail
	}
	return fmt.Sprintf("%s: %s (witness %s)", v.Kind, what, v.Witness)
}

// Hop is one flow a witness crosses, or one recirculation.
type Hop struct {
	Table     uint8
	TableName string
	Priority  uint16
	Cookie    uint64
	Flow      string // as ovs-ofctl dump-flows prints it
	Clause    bool   // a flow of a conjunctive match (ofproto/trace shows the conj_id flow)
	Conntrack string // a recirculation: the ct_state assumed, "trk,new"
}

// collector gathers the findings of every context into violations.
type collector struct {
	r       *runner
	classes int
	byKey   map[string]*Violation
	keys    []string
	sources map[string]map[string]bool
}

// key groups findings as reports show them: isolation by domain pair and
// kind of destination, a foreign source by source, the rest by what.
func (f finding) key(ctx *context) string {
	switch f.kind {
	case Isolation, Leak:
		return strings.Join([]string{string(f.kind), f.from, f.toDomain, f.toKind.String(), leakKey(f)}, "|")
	case Spoof, Admission:
		return strings.Join([]string{string(f.kind), ctx.source, ctx.why, f.toKind.String()}, "|")
	}
	return string(f.kind) + "|" + f.detail
}

func leakKey(f finding) string {
	if f.kind == Leak {
		return f.to
	}
	return ""
}

// count counts n more classes followed to their end (against the budget).
func (c *collector) count(n int) {
	c.classes += n
	c.r.b.counted(c.classes)
}

// add records n classes of ctx that show f; s is the class (f.extra narrows it).
func (c *collector) add(ctx *context, f finding, s *state, n int) {
	k := f.key(ctx)
	if c.sources[k] == nil {
		c.sources[k] = map[string]bool{}
	}
	c.sources[k][ctx.source] = true
	if v := c.byKey[k]; v != nil {
		v.Classes += n
		v.Sources = len(c.sources[k])
		return
	}
	t, ok := s.t.and(f.extra)
	if !ok {
		t = s.t
	}
	w, hops := c.r.p.l.witness(s, t)
	c.byKey[k] = &Violation{Kind: f.kind, Source: ctx.source, Sources: 1, From: f.from, To: f.to, ToDomain: f.toDomain,
		Detail: f.detail, Classes: n, Witness: w, Path: hops}
	c.keys = append(c.keys, k)
}

// violations are the report's, in a stable order.
func (c *collector) violations() []Violation {
	out := make([]Violation, 0, len(c.keys))
	for _, k := range c.keys {
		out = append(out, *c.byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// hops is a path (oldest first) as reports show it.
func (l *layout) hops(path []*hop, pt cubeReader) []Hop {
	var out []Hop
	for _, h := range path {
		switch {
		case h.ct != nil:
			out = append(out, Hop{Table: h.ct.table, TableName: flows.Table(h.ct.table).String(), Conntrack: l.ctStateOf(h.ct, pt)})
		case h.e.conj:
			for _, f := range h.e.clauses() {
				out = append(out, flowHop(f, true))
			}
		default:
			out = append(out, flowHop(h.e.flow, false))
		}
	}
	return out
}
