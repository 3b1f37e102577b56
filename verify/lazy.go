package verify

// Lazy records. A memo entry of a table with thousands of flows a class
// meets (ToNode's node addresses, Forward's remote blocks) has a record
// per flow, and each record holds a whole state: at 10,000 nodes that is
// most of the verifier's memory, for records read once or twice (to build
// a summary). So such an entry is recorded lightly (or, if recorded in
// full, made lazy after): it keeps only the relaxed class it was recorded
// from and runs of the flows of its table the class met, with how many
// records each made; a flow's records are computed again (step) when a
// summary or a replay reads them. The class that made the entry record
// gets its summary as the records come (memo.go, streamed). Computed
// again, a flow's records may differ in form — a child recorded since is
// reused where the recording followed it — never in what they say: the
// memo is exact (TestMemoChangesNothing, with entries lazy from two
// records on).

// lazyMin is the fewest records (or flows a class may meet) that make an
// entry lazy (tests lower it: runner.lazyMin).
const lazyMin = 64

// segment is the records a run of flows of the entry's table made:
// flows consecutive flows (by rank) from e, each making each records; or
// records kept as they are (e nil: what no flow matched). ToNode's 10,000
// node addresses, one record each, are one segment.
type segment struct {
	e           *entry
	flows, each int32
	recs        []record
}

// lazify turns a recorded entry's records into segments, if it has many
// and none of them is a loop (a loop depends on what was being recorded
// at the time, so it may not come again).
func (me *memoEntry) lazify(base *state, t *table, min int) {
	if len(me.recs) < min {
		return
	}
	recs := me.recs
	me.recs = nil
	for i := range recs {
		if recs[i].lf.kind == leafLoop {
			me.recs, me.segs, me.n = recs, nil, 0
			return
		}
		me.add(firstEntry(recs[i].trail), recs[i:i+1:i+1])
	}
	me.base, me.tab = base, t
}

// counted counts a light recording's record of s in the segment of the
// flow it starts with; false if it starts with none (the table's black
// hole: the record is kept as it is).
func (me *memoEntry) counted(s *state) bool {
	e := firstEntry(s.trail)
	if e == nil {
		return false
	}
	me.add(e, nil)
	return true
}

// add counts one record of flow e (e nil: a kept record, in a segment of
// its own): in the last segment if it fits its run, else in a new one.
func (me *memoEntry) add(e *entry, keep []record) {
	me.n++
	if e == nil {
		me.segs = append(me.segs, segment{recs: keep})
		return
	}
	if k := len(me.segs) - 1; k >= 0 && me.segs[k].e != nil {
		sg := &me.segs[k]
		last := sg.e.rank + sg.flows - 1
		switch {
		case e.rank == last && sg.flows == 1: // one more record of the run's only flow
			sg.each++
			return
		case e.rank == last: // a run of flows of one record each: this one has two
			sg.flows--
			me.segs = append(me.segs, segment{e: e, flows: 1, each: 2})
			return
		case e.rank == last+1 && sg.each == 1 && e.tab == sg.e.tab:
			sg.flows++
			return
		}
	}
	me.segs = append(me.segs, segment{e: e, flows: 1, each: 1})
}

// firstEntry is the flow of the entry's own table a path starts with
// (nil if it starts with none: the table's black hole).
func firstEntry(trail *hop) *entry {
	var first *hop
	for h := trail; h != nil; h = h.prev {
		first = h
	}
	if first == nil {
		return nil
	}
	return first.e
}

// each calls f on every record of me in order, until f returns false;
// false then.
func (r *runner) each(me *memoEntry, f func(*record) bool) bool {
	if me.segs == nil {
		for i := range me.recs {
			if !f(&me.recs[i]) {
				return false
			}
		}
		return true
	}
	for _, sg := range me.segs {
		if sg.e == nil {
			for i := range sg.recs {
				if !f(&sg.recs[i]) {
					return false
				}
			}
			continue
		}
		for k := int32(0); k < sg.flows; k++ {
			recs := r.step(me, me.tab.entries[sg.e.rank+k])
			for i := range recs {
				if !f(&recs[i]) {
					return false
				}
			}
		}
	}
	return true
}

// materialize keeps every record of a lazy entry (an entry replayed
// class by class is read too often to compute again each time).
func (r *runner) materialize(me *memoEntry) {
	if me.segs == nil {
		return
	}
	var recs []record
	r.each(me, func(rec *record) bool { recs = append(recs, *rec); return true })
	me.recs, me.segs, me.base = recs, nil, nil
}

// step computes the records of a segment from the relaxed class, as the
// lookup that recorded the entry did. They may differ in form from what
// the recording saw (a child recorded since is reused where it was
// followed), never in what they say: the memo is exact.
func (r *runner) step(me *memoEntry, e *entry) []record {
	tmp := &memoEntry{}
	s := me.base
	v, q := s.translate(e.c, e.shared(r.p.l.wv), r.p.l.wv)
	h := s.clone()
	if v == some {
		h.t.c.and(q)
	}
	if v != never && r.shadowAll(h, e, false) && !h.t.empty() {
		r.exec(h, e, recorder{me: tmp, again: true})
	}
	return tmp.recs
}
