package verify

import (
	"encoding/binary"
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
	marks  ctMarks        // what conntrack entries can hold, per zone
	ctInv  map[int][]cube // invalidStates, per fresh block
	nat    bool           // some ct() does NAT
}

// table is one OpenFlow table.
type table struct {
	id       uint8
	entries  []*entry // in rank order: priority, hard flows before conjunctions
	idx      *index
	reads    []uint64 // header bits this table or any table after it reads
	atoms    []atomField
	catchAll bool // an ordinary flow matches every packet
}

// entry is what a lookup can pick: an ordinary flow, or one conjunctive
// match (one cube of the product of its clauses) that looks the table up
// again with conj_id set.
type entry struct {
	tab     *table
	flow    *of.Flow // the flow, as given (for a conjunction: its first clause flow)
	c       cond     // the match over the header bits (as a cube of ingress variables: shared)
	acts    []act
	shadows []*entry   // earlier entries that take what they overlap
	rare    *entryRare // what few entries have
	rank    int32
	conjID  uint32
	prio    uint16
	conj    bool
	// lowerShadow: later entries lose what this one matches.
	lowerShadow bool
}

// entryRare is what few entries have (a table has 10,000 of the others).
type entryRare struct {
	clauses    []*of.Flow   // a conjunction's clause flows behind this cube
	unmodelled string       // why the verifier cannot follow this flow
	group      *shadowGroup // a long shadow list's largest group, indexed (groupOf)
}

// shared is e's match as a cube of ingress variables (never changed).
func (e *entry) shared(wv int) cube { return cube(e.c.val[: 2*wv : 2*wv]) }

// unmodelled is why the verifier cannot follow e ("": it can).
func (e *entry) unmodelled() string {
	if e.rare == nil {
		return ""
	}
	return e.rare.unmodelled
}

// clauses are the clause flows of a conjunction's entry.
func (e *entry) clauses() []*of.Flow {
	if e.rare == nil {
		return nil
	}
	return e.rare.clauses
}

// maxShadowList is the longest shadow list taken cube by cube.
const maxShadowList = 64

// shadowGroup is the most numerous shadows of one mask, as one indexed
// set, and the other shadows. A class that has some of the set's bits as
// constants takes the members that agree with them, less those bits (a
// set per such constant pattern, made on first use).
type shadowGroup struct {
	mask    []uint64
	members []*entry
	pivot   span
	idx     map[string]*subIndex // by the constant bits and their values
	rest    []*entry
}

// groupOf is e's shadow group, made on first use; its members are nil if
// its largest group is small or tells nothing apart to index it by.
func (p *pipeline) groupOf(e *entry) *shadowGroup {
	if e.rare == nil {
		e.rare = &entryRare{}
	}
	if e.rare.group != nil {
		return e.rare.group
	}
	byMask := map[string][]*entry{}
	best := ""
	for _, g := range e.shadows {
		if g.conj {
			continue
		}
		k := string(appendWords(nil, g.c.mask...))
		byMask[k] = append(byMask[k], g)
		if len(byMask[k]) > len(byMask[best]) {
			best = k
		}
	}
	members := byMask[best]
	ranks := make([]int, len(members))
	for i := range ranks {
		ranks[i] = i
	}
	e.rare.group = &shadowGroup{rest: e.shadows}
	ps := pivots(p.l, members, ranks, make([]bool, maxField))
	if len(members) <= maxShadowList || len(ps) == 0 {
		return e.rare.group
	}
	g := &shadowGroup{mask: members[0].c.mask, members: members, pivot: ps[0].sp, idx: map[string]*subIndex{}}
	for _, m := range e.shadows {
		if m.conj || string(appendWords(nil, m.c.mask...)) != best {
			g.rest = append(g.rest, m)
		}
	}
	e.rare.group = g
	return g
}

// indexFor is the group's set as a class with mapping m reads it (nil if
// it cannot take it as a set: an alias on its bits).
func (g *shadowGroup) indexFor(m mapping, wv int) *subIndex {
	if g.members == nil || m.aliased(g.mask) {
		return nil
	}
	drop := make([]uint64, 2*len(g.mask))
	for i := range g.mask {
		drop[i] = g.mask[i] & m.cm[i]
		drop[len(g.mask)+i] = drop[i] & m.cv[i]
	}
	k := string(appendWords(nil, drop...))
	if x := g.idx[k]; x != nil {
		return x
	}
	drop = drop[:len(g.mask)]
	var cubes []cube
	for _, e := range g.members {
		if !agrees(e.c, m, drop) {
			continue
		}
		if isZero(drop) {
			cubes = append(cubes, e.shared(wv))
			continue
		}
		d := e.shared(wv).clone()
		h := d.half()
		for i := range drop {
			d[i] &^= drop[i]
			d[h+i] &^= drop[i]
		}
		cubes = append(cubes, d)
	}
	x := newSubIndex(g.pivot, cubes, wv)
	g.idx[k] = x
	return x
}

