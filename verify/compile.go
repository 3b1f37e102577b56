package verify

import (
	"fmt"
	"sort"

	"github.com/cane-cni/cane/flows/of"
)

// pipeline is a node's flows compiled for the verifier: tables of entries
// in the order OVS consults them, each entry's match as a condition over
// the layout's bits and its actions as operations on a state.
type pipeline struct {
	l      *layout
	tables [256]*table
	notes  []string
	marks  ctMarks // what conntrack entries can hold, per zone
	nat    bool    // some ct() does NAT
}

// table is one OpenFlow table.
type table struct {
	id       uint8
	entries  []*entry // in rank order: priority, hard flows before conjunctions
	idx      *index
	reads    []uint64 // header bits this table or any table after it reads
	catchAll bool     // an ordinary flow matches every packet
}

// entry is what a lookup can pick: an ordinary flow, or one conjunctive
// match (one cube of the product of its clauses) that looks the table up
// again with conj_id set.
type entry struct {
	tab         *table
	rank        int
	prio        uint16
	flow        *of.Flow   // the flow, as given (for a conjunction: its first clause flow)
	clauses     []*of.Flow // a conjunction's clause flows behind this cube
	c           cond       // the match over the header bits
	shared      cube       // c as a cube of ingress variables
	acts        []act
	shadows     []*entry // earlier entries that take what they overlap
	conj        bool
	conjID      uint32
	lowerShadow bool   // later entries lose what this one matches
	unmodelled  string // why the verifier cannot follow this flow
}

// compile builds the pipeline from flows: k fresh blocks and extra fields
// tracked beyond those the flows use.
func compile(fs []of.Flow, extra []of.FieldID) *pipeline {
	var use fieldSet
	use.add(alwaysTracked...)
	use.add(extra...)
	for _, f := range fs {
		useOf(&use, f)
	}
	p := &pipeline{}
	p.l = newLayout(use, recircDepth(fs))
	hard, soft := p.entries(fs)
	byTable := map[uint8][]*entry{}
	for _, e := range hard {
		byTable[e.flow.Table] = append(byTable[e.flow.Table], e)
	}
	for t, es := range p.conjunctions(soft) {
		byTable[t] = append(byTable[t], es...)
	}
	for t, es := range byTable {
		p.tables[t] = p.table(t, es)
	}
	p.reads()
	p.marks = committedMarks(p, fs)
	return p
}

// useOf adds every field f matches, writes or reads.
func useOf(use *fieldSet, f of.Flow) {
	for _, m := range f.Matches {
		use.add(m.Field)
	}
	for _, a := range f.Actions {
		switch a := a.(type) {
		case of.SetField:
			use.add(a.Field)
		case of.Move:
			use.add(a.Src.Field, a.Dst.Field)
		case of.OutputReg:
			use.add(a.Src.Field)
		case of.CT:
			use.add(ctFields...)
			use.add(a.ZoneSrc.Field)
			for _, sf := range a.Exec {
				use.add(sf.Field)
			}
		case of.CTClear:
			use.add(ctFields...)
		}
	}
}

// entries compiles every flow: ordinary flows become entries, flows with
// conjunction actions are returned apart (they only make up conjunctions).
func (p *pipeline) entries(fs []of.Flow) (hard, soft []*entry) {
	for i := range fs {
		f := fs[i].Canonical()
		e := &entry{flow: &fs[i], prio: f.Priority, lowerShadow: true}
		var ok bool
		if e.c, ok = p.match(f); !ok {
			continue // contradicts itself: never matches
		}
		e.shared = p.sharedCube(e.c)
		if isConjunction(f) {
			soft = append(soft, e)
			continue
		}
		e.acts, e.unmodelled = p.actions(f)
		if e.unmodelled == "" {
			e.unmodelled = unknownFields(f)
		}
		hard = append(hard, e)
	}
	return hard, soft
}

func isConjunction(f of.Flow) bool {
	for _, a := range f.Actions {
		if _, ok := a.(of.Conjunction); ok {
			return true
		}
	}
	return false
}

func unknownFields(f of.Flow) string {
	for _, m := range f.Matches {
		if !m.Field.Valid() {
			return fmt.Sprintf("matches an unknown field (%d)", m.Field)
		}
	}
	return ""
}

