package verify

// A term is a set of points of the variable space: a cube less the union
// of other cubes (HSA's lazy subtraction: the subtrahends are kept, not
// expanded, and the set is only enumerated when asked whether it is empty
// or for a point). Subtracted cubes are shared, never changed.
type term struct {
	c    cube
	subs []cube
	idx  []*subIndex // large subtrahend sets, indexed
}

func (t term) clone() term {
	return term{c: t.c.clone(), subs: append([]cube(nil), t.subs...), idx: append([]*subIndex(nil), t.idx...)}
}

// and is t narrowed to u (both over the same variables).
func (t term) and(u term) (term, bool) {
	c := t.c.clone()
	if !c.and(u.c) {
		return term{}, false
	}
	return term{c: c, subs: append(append([]cube(nil), t.subs...), u.subs...), idx: append(append([]*subIndex(nil), t.idx...), u.idx...)}, true
}

// andShared is t narrowed to u, sharing t's parts where u adds nothing
// to them (for classes that are only read, never changed).
func (t term) andShared(u term) term {
	out := t
	if !t.c.within(u.c) {
		out.c = t.c.clone()
		if !out.c.and(u.c) {
			return term{c: t.c, subs: []cube{t.c}} // no point: a key-equal class never gets here
		}
	}
	if len(u.subs) > 0 {
		out.subs = append(t.subs[:len(t.subs):len(t.subs)], u.subs...)
	}
	if len(u.idx) > 0 {
		out.idx = append(t.idx[:len(t.idx):len(t.idx)], u.idx...)
	}
	return out
}

// searchBudget bounds the work of one emptiness check. Past it the term
// counts as non-empty: reachability is over-approximated, never under.
const searchBudget = 200000

// point finds a cube inside t that no subtracted cube touches (any of its
// points is in t), and whether t is non-empty. exact is false when the
// budget ran out: t was taken to be non-empty without a point.
func (t term) point() (p cube, ok, exact bool) {
	if clear, covered := t.quick(); clear || covered {
		return t.c, clear, true
	}
	budget := searchBudget
	subs := t.subs
	for _, x := range t.idx {
		subs = append(append([]cube(nil), subs...), x.candidates(t.c)...)
	}
	p, ok = search(t.c, subs, &budget)
	if budget < 0 {
		return t.c, true, false
	}
	return p, ok, true
}

// empty reports whether t has no point (false also when unsure).
func (t term) empty() bool {
	_, ok, _ := t.point()
	return !ok
}

// quickTries bounds quick's walk.
const quickTries = 16

// quick settles the common cases without a search: a walk from c's point
// with every free variable 0 that, while a subtracted cube holds the
// point, flips one of the free variables that cube asks for, finds a
// point of t (clear); or one cube covers c (covered). Neither: unsure.
// An index's cubes are looked at as its members (none is made whole but
// one that holds the point).
func (t term) quick() (clear, covered bool) {
	c := t.c
	h := c.half()
	var buf [32]uint64
	if h > len(buf) {
		return false, false
	}
	x := buf[:h] // the free variables' values
	for _, q := range t.subs {
		if c.overlaps(q) && c.within(q) {
			return false, true
		}
	}
	type indexed struct {
		x  *subIndex
		ms []member
	}
	var ixs []indexed
	for _, ix := range t.idx {
		ms := ix.members(c, nil)
		for _, m := range ms {
			if _, cov := ix.holds(m, c, x); cov {
				return false, true
			}
		}
		ixs = append(ixs, indexed{ix, ms})
	}
	holder := func() cube {
		for _, q := range t.subs {
			if holds(c, q, x) {
				return q
			}
		}
		for _, ix := range ixs {
			for _, m := range ix.ms {
				if held, _ := ix.x.holds(m, c, x); held {
					return ix.x.cube(m)
				}
			}
		}
		return nil
	}
	for try := 0; try < quickTries; try++ {
		q := holder()
		if q == nil {
			return true, false
		}
		// Flip a free variable q asks for: the first whose flip leaves
		// the point in no cube, else the first one.
		fi, fb := -1, uint64(0)
		for i := 0; i < h; i++ {
			for free := q[h+i] &^ c[h+i]; free != 0; free &= free - 1 {
				b := free & -free
				if fi < 0 {
					fi, fb = i, b
				}
				x[i] ^= b
				if holder() == nil {
					return true, false
				}
				x[i] ^= b
			}
		}
		x[fi] ^= fb
	}
	return false, false
}

// holds reports whether q holds the point of c whose free variables are x.
func holds(c, q cube, x []uint64) bool {
	h := c.half()
	for i := 0; i < h; i++ {
		if (q[i]^c[i])&q[h+i]&c[h+i] != 0 || (q[i]^x[i])&(q[h+i]&^c[h+i]) != 0 {
			return false
		}
	}
	return true
}

// search is the depth-first search behind point: split c along the first
// relevant subtrahend's care bits, one branch per bit where c and it
// differ, until no subtrahend is left.
func search(c cube, subs []cube, budget *int) (cube, bool) {
	*budget--
	if *budget < 0 {
		return c, true
	}
	rel, best := relevant(c, subs)
	if rel == nil {
		if best < 0 {
			return nil, false
		}
		return c, true
	}
	s := rel[best]
	rest := append(append(make([]cube, 0, len(rel)-1), rel[:best]...), rel[best+1:]...)
	h := c.half()
	cur := c.clone()
	var found cube
	ok := false
	free := make([]uint64, h)
	for i := 0; i < h; i++ {
		free[i] = s[h+i] &^ c[h+i]
	}
	eachBit(free, func(v int) bool {
		br := cur.clone()
		sv := getBit(s[:h], v)
		br.fix(v, !sv)
		if p, hit := search(br, rest, budget); hit {
			found, ok = p, true
			return false
		}
		cur.fix(v, sv)
		return *budget >= 0
	})
	return found, ok
}

// relevant is the subtrahends that overlap c, and the index of the one
// with the fewest care bits c leaves free (the cheapest split); best is -1
// with rel nil if one of them covers c (the term is empty).
func relevant(c cube, subs []cube) (rel []cube, best int) {
	best, fewest := 0, 1<<30
	for _, s := range subs {
		if !c.overlaps(s) {
			continue
		}
		if c.within(s) {
			return nil, -1
		}
		n := freeBits(c, s)
		if n < fewest {
			best, fewest = len(rel), n
		}
		rel = append(rel, s)
	}
	return rel, best
}

func freeBits(c, s cube) int {
	h := c.half()
	n := 0
	for i := 0; i < h; i++ {
		n += popCount([]uint64{s[h+i] &^ c[h+i]})
	}
	return n
}
