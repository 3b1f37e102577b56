package verify

import (
	"encoding/binary"
	"sort"
)

// Memoization. What a table does to a class depends only on the header
// bits it and the tables after it read (table.reads): two classes that
// agree there — the same constants, the same variables with the same
// constraints — take the same paths with the same conditions on those
// variables. The first such class is followed with its other variables
// left free (relaxed) and what happens is recorded relative to it; every
// class with the same key reuses the record. Sound and exact when the
// class is separable: each subtracted cube constrains either only read
// variables or none (otherwise the class is followed itself).
//
// A key is recorded the second time it is met (see viaMemo).
//
// This is what makes a node with 200 pods and 10,000 remote nodes cheap:
// the pods of one domain reach Forward with equal keys (their own MAC and
// address are not read there), and so do the tunnel's classes of 10,000
// VTEPs in TunnelVNI.

// memoEntry is what one table does to a relaxed class.
type memoEntry struct {
	id   int
	busy bool // being recorded: meeting it again is a loop
	recs []record
	vr   []uint64 // the variables the key covers
	sums map[string]*summary
	refs bool // some record reuses another entry
}

// smallEntry: an entry of this few leaves (and no reuse in it) is cheaper
// to replay for each class than to summarize (a summary pays off when
// many classes share it: the Output table's two leaves seldom are).
const smallEntry = 4

func (me *memoEntry) small() bool { return !me.refs && len(me.recs) <= smallEntry }

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

// recorder is the sink that records into an entry.
type recorder struct{ me *memoEntry }

// leaf records a leaf. A packet sent, or a register's unknown port, goes
// on with the rest of the actions, so its state is copied; every other
// leaf ends its path and the record takes the state as it is.
func (rc recorder) leaf(s *state, l leaf) {
	if l.kind == leafEmit || l.kind == leafMiss {
		s = s.clone()
	}
	rc.me.recs = append(rc.me.recs, snapshot(s, l, nil))
}

// reuse records the reuse of another entry; the path ends here, so the
// record takes the state.
func (rc recorder) reuse(s *state, me *memoEntry) {
	rc.me.refs = true
	rc.me.recs = append(rc.me.recs, snapshot(s, leaf{}, me))
}

func snapshot(s *state, l leaf, child *memoEntry) record {
	return record{lf: l, child: child, m: s.m, wr: s.wr, t: s.t, trail: s.trail, outs: s.outs, rc: s.rc}
}

// key is the class's key at table t, the variables it covers, and
// whether the class is separable.
func (r *runner) key(s *state, t *table) ([]byte, []uint64, bool) {
	vr := r.kvars
	for i := range vr {
		vr[i] = 0
	}
	b := append(r.buf[:0], t.id, byte(s.rc))
	if !s.m.aliased(t.reads) {
		b = append(b, 'i')
		for i, rd := range t.reads {
			vr[i] = rd &^ s.m.cm[i]
			b = appendWords(b, rd&s.m.cm[i], rd&s.m.cm[i]&s.m.cv[i])
		}
	} else {
		b = append(b, 'a')
		eachBit(t.reads, func(bit int) bool {
			d := s.m.desc(bit)
			if d.konst {
				b = binary.AppendVarint(b, int64(-1-boolInt(d.val)))
			} else {
				setBit(vr, d.v, true)
				b = binary.AppendVarint(binary.AppendVarint(b, int64(bit)), int64(d.v))
			}
			return true
		})
	}
	c := s.t.c
	for i := range vr {
		b = appendWords(b, c.mask()[i]&vr[i], c.val()[i]&vr[i])
	}
	b, ok := r.keySubs(b, s, vr)
	r.buf = b
	return b, vr, ok
}

// keySubs appends the subtracted cubes over read variables (sorted:
// their order does not matter); false if one mixes read and other variables.
func (r *runner) keySubs(b []byte, s *state, vr []uint64) ([]byte, bool) {
	var in []cube
	for _, q := range s.t.subs {
		switch mixes(q.mask(), vr) {
		case mixed:
			return b, false
		case inside:
			in = append(in, q)
		}
	}
	sort.Slice(in, func(i, j int) bool { return cubeLess(in[i], in[j]) })
	for _, q := range in {
		b = appendWords(append(b, '|'), q...)
	}
	for _, x := range s.t.idx {
		switch mixes(x.care, vr) {
		case mixed:
			return b, false
		case inside:
			b = binary.AppendUvarint(append(b, '#'), uint64(r.idxID(x)))
		}
	}
	return b, true
}

// cubeLess is an order of cubes (for canonical keys).
func cubeLess(a, b cube) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

type side uint8

const (
	outside side = iota
	inside
	mixed
)

// mixes says where a care mask lies against the read variables.
func mixes(care, vr []uint64) side {
	in, out := false, false
	for i := range care {
		in = in || care[i]&vr[i] != 0
		out = out || care[i]&^vr[i] != 0
	}
	switch {
	case in && out:
		return mixed
	case in:
		return inside
	}
	return outside
}

// relax is the class with only what the key covers: the read variables'
// constraints and the subtracted cubes over them; nothing written yet.
func relax(s *state, vr []uint64) *state {
	c := newCube(len(vr))
	for i := range vr {
		c.mask()[i] = s.t.c.mask()[i] & vr[i]
		c.val()[i] = s.t.c.val()[i] & vr[i]
	}
	t := term{c: c}
	for _, q := range s.t.subs {
		if mixes(q.mask(), vr) == inside {
			t.subs = append(t.subs, q)
		}
	}
	for _, x := range s.t.idx {
		if mixes(x.care, vr) == inside {
			t.idx = append(t.idx, x)
		}
	}
	return &state{m: s.m.clone(), t: t, wr: make([]uint64, len(s.wr)), rc: s.rc}
}

// viaMemo follows the class through table t by way of the memo.
func (r *runner) viaMemo(s *state, t *table, k []byte, vr []uint64, sk sink) {
	me := r.memo[string(k)]
	switch {
	case me == nil && !r.seen[string(k)]:
		// A key seen once is followed directly: most (a pod's classes
		// before Forward, each start) are never seen again, and recording
		// them would only cost memory.
		r.seen[string(k)] = true
		r.lookup(s, t, sk, 0)
		return
	case me == nil:
		me = &memoEntry{id: len(r.memo), busy: true, vr: append([]uint64(nil), vr...)}
		r.memo[string(k)] = me
		r.computed++
		r.lookup(relax(s, me.vr), t, recorder{me}, 0)
		me.busy = false
	case me.busy:
		sk.leaf(s, leaf{kind: leafLoop, table: t.id, why: "a recirculation or resubmit comes back to this table with the same class"})
		return
	}
	sk.reuse(s, me)
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
