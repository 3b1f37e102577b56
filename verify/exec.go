package verify

import (
	"fmt"

	"github.com/cane-cni/cane/flows/of"
)

// maxResubmit is OVS's resubmit depth (ofproto-dpif-xlate.c, MAX_DEPTH):
// deeper, it drops the packet; the verifier reports a loop.
const maxResubmit = 64

// sink receives what the traversal finds: the end of each path, each
// packet sent, and memo entries reused in place of a traversal.
type sink interface {
	leaf(s *state, l leaf)
	reuse(s *state, me *memoEntry)
}

type leafKind uint8

const (
	leafEmit       leafKind = iota + 1 // a packet leaves through a port (the path goes on)
	leafEnd                            // the actions end: a drop if nothing was sent
	leafMiss                           // no flow matched in a table
	leafNoTable                        // goto or resubmit to a table with no flows
	leafLoop                           // the path comes back or goes too deep
	leafUnmodelled                     // a flow the verifier cannot follow
)

// leaf is one thing a path does: l.e is the flow where it happened.
type leaf struct {
	kind   leafKind
	port   uint32
	inPort bool // output:IN_PORT (the port is the packet's in_port)
	e      *entry
	table  uint8
	why    string
}

// ends reports whether the leaf ends its path (one header class).
func (l leaf) ends() bool { return l.kind != leafEmit }

// hop is one step of a path, newest first: a flow, or a recirculation.
type hop struct {
	prev *hop
	e    *entry
	ct   *ctHop
}

// table looks the class up in table id (through the memo where it can).
func (r *runner) table(s *state, id uint8, sk sink) {
	t := r.p.tables[id]
	if t == nil {
		sk.leaf(s, leaf{kind: leafNoTable, table: id})
		return
	}
	if len(s.stack) == 0 && !r.noMemo {
		if k, vr, ok := r.key(s, t); ok {
			r.viaMemo(s, t, k, vr, sk)
			return
		}
	}
	r.lookup(s, t, sk, 0)
}

// lookup splits the class among the table's entries in OVS's order: each
// gets what it matches and no earlier entry took. conj != 0 is the second
// lookup of a conjunctive match (ordinary flows only, with conj_id=conj).
func (r *runner) lookup(s *state, t *table, sk sink, conj uint32) {
	r.b.step()
	cands := t.idx.queryInto(r.getInts(), func(sp span) prefix { return statePrefix(s, sp) })
	defer r.putInts(cands)
	covered, coverPrio := false, 0
	for i, rk := range cands {
		e := t.entries[rk]
		if covered && e.prio < uint16(coverPrio) {
			break
		}
		if conj != 0 && e.conj {
			continue
		}
		v, q := s.translate(e.c, e.shared(r.p.l.wv), r.p.l.wv)
		if v == never {
			continue
		}
		if v == always && e.lowerShadow && !covered {
			covered, coverPrio = true, int(e.prio)
		}
		if v == some && r.coveredBy(s, q) {
			continue // what the flow matches the class has already subtracted
		}
		h := s.clone()
		if v == some {
			h.t.c.and(q)
		}
		if !r.shadow(h, e, t, cands[:i], conj != 0) || h.t.empty() {
			continue
		}
		if conj != 0 {
			r.restoreConj(h, s)
		}
		r.exec(h, e, sk)
	}
	if !covered && conj == 0 {
		r.miss(s, t, cands, sk)
	}
}

// coveredBy reports whether one of the class's subtracted cubes covers
// its part meeting q: a quick look, before the class is copied for a flow
// it has nothing left for (a tunnel packet from a VTEP's own block, in the
// class of sources outside them).
func (r *runner) coveredBy(s *state, q cube) bool {
	if len(s.t.subs) == 0 && len(s.t.idx) == 0 {
		return false
	}
	c := append(r.scratch[:0], s.t.c...)
	r.scratch = c
	if !c.and(q) {
		return true
	}
	_, covered := term{c: c, subs: s.t.subs, idx: s.t.idx}.quick()
	return covered
}

