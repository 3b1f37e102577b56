package verify

import (
	"github.com/cane-cni/cane/flows/of"
)

// Conntrack, modelled soundly without modelling connections:
//   - ct(table=T) forks: the packet goes on with the rest of the actions
//     untracked (OVS restores its ct fields), and a copy continues in T,
//     one class per ct_mark a commit in that zone can leave on an entry
//     (0, or what an exec() writes, its other bits free; every zone's if
//     the zone is a register), each with ct_state any of the states the
//     tracker reports (+trk with +new, +new+rel, +est, +est+rpl, +rel,
//     +rel+rpl or +inv; +snat/+dnat free if this ct() does NAT) — one
//     class for all seven, which a table splits only where it tells them
//     apart — ct_zone its zone, and ct_label 0 or free;
//   - NAT gives the addresses and ports it may rewrite fresh values;
//   - ct() without a table changes nothing the rest of the actions see,
//     except NAT's rewrite of the packet sent;
//   - ct_clear zeroes the ct fields.
// Every value is a fresh variable of the recirculation's block, so a
// witness names the ct_state it needs (ofproto/trace's --ct-next).

// maxRecirc bounds the recirculations on one path (fresh blocks).
const maxRecirc = 4

// ctStates are the states a tracked packet can be in.
var ctStates = []of.CTFlag{
	of.CTTrk | of.CTNew, of.CTTrk | of.CTNew | of.CTRel, of.CTTrk | of.CTEst, of.CTTrk | of.CTEst | of.CTRpl,
	of.CTTrk | of.CTRel, of.CTTrk | of.CTRel | of.CTRpl, of.CTTrk | of.CTInv,
}

// The states are one class, not a fork per state: +trk, the five flags
// new, est, rel, rpl, inv free less ctInvalid (the 25 combinations the
// tracker never reports), snat and dnat free where the ct() NATs, the
// rest 0. So a table that reads only +new (Output's commit) splits the
// class there, and every table before it sees one class, not seven.
// ctInvalid is a cover of the invalid combinations by cubes over those
// five bits (a test checks it leaves exactly ctStates): each is a value
// and mask of ct_state.
var ctInvalid = []struct{ val, mask of.CTFlag }{
	{of.CTNew | of.CTEst, of.CTNew | of.CTEst},
	{of.CTNew | of.CTRpl, of.CTNew | of.CTRpl},
	{of.CTNew | of.CTInv, of.CTNew | of.CTInv},
	{of.CTEst | of.CTRel, of.CTEst | of.CTRel},
	{of.CTEst | of.CTInv, of.CTEst | of.CTInv},
	{of.CTRel | of.CTInv, of.CTRel | of.CTInv},
	{of.CTRpl | of.CTInv, of.CTRpl | of.CTInv},
	{0, of.CTNew | of.CTEst | of.CTRel | of.CTInv}, // none of them (with or without rpl)
}

// ctFlagBits are the flags the class leaves free.
const ctFlagBits = of.CTNew | of.CTEst | of.CTRel | of.CTRpl | of.CTInv

// recircDepth is the most ct() actions that need fresh values (with a
// table, or with NAT) on one path through the tables, capped at maxRecirc
// (and maxRecirc if they can loop).
func recircDepth(fs []of.Flow) int {
	type edge struct {
		from, to uint8
		w        int
	}
	var es []edge
	any := false
	for _, f := range fs {
		for _, a := range f.Actions {
			switch a := a.(type) {
			case of.Goto:
				es = append(es, edge{f.Table, a.Table, 0})
			case of.Resubmit:
				es = append(es, edge{f.Table, a.Table, 0})
			case of.CT:
				if a.Recirc || a.NAT != nil {
					any = true
					es = append(es, edge{f.Table, a.Table, 1})
				}
			}
		}
	}
	if !any {
		return 0
	}
	var d [256]int
	for i := 0; i < 300; i++ {
		changed := false
		for _, e := range es {
			if v := d[e.from] + e.w; v > d[e.to] {
				d[e.to], changed = v, true
			}
		}
		if !changed {
			break
		}
	}
	m := 0 // the most a path can have: a ct() after the most before it
	for _, e := range es {
		if e.w == 1 && d[e.from]+1 > m {
			m = d[e.from] + 1
		}
	}
	if m > maxRecirc {
		m = maxRecirc
	}
	return m
}