// match is the flow's match (with its protocol) as a condition; false if
// it contradicts itself.
func (p *pipeline) match(f of.Flow) (cond, bool) {
	c := p.newCond()
	ms := f.Matches
	if t := f.Protocol.EthType(); t != 0 {
		ms = append(append([]of.Match(nil), ms...), of.EthType(t))
	}
	if pr := f.Protocol.IPProto(); pr != 0 {
		ms = append(ms, of.IPProto(pr))
	}
	for _, m := range ms {
		if !m.Field.Valid() || !p.l.tracked(m.Field) {
			continue
		}
		if !p.addMatch(c, m.Field, m.Value, m.Mask) {
			return cond{}, false
		}
	}
	return c, true
}

// newCond is an empty condition. Its values and mask sit where a cube
// over the variable space has them, so sharedCube of it costs nothing.
func (p *pipeline) newCond() cond {
	l := p.l
	b := make([]uint64, 2*l.wv)
	return cond{val: b[:l.w], mask: b[l.wv : l.wv+l.w : l.wv+l.w]}
}

// addMatch adds field id = v under mask to c; false if c already says otherwise.
func (p *pipeline) addMatch(c cond, id of.FieldID, v, mask of.Value) bool {
	sp := p.l.span(id)
	width := id.Bits()
	for j := 0; j < width && j < sp.width; j++ {
		if !fieldBit(mask, width, j) {
			continue
		}
		b, want := sp.off+j, fieldBit(v, width, j)
		if getBit(c.mask, b) && getBit(c.val, b) != want {
			return false
		}
		setBit(c.mask, b, true)
		setBit(c.val, b, want)
	}
	return true
}

// sharedCube is c over the ingress variables, which sit where the header
// bits do: the cube newCond laid c out in (never changed after).
func (p *pipeline) sharedCube(c cond) cube {
	return cube(c.val[: 2*p.l.wv : 2*p.l.wv])
}

// table orders a table's entries, indexes them and finds their shadows.
func (p *pipeline) table(id uint8, es []*entry) *table {
	t := &table{id: id}
	sort.SliceStable(es, func(i, j int) bool { return entryLess(es[i], es[j]) })
	ranks := make([]int, len(es))
	for i, e := range es {
		e.tab, e.rank, ranks[i] = t, i, i
		if !e.conj && isZero(e.c.mask) && e.unmodelled == "" {
			t.catchAll = true
		}
	}
	for _, e := range es {
		if e.conj {
			e.lowerShadow = e.lowerShadow && t.catchAll
		}
	}
	t.entries = es
	t.idx = newIndex(p.l, es, ranks, make([]bool, maxField))
	var buf []int
	for _, e := range es {
		buf = p.shadowsOf(e, buf)
	}
	return t
}

// entryLess is OVS's order of consultation: priority; at one priority an
// ordinary flow before a conjunctive match (OVS prefers the hard match on
// a tie); then the order the flows came in (the sort is stable).
func entryLess(a, b *entry) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.conj != b.conj {
		return !a.conj
	}
	return a.conjID < b.conjID
}

// takes reports whether g, consulted before e, takes from e the packets
// both match. Two ordinary flows of one priority do not (OVS picks either:
// both are followed), nor do two conjunctions of one priority (overlapping
// conjunctions are undefined in OVS), nor a conjunction that may fall through.
func takes(g, e *entry) bool {
	if !g.lowerShadow {
		return false
	}
	if g.prio == e.prio {
		if !g.conj && !e.conj {
			return false
		}
		if g.conj && e.conj && g.conjID != e.conjID {
			return false
		}
	}
	return condsOverlap(g.c, e.c)
}

func condsOverlap(a, b cond) bool {
	for i := range a.mask {
		if (a.val[i]^b.val[i])&a.mask[i]&b.mask[i] != 0 {
			return false
		}
	}
	return true
}

// shadowsOf finds the entries consulted before e that take from it, and
// notes same-priority overlaps with different actions (OVS's choice
// between them is undefined; the verifier follows both).
func (p *pipeline) shadowsOf(e *entry, buf []int) []int {
	cands := e.tab.idx.queryInto(buf, func(sp span) prefix { return condPrefix(e.c, sp) })
	for _, r := range cands {
		if r >= e.rank {
			break
		}
		g := e.tab.entries[r]
		if takes(g, e) {
			e.shadows = append(e.shadows, g)
		} else if g.prio == e.prio && !g.conj && !e.conj && condsOverlap(g.c, e.c) && of.ActionsString(g.flow.Actions) != of.ActionsString(e.flow.Actions) {
			p.notes = append(p.notes, fmt.Sprintf("table %d: flows of one priority overlap with different actions, OVS may pick either (both followed): %s | %s", e.tab.id, g.flow.String(), e.flow.String()))
		}
	}
	return cands
}