// getInts and putInts keep candidate lists for reuse (lookups nest).
func (r *runner) getInts() []int {
	if n := len(r.ints); n > 0 {
		b := r.ints[n-1]
		r.ints = r.ints[:n-1]
		return b
	}
	return nil
}

func (r *runner) putInts(b []int) { r.ints = append(r.ints, b[:0]) }

// shadow takes from h what entries before e take (lazily); false if
// nothing is left for certain. It asks e's own shadow list or the earlier
// candidates, whichever is shorter.
func (r *runner) shadow(h *state, e *entry, t *table, before []int, nested bool) bool {
	if len(e.shadows) <= len(before) {
		return r.shadowAll(h, e, nested)
	}
	for _, rk := range before {
		if g := t.entries[rk]; takes(g, e) && !r.shadowOne(h, g, nested) {
			return false
		}
	}
	return true
}

// shadowAll takes from h what every entry of e's shadow list takes. A
// long list's largest group of one mask (a default flow under 10,000
// node addresses) is taken as one indexed set where the class reads
// those bits as they are (no constant or alias on them).
func (r *runner) shadowAll(h *state, e *entry, nested bool) bool {
	list := e.shadows
	if !nested && len(list) > maxShadowList {
		g := r.p.groupOf(e)
		if x := g.indexFor(h.m, r.p.l.wv); x != nil {
			if x.size() > 0 {
				h.t.idx = append(h.t.idx, x)
			}
			list = g.rest
		}
	}
	for _, g := range list {
		if !r.shadowOne(h, g, nested) {
			return false
		}
	}
	return true
}

// shadowOne takes from h what g matches (a conjunction takes nothing in
// a conjunction's second lookup).
func (r *runner) shadowOne(h *state, g *entry, nested bool) bool {
	if nested && g.conj {
		return true
	}
	return h.exclude(g.c, g.shared(r.p.l.wv), r.p.l.wv)
}

// miss reports what no entry of the table matches: a black hole.
func (r *runner) miss(s *state, t *table, cands []int, sk sink) {
	m := s.clone()
	for _, rk := range cands {
		if e := t.entries[rk]; e.lowerShadow && !m.exclude(e.c, e.shared(r.p.l.wv), r.p.l.wv) {
			return
		}
	}
	if !m.t.empty() {
		sk.leaf(m, leaf{kind: leafMiss, table: t.id})
	}
}

// exec runs an entry on the class it got.
func (r *runner) exec(s *state, e *entry, sk sink) {
	s.trail = &hop{prev: s.trail, e: e}
	switch {
	case e.unmodelled() != "":
		sk.leaf(s, leaf{kind: leafUnmodelled, e: e, table: e.tab.id, why: e.unmodelled()})
	case e.conj:
		r.conjLookup(s, e, sk)
	default:
		r.run(s, e, 0, sk)
	}
}

// conjLookup is a conjunctive match's second lookup, with conj_id set.
func (r *runner) conjLookup(s *state, e *entry, sk sink) {
	if r.p.l.tracked(of.FieldConjID) {
		c := r.p.newCond()
		r.p.addMatch(c, of.FieldConjID, of.ExactUint(of.FieldConjID, uint64(e.conjID)).Value, of.ExactUint(of.FieldConjID, 0xffffffff).Value)
		s.m.set(c.mask, c.val)
	}
	r.lookup(s, e.tab, sk, e.conjID)
}

// restoreConj puts conj_id back as it was before the second lookup (OVS
// restores it: the actions see the packet's own).
func (r *runner) restoreConj(h, before *state) {
	if !r.p.l.tracked(of.FieldConjID) {
		return
	}
	sp := r.p.l.span(of.FieldConjID)
	ds := make([]desc, sp.width)
	for i := range ds {
		ds[i] = before.m.desc(sp.off + i)
	}
	h.m.write(sp.off, ds)
}