// ctMarks is what ct_mark and ct_label can hold after a lookup.
type ctMarks struct {
	byZone  map[uint16][]markChoice
	dynamic []markChoice // commits whose zone is a register: any zone
	labels  bool         // some commit writes ct_label
}

// markChoice is a ct_mark value under mask (other bits free).
type markChoice struct{ val, mask uint32 }

// committedMarks collects every commit's mark writes.
func committedMarks(p *pipeline, fs []of.Flow) ctMarks {
	cm := ctMarks{byZone: map[uint16][]markChoice{}}
	for _, f := range fs {
		for _, a := range f.Actions {
			ct, ok := a.(of.CT)
			if !ok || !ct.Commit {
				continue
			}
			choice := markChoice{}
			for _, sf := range ct.Exec {
				switch sf.Field {
				case of.FieldCTMark:
					choice = markChoice{val: uint32(sf.Value.Uint(4)), mask: uint32(sf.Mask.Uint(4))}
				case of.FieldCTLabel:
					cm.labels = true
				}
			}
			if ct.ZoneSrc.Field.Valid() {
				cm.dynamic = append(cm.dynamic, choice)
			} else {
				cm.byZone[ct.Zone] = append(cm.byZone[ct.Zone], choice)
			}
		}
	}
	return cm
}

// choices is what ct_mark can be after a lookup in zone (any zone if not
// known): 0 (a connection nobody committed with a mark) and each commit's.
func (cm ctMarks) choices(zone uint16, known bool) []markChoice {
	out := []markChoice{{val: 0, mask: 0xffffffff}}
	add := func(cs []markChoice) {
		for _, c := range cs {
			if c.mask != 0 {
				out = append(out, c)
			}
		}
	}
	if known {
		add(cm.byZone[zone])
	} else {
		for _, cs := range cm.byZone {
			add(cs)
		}
	}
	add(cm.dynamic)
	return dedupe(out)
}

