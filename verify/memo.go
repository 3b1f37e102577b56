package verify

import (
	"encoding/binary"
	"hash/maphash"
)

// Memoization. What a table does to a class depends only on the header
// bits it and the tables after it read (table.reads): two classes that
// agree there take the same paths with the same conditions on those bits.
// The first such class is followed with its other variables left free
// (relaxed) and what happens is recorded relative to it; every class with
// the same key reuses the record. Sound and exact when the class is
// separable: its projection onto the read variables is what the key
// holds (key.go says how keys are made canonical, and when a class is
// followed itself instead).
//
// A key is recorded the second time it is met, or at once where that
// pays (see viaMemo); an entry with thousands of records keeps them lazy
// (lazy.go).
//
// This is what makes a node with 200 pods and 10,000 remote nodes cheap:
// the pods of one domain reach Conntrack with equal keys (their own MAC,
// address and in_port are not read, or not told apart, after it), every
// conntrack state is one class until Output tells +new apart, and the
// tunnel's classes of 10,000 VTEPs meet again in Conntrack.

// memoEntry is what one table does to a relaxed class.
type memoEntry struct {
	id   int
	busy bool // being recorded: meeting it again is a loop
	recs []record
	vr   []uint64 // the variables the key covers
	sums map[string]*summary
	refs bool // some record reuses another entry
	// A lazy entry (lazy.go) keeps, instead of recs, the class it was
	// recorded from (base, at table tab) and its records' segments.
	n     int
	base  *state
	tab   *table
	segs  []segment
	loops bool // a light recording met a loop
}

// smallEntry: an entry of this few leaves (and no reuse in it) is cheaper
// to replay for each class than to summarize (a summary pays off when
// many classes share it: the Output table's two leaves seldom are).
const smallEntry = 4

func (me *memoEntry) small() bool { return !me.refs && me.count() <= smallEntry }

// count is how many records the entry has.
func (me *memoEntry) count() int {
	if me.segs != nil {
		return me.n
	}
	return len(me.recs)
}

// record is one thing the relaxed class did: a leaf, or the reuse of
// another entry (child), with the state at that point relative to the
// entry's start (the bits written since, the constraints added, the hops).
type record struct {
	lf    leaf
	child *memoEntry
	m     mapping
	wr    []uint64
	t     term
	trail *hop
	outs  int
	rc    int
}

// recorder is the sink that records into an entry. A light one (a wide
// entry's, lazy.go) keeps only each record's segment; a forcing one
// records every child entry it meets (see viaMemo).
type recorder struct {
	me           *memoEntry
	light, force bool
	again        bool      // a lazy entry's records computed again: record no child
	sum          *streamed // light: the summary to add each record to
}

// forcing reports whether sk records every child it meets.
func forcing(sk sink) bool { rc, ok := sk.(recorder); return ok && rc.force }

// again reports whether sk computes records again (step).
func again(sk sink) bool { rc, ok := sk.(recorder); return ok && rc.again }

// leaf records a leaf. A packet sent, or a register's unknown port, goes
// on with the rest of the actions, so its state is copied; every other
// leaf ends its path and the record takes the state as it is.
func (rc recorder) leaf(s *state, l leaf) {
	if rc.light && l.kind == leafLoop {
		rc.me.loops = true
	}
	if l.kind == leafEmit || l.kind == leafMiss {
		if rc.light && rc.sum == nil && firstEntry(s.trail) != nil {
			rc.me.add(firstEntry(s.trail), nil)
			return
		}
		s = s.clone()
	}
	rec := snapshot(s, l, nil)
	if rc.light {
		rc.sum.add(rec)
		if rc.me.counted(s) {
			return
		}
	}
	rc.keep(rec)
}

// reuse records the reuse of another entry; the path ends here, so the
// record takes the state.
func (rc recorder) reuse(s *state, me *memoEntry) {
	rc.me.refs = true
	rec := snapshot(s, leaf{}, me)
	if rc.light {
		rc.sum.add(rec)
		if rc.me.counted(s) {
			return
		}
	}
	rc.keep(rec)
}

// keep keeps a record: in the list, or (light) in a segment of its own.
func (rc recorder) keep(rec record) {
	if rc.light {
		rc.me.add(nil, []record{rec})
		return
	}
	rc.me.recs = append(rc.me.recs, rec)
}

func snapshot(s *state, l leaf, child *memoEntry) record {
	return record{lf: l, child: child, m: s.m, wr: s.wr, t: s.t, trail: s.trail, outs: s.outs, rc: s.rc}
}

// wide reports whether the class may meet r.lazyMin flows of t or more.
func (r *runner) wide(s *state, t *table) bool {
	cands := t.idx.queryInto(r.getInts(), func(sp span) prefix { return statePrefix(s, sp) })
	defer r.putInts(cands)
	return len(cands) >= r.lazyMin
}