// run executes e's actions from the i-th on.
func (r *runner) run(s *state, e *entry, i int, sk sink) {
	for ; i < len(e.acts); i++ {
		a := &e.acts[i]
		switch a.kind {
		case of.KindSetField:
			s.m.setSparse(a.set)
			for _, wb := range a.set {
				s.wr[wb.i] |= wb.mask
			}
		case of.KindMove:
			s.m.move(a.dst, a.src, a.n)
			s.wroteRange(a.dst, a.n)
		case of.KindPushVLAN:
			r.p.pushVLAN(s)
		case of.KindPopVLAN:
			r.p.zero(s, of.FieldVLANTCI)
		case of.KindCTClear:
			r.p.ctClear(s)
		case of.KindOutput:
			sk.leaf(s, leaf{kind: leafEmit, port: a.port, inPort: a.port == of.PortInPort, e: e, table: e.tab.id})
			s.outs++
		case of.KindOutputReg:
			r.outputReg(s, e, i, sk)
			return
		case of.KindCT:
			if a.ct.a.Recirc {
				r.recirc(s.clone(), a.ct, sk)
			} else if !r.ctInline(s, a.ct, sk) {
				return
			}
		case of.KindGoto:
			r.table(s, a.table, sk)
			return
		case of.KindResubmit:
			r.resubmit(s, e, i, a.table, sk)
			return
		}
	}
	r.end(s, e, sk)
}

// end is the end of an action list: back to the resubmit that led here,
// or the end of the path.
func (r *runner) end(s *state, e *entry, sk sink) {
	if n := len(s.stack); n > 0 {
		f := s.stack[n-1]
		s.stack = s.stack[:n-1]
		r.run(s, f.e, f.i, sk)
		return
	}
	sk.leaf(s, leaf{kind: leafEnd, e: e, table: e.tab.id})
}

func (r *runner) resubmit(s *state, e *entry, i int, t uint8, sk sink) {
	if len(s.stack) >= maxResubmit {
		sk.leaf(s, leaf{kind: leafLoop, e: e, table: e.tab.id, why: fmt.Sprintf("resubmits nest deeper than %d", maxResubmit)})
		return
	}
	s.stack = append(s.stack, frame{e: e, i: i + 1})
	r.table(s, t, sk)
}

// pushVLAN pushes a tag: the TCI's present bit is set; VID and PCP stay
// (0 on an untagged frame, the old tag's on a tagged one, as OpenFlow's
// push_vlan copies them).
func (p *pipeline) pushVLAN(s *state) {
	sp := p.l.span(of.FieldVLANTCI)
	c := p.newCond()
	setBit(c.mask, sp.off+12, true)
	setBit(c.val, sp.off+12, true)
	s.m.set(c.mask, c.val)
	s.wrote(c.mask)
}

// outputReg sends the packet to the port a register holds: one branch per
// port of the node it may hold, and one for any other value (a port that
// does not exist), each going on with the rest of the actions.
func (r *runner) outputReg(s *state, e *entry, i int, sk sink) {
	a := &e.acts[i]
	if v, ok := s.value(a.src, a.n); ok {
		sk.leaf(s, leaf{kind: leafEmit, port: uint32(v), e: e, table: e.tab.id})
		s.outs++
		r.run(s, e, i+1, sk)
		return
	}
	rest := s.clone()
	for _, port := range r.in.ofportList() {
		b := s.clone()
		c := r.p.regIs(a.src, a.n, uint64(port))
		if !b.meet(c, nil, r.p.l.wv) || b.t.empty() {
			continue
		}
		rest.exclude(c, nil, r.p.l.wv)
		sk.leaf(b, leaf{kind: leafEmit, port: port, e: e, table: e.tab.id})
		b.outs++
		r.run(b, e, i+1, sk)
	}
	if !rest.t.empty() {
		sk.leaf(rest, leaf{kind: leafMiss, e: e, table: e.tab.id, why: "output to a register that holds no port of the node"})
		r.run(rest, e, i+1, sk)
	}
}

// regIs is the condition: bits off..off+n-1 hold v.
func (p *pipeline) regIs(off, n int, v uint64) cond {
	c := p.newCond()
	for j := 0; j < n; j++ {
		setBit(c.mask, off+j, true)
		setBit(c.val, off+j, v>>uint(j)&1 == 1)
	}
	return c
}