func dedupe(cs []markChoice) []markChoice {
	seen := map[markChoice]bool{}
	var out []markChoice
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// ctHop is a recirculation on a path (its ct_state is its block's).
type ctHop struct {
	blk   int // the fresh block: ct_state's bits are its variables
	table uint8
}

// recirc runs the tracked copy of ct(table=T): one class per mark the
// tracker can report (every state in each), each continuing in T.
func (r *runner) recirc(s *state, x *ctAct, sk sink) {
	zone, known := uint16(x.a.Zone), true
	if x.zoneN > 0 {
		v, ok := s.value(x.zoneOff, x.zoneN)
		zone, known = uint16(v), ok
	}
	marks := r.p.marks.choices(zone, known)
	if !r.p.l.tracked(of.FieldCTMark) {
		marks = marks[:1] // no flow tells the marks apart
	}
	for _, mark := range marks {
		b := s.clone()
		b.stack = nil
		if b.rc >= r.p.l.k {
			sk.leaf(b, leaf{kind: leafLoop, table: x.a.Table, why: "more conntrack recirculations than the verifier follows"})
			return
		}
		b.rc++
		if !r.p.track(b, x, mark) {
			continue
		}
		b.trail = &hop{prev: b.trail, ct: &ctHop{blk: b.rc, table: x.a.Table}}
		r.table(b, x.a.Table, sk)
	}
}

// track gives a state what the tracker reports; false if the mark choice
// contradicts the class.
func (p *pipeline) track(b *state, x *ctAct, mark markChoice) bool {
	l := p.l
	if l.tracked(of.FieldCTState) {
		p.trackState(b, x.a.NAT != nil)
	}
	if l.tracked(of.FieldCTZone) {
		p.setZone(b, x)
	}
	if l.tracked(of.FieldCTMark) && !p.freshValue(b, of.FieldCTMark, uint64(mark.val), uint64(mark.mask)) {
		return false
	}
	if l.tracked(of.FieldCTLabel) {
		if p.marks.labels {
			p.freshValue(b, of.FieldCTLabel, 0, 0)
		} else {
			p.zero(b, of.FieldCTLabel)
		}
	}
	if x.a.NAT != nil {
		p.natFresh(b)
	}
	if x.a.Commit {
		for _, c := range x.exec {
			b.m.set(c.mask, c.val)
			b.wrote(c.mask)
		}
	}
	return true
}

// trackState gives ct_state fresh variables: +trk, the flags of some
// state the tracker reports, snat and dnat free if nat, the rest 0.
// Its bits above the eight flags are 0 (no fresh variables: ctFreshBits).
func (p *pipeline) trackState(b *state, nat bool) {
	l := p.l
	sp := l.span(of.FieldCTState)
	v0 := l.freshVar(of.FieldCTState, b.rc, 0)
	b.m.freshen(sp.off, ctFreshBits, v0)
	zero := p.newCond()
	setRange(zero.mask, sp.off+ctFreshBits, sp.width-ctFreshBits)
	b.m.set(zero.mask, zero.val)
	b.wroteRange(sp.off, sp.width)
	for j := 0; j < ctFreshBits; j++ {
		f := of.CTFlag(1) << uint(j)
		if f&ctFlagBits == 0 && !(nat && (f == of.CTSNAT || f == of.CTDNAT)) {
			b.t.c.fix(v0+j, f == of.CTTrk)
		}
	}
	b.t.subs = append(b.t.subs, p.invalidStates(b.rc)...)
}

// ctFreshBits are the bits of ct_state a recirculation gives variables
// (its flags, trk to dnat); the tracker reports the others 0.
const ctFreshBits = 8

// invalidStates is ctInvalid as cubes over block blk's ct_state (made
// once per block).
func (p *pipeline) invalidStates(blk int) []cube {
	if p.ctInv == nil {
		p.ctInv = map[int][]cube{}
	}
	if cs, ok := p.ctInv[blk]; ok {
		return cs
	}
	v0 := p.l.freshVar(of.FieldCTState, blk, 0)
	var cs []cube
	for _, inv := range ctInvalid {
		q := newCube(p.l.wv)
		for j := 0; j < 8; j++ {
			if f := of.CTFlag(1) << uint(j); inv.mask&f != 0 {
				q.fix(v0+j, inv.val&f != 0)
			}
		}
		cs = append(cs, q)
	}
	p.ctInv[blk] = cs
	return cs
}

// setZone writes the ct() zone into ct_zone.
func (p *pipeline) setZone(b *state, x *ctAct) {
	sp := p.l.span(of.FieldCTZone)
	b.wroteRange(sp.off, sp.width)
	if x.zoneN > 0 {
		b.m.move(sp.off, x.zoneOff, x.zoneN)
		return
	}
	c := p.newCond()
	p.addMatch(c, of.FieldCTZone, of.ExactUint(of.FieldCTZone, uint64(x.a.Zone)).Value, of.ExactUint(of.FieldCTZone, 0xffff).Value)
	b.m.set(c.mask, c.val)
}

// freshValue gives a field fresh variables of the current block, fixed to
// val under mask (the low 64 bits); false if that contradicts the class.
func (p *pipeline) freshValue(b *state, id of.FieldID, val, mask uint64) bool {
	l := p.l
	sp := l.span(id)
	b.m.freshen(sp.off, sp.width, l.freshVar(id, b.rc, 0))
	b.wroteRange(sp.off, sp.width)
	for j := 0; j < sp.width && j < 64; j++ {
		if mask>>uint(j)&1 == 1 && !b.t.c.fix(l.freshVar(id, b.rc, j), val>>uint(j)&1 == 1) {
			return false
		}
	}
	return true
}

// zero makes a field the constant 0.
func (p *pipeline) zero(b *state, id of.FieldID) {
	sp := p.l.span(id)
	c := p.newCond()
	setRange(c.mask, sp.off, sp.width)
	b.m.set(c.mask, c.val)
	b.wrote(c.mask)
}

// natFresh gives every field NAT may rewrite fresh values.
func (p *pipeline) natFresh(b *state) {
	for _, id := range natFields {
		if p.l.tracked(id) {
			p.freshValue(b, id, 0, 0)
		}
	}
}

// ctInline is ct() without a table: nothing the rest of the actions read
// changes, but NAT rewrites the packet that is sent.
func (r *runner) ctInline(s *state, x *ctAct, sk sink) bool {
	if x.a.NAT == nil {
		return true
	}
	if s.rc >= r.p.l.k {
		sk.leaf(s, leaf{kind: leafLoop, why: "more conntrack actions with NAT than the verifier follows"})
		return false
	}
	s.rc++
	r.p.natFresh(s)
	return true
}

// ctClear zeroes the ct fields.
func (p *pipeline) ctClear(s *state) {
	c := p.newCond()
	for _, id := range ctFields {
		if p.l.tracked(id) {
			sp := p.l.span(id)
			setRange(c.mask, sp.off, sp.width)
		}
	}
	s.m.set(c.mask, c.val)
	s.wrote(c.mask)
}