// agrees reports whether c's values on the bits of drop are m's constants.
func agrees(c cond, m mapping, drop []uint64) bool {
	for i, d := range drop {
		if (c.val[i]^m.cv[i])&d != 0 {
			return false
		}
	}
	return true
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
	p.l = newLayout(use, recircDepth(fs), natUsed(fs))
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
			// ct() defines ct_state, ct_zone, ct_mark and ct_label for the
			// recirculated packet, but a field no flow matches, writes or
			// reads makes no difference: only those are tracked.
			use.add(a.ZoneSrc.Field)
			for _, sf := range a.Exec {
				use.add(sf.Field)
			}
		}
	}
}

// entries compiles every flow: ordinary flows become entries, flows with
// conjunction actions are returned apart (they only make up conjunctions).
func (p *pipeline) entries(fs []of.Flow) (hard, soft []*entry) {
	type compiled struct {
		acts []act
		why  string
	}
	byText := map[string]compiled{} // flows with the same actions share them (10,000 VTEPs' Classifier flows)
	for i := range fs {
		f := fs[i].Canonical()
		e := &entry{flow: &fs[i], prio: f.Priority, lowerShadow: true}
		var ok bool
		if e.c, ok = p.match(f); !ok {
			continue // contradicts itself: never matches
		}
		if isConjunction(f) {
			soft = append(soft, e)
			continue
		}
		text, known := actionsKey(f.Actions)
		ca, ok := byText[text]
		if !ok || !known {
			ca.acts, ca.why = p.actions(f)
		}
		if !ok && known {
			byText[text] = ca
		}
		e.acts = ca.acts
		why := ca.why
		if why == "" {
			why = unknownFields(f)
		}
		if why != "" {
			e.rare = &entryRare{unmodelled: why}
		}
		hard = append(hard, e)
	}
	return hard, soft
}

// actionsKey names an action list: its actions' values, or their
// ovs-ofctl text where a kind has more than values; false if an action
// has no text (then it is compiled on its own).
func actionsKey(as []of.Action) (string, bool) {
	b := make([]byte, 0, 64)
	sub := func(s of.Subfield) { b = append(binary.AppendUvarint(b, uint64(s.Field)), s.Ofs, s.Bits) }
	for _, a := range as {
		switch a := a.(type) {
		case of.SetField:
			b = append(append(binary.AppendUvarint(append(b, 's'), uint64(a.Field)), a.Value[:]...), a.Mask[:]...)
		case of.Move:
			b = append(b, 'm')
			sub(a.Src)
			sub(a.Dst)
		case of.Goto:
			b = append(b, 'g', a.Table)
		case of.Resubmit:
			b = append(b, 'r', a.Table)
		case of.Output:
			b = binary.LittleEndian.AppendUint32(append(b, 'o'), a.Port)
		case of.OutputReg:
			b = append(b, 'O')
			sub(a.Src)
		default:
			t, err := a.MarshalText()
			if err != nil {
				return "", false
			}
			b = append(binary.AppendUvarint(append(b, 't'), uint64(len(t))), t...)
		}
	}
	return string(b), true
}

// natUsed reports whether some ct() does NAT.
func natUsed(fs []of.Flow) bool {
	for _, f := range fs {
		for _, a := range f.Actions {
			if ct, ok := a.(of.CT); ok && ct.NAT != nil {
				return true
			}
		}
	}
	return false
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
		e.tab, e.rank, ranks[i] = t, int32(i), i
		if !e.conj && isZero(e.c.mask) && e.unmodelled() == "" {
			t.catchAll = true
		}
	}
	for _, e := range es {
		if e.conj {
			e.lowerShadow = e.lowerShadow && t.catchAll
		}
	}
	t.entries = es
	t.idx = newTableIndex(p.l, es, ranks)
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
		if r >= int(e.rank) {
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
