package verify

import "math/bits"

// A state is a class of packets at one point of the pipeline: the current
// header as a mapping onto variables, the set of variable values (the
// class: a term over ingress header bits and conntrack's fresh values),
// and how it got there.
type state struct {
	m     mapping
	t     term
	wr    []uint64 // header bits written since the memo entry being recorded began
	rc    int      // conntrack recirculations so far: fresh blocks 1..rc are in use
	outs  int      // packets sent on this path since the recording began
	trail *hop     // flows crossed, newest first
	more  []*hop   // a composed class: the trails of the records after trail's, oldest first
	stack []frame  // where resubmits return to
}

// path is every hop of the class's path, oldest first.
func (s *state) path() []*hop {
	var out []*hop
	add := func(h *hop) {
		start := len(out)
		for ; h != nil; h = h.prev {
			out = append(out, h)
		}
		for i, j := start, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	add(s.trail)
	for _, seg := range s.more {
		add(seg)
	}
	return out
}

// frame is the rest of an action list a resubmit returns to.
type frame struct {
	e *entry
	i int
}

// clone is a copy of s, in one allocation but the struct; subtracted
// cubes, indexes and aliases are shared (appends to a copy reallocate).
func (s *state) clone() *state {
	w, h := len(s.m.cm), len(s.t.c)
	b := make([]uint64, 3*w+h)
	copy(b, s.m.cm)
	copy(b[w:], s.m.cv)
	copy(b[2*w:], s.wr)
	copy(b[3*w:], s.t.c)
	return &state{
		m:  mapping{cm: b[:w:w], cv: b[w : 2*w : 2*w], al: s.m.al[:len(s.m.al):len(s.m.al)]},
		t:  term{c: cube(b[3*w:]), subs: s.t.subs[:len(s.t.subs):len(s.t.subs)], idx: s.t.idx[:len(s.t.idx):len(s.t.idx)]},
		wr: b[2*w : 3*w : 3*w], rc: s.rc, outs: s.outs, trail: s.trail, stack: append([]frame(nil), s.stack...)}
}

// wrote records that header bits changed.
func (s *state) wrote(mask []uint64) {
	for i := range mask {
		s.wr[i] |= mask[i]
	}
}

func (s *state) wroteRange(off, n int) { setRange(s.wr, off, n) }

// A cond is a condition on the current header: bits under mask equal val
// (a flow's match, a field's value).
type cond struct{ mask, val []uint64 }

// verdict of a condition on a state.
type verdict uint8

const (
	never  verdict = iota // no packet of the class meets it
	always                // every packet of the class meets it
	some                  // the packets in the cube do
)

// translate is the condition c on the class: never, always, or the cube
// of variable values that meet it. shared, if not nil, is c's own cube
// (the identity translation), used when no constant or alias is in the way.
func (s *state) translate(c cond, shared cube, wv int) (verdict, cube) {
	for i := range c.mask {
		if (s.m.cv[i]^c.val[i])&c.mask[i]&s.m.cm[i] != 0 {
			return never, nil
		}
	}
	if shared != nil && !anyAnd(s.m.cm, c.mask) && (len(s.m.al) == 0 || !s.m.aliased(c.mask)) {
		return s.narrow(shared)
	}
	q := newCube(wv)
	v, m := q.val(), q.mask()
	ok := true
	eachBit(c.mask, func(b int) bool {
		d := s.m.desc(b)
		if d.konst {
			return true
		}
		want := getBit(c.val, b)
		if getBit(m, d.v) && getBit(v, d.v) != want {
			ok = false // one variable asked to be both: nothing meets it
			return false
		}
		setBit(m, d.v, true)
		setBit(v, d.v, want)
		return true
	})
	if !ok {
		return never, nil
	}
	if q.isUniverse() {
		return always, nil
	}
	return s.narrow(q)
}

// narrow judges a condition cube against the class's cube. The cube of
// some is q less the variables the class fixes already (to the values q
// asks: they overlap), so a constraint never repeats what the class
// knows: subtracted cubes then never touch a fixed variable, which the
// memo's keys rely on (abstracted fields, memo.go).
func (s *state) narrow(q cube) (verdict, cube) {
	switch {
	case !s.t.c.overlaps(q):
		return never, nil
	case s.t.c.within(q):
		return always, nil
	}
	return some, q.beyond(s.t.c)
}

// meet narrows the state to the packets meeting c; false if none do (the
// state is then unusable).
func (s *state) meet(c cond, shared cube, wv int) bool {
	switch v, q := s.translate(c, shared, wv); v {
	case never:
		return false
	case some:
		return s.t.c.and(q)
	}
	return true
}

// exclude removes the packets meeting c from the state (lazily); false if
// that leaves certainly none.
func (s *state) exclude(c cond, shared cube, wv int) bool {
	switch v, q := s.translate(c, shared, wv); v {
	case always:
		return false
	case some:
		s.t.subs = append(s.t.subs, q)
	}
	return true
}

// valueUnder is the bits under mask of the field at off (at most 64
// bits) when the class fixes all of them (the others read as 0).
func (s *state) valueUnder(off int, mask uint64) (uint64, bool) {
	if sp := (span{off: off, width: 64 - bits.LeadingZeros64(mask)}); sp.width > 0 && !s.m.aliasedRange(off, sp.width) {
		cm, cv := bitsAt(s.m.cm, sp), bitsAt(s.m.cv, sp)
		if (cm|bitsAt(s.t.c.mask(), sp))&mask != mask {
			return 0, false
		}
		return (cm&cv | ^cm&bitsAt(s.t.c.val(), sp)) & mask, true
	}
	var x uint64
	for m := mask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		d := s.m.desc(off + i)
		b := d.val
		if !d.konst {
			known, val := s.t.c.get(d.v)
			if !known {
				return 0, false
			}
			b = val
		}
		if b {
			x |= 1 << uint(i)
		}
	}
	return x, true
}

// value is bits off..off+n-1 (n <= 64) when the class fixes all of them.
func (s *state) value(off, n int) (uint64, bool) {
	var x uint64
	for i := 0; i < n; i++ {
		d := s.m.desc(off + i)
		b := d.val
		if !d.konst {
			known, val := s.t.c.get(d.v)
			if !known {
				return 0, false
			}
			b = val
		}
		if b {
			x |= 1 << uint(i)
		}
	}
	return x, true
}