// keyHash is a key's hash.
func (r *runner) keyHash(k []byte) uint64 { return maphash.Bytes(r.seed, k) }

// viaMemo follows the class through table t by way of the memo.
//
// A key seen once is followed directly: most (a pod's classes before
// Forward, each start, a VTEP's in TunnelVNI) are never seen again, and
// recording them would only cost memory. (Only a hash of the key is kept:
// a collision costs an entry recorded early, nothing else.) Two
// exceptions record it at once: inside a forcing recording (what the
// class does would be recorded in the parent's entry, once per class the
// parent's records lead here), and where the class meets so many flows
// that following it twice would cost more than the entry, which is then
// lazy (lazy.go) — but for a source's start, which no other class has.
func (r *runner) viaMemo(s *state, t *table, k []byte, vr []uint64, sk sink) {
	me := r.memo[string(k)]
	switch {
	case me == nil:
		if again(sk) { // as the recording did, or as a child since recorded would
			r.lookup(s, t, sk, 0)
			return
		}
		wide := s.trail != nil && r.wide(s, t) // a source's start is its own
		if h := r.keyHash(k); !r.seen[h] && !forcing(sk) && !wide {
			r.seen[h] = true // a collision costs an entry recorded early, nothing else
			r.lookup(s, t, sk, 0)
			return
		}
		me = &memoEntry{id: len(r.memo), vr: append([]uint64(nil), vr...)}
		r.memo[string(k)] = me
		r.computed++
		base := r.relax(s, t, me.vr)
		if ev, judging := sk.(evaluator); wide && judging {
			r.recordJudging(me, base, t, ev.ctx, s)
		} else {
			r.record(me, base, t, nil, wide, !wide)
		}
	case me.busy:
		sk.leaf(s, leaf{kind: leafLoop, table: t.id, why: "a recirculation or resubmit comes back to this table with the same class"})
		return
	}
	sk.reuse(s, me)
}

// record records what table t does to the relaxed class base into me:
// lightly (then the children follow their own rule), or in full, with
// every child recorded if force. A light recording that meets a loop is
// done again in full: a loop depends on what is being recorded at the
// time. A full one of many records is made lazy.
func (r *runner) record(me *memoEntry, base *state, t *table, sum *streamed, light, force bool) {
	me.busy = true
	defer func() { me.busy = false }()
	if light {
		me.base, me.tab = base, t
		r.lookup(base, t, recorder{me: me, light: true, sum: sum}, 0)
		if !me.loops {
			return
		}
		me.recs, me.segs, me.n, me.base, me.refs = nil, nil, 0, nil, false
		if sum != nil {
			sum.ok = false
		}
	}
	r.lookup(base, t, recorder{me: me, force: force}, 0)
	if force {
		me.lazify(base, t, r.lazyMin)
	}
}

// streamed is the summary of a lightly recorded entry for the class that
// made it record, built record by record as they come (summaryOf would
// compute them all again at once).
type streamed struct {
	r   *runner
	ctx *context
	s   *state
	sum *summary
	ok  bool
}

func (st *streamed) add(rec record) {
	if st != nil && st.ok {
		st.ok = st.r.summarize(st.ctx, st.s, &rec, st.sum, nil)
	}
}

// recordJudging records a wide entry lightly for class s of ctx, and
// keeps s's summary of it, made as the records came.
func (r *runner) recordJudging(me *memoEntry, base *state, t *table, ctx *context, s *state) {
	sig, ok := r.sig.destSig(s, ctx.policy)
	if !ok {
		r.record(me, base, t, nil, true, false)
		return
	}
	key := string(sig)
	st := &streamed{r: r, ctx: ctx, s: s, sum: &summary{}, ok: true}
	r.record(me, base, t, st, true, false)
	if st.ok && !me.small() {
		if me.sums == nil {
			me.sums = map[string]*summary{}
		}
		me.sums[key] = st.sum
	}
}

// compose is s followed by what a record says happened after it. The
// result is only read (judged, summarized, witnessed), never followed
// through tables, so it shares what it can with s and the record.
func compose(s *state, rec *record) *state {
	out := &state{m: s.m, t: s.t.andShared(rec.t), rc: rec.rc, outs: s.outs + rec.outs, trail: s.trail, more: s.more}
	if !isZero(rec.wr) {
		out.m = s.m.overlay(rec.m, rec.wr)
	}
	if rec.trail != nil {
		out.more = append(s.more[:len(s.more):len(s.more)], rec.trail)
	}
	return out
}

func appendWords(b []byte, ws ...uint64) []byte {
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
