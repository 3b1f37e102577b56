package verify

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

func (s *state) clone() *state {
	return &state{m: s.m.clone(), t: s.t.clone(), wr: append([]uint64(nil), s.wr...), rc: s.rc, outs: s.outs,
		trail: s.trail, stack: append([]frame(nil), s.stack...)}
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

// narrow judges a condition cube against the class's cube.
func (s *state) narrow(q cube) (verdict, cube) {
	switch {
	case !s.t.c.overlaps(q):
		return never, nil
	case s.t.c.within(q):
		return always, nil
	}
	return some, q
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
