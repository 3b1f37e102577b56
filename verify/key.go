package verify

import (
	"encoding/binary"
	"math/bits"
	"sort"
)

// Memo keys. A class's key at a table is what its future depends on: the
// header bits the table and the tables after it read (table.reads) and
// the subtracted cubes over the variables among them. The key is
// canonical, so that classes alike where the tables ahead look share it:
//
//   - A read bit is a constant when the mapping makes it one or when its
//     variable is fixed in the class (a match fixed it: a pod's in_port,
//     the VNI a tunnel packet arrived with, ct_state after conntrack), and
//     then it is keyed by its value; only a free variable is keyed by
//     which variable it is. The relaxed class an entry is recorded from
//     has those bits as constants, so its records constrain no variable
//     a class fixes.
//   - A field the tables ahead only match (never move, output, use as a
//     zone or write in part: partialWrites), with few distinct value/mask
//     pairs (an atomField), is
//     keyed, where the class fixes it, by which pairs its value meets,
//     not by the value (atomic predicates, Yang and Lam, ICNP 2013, per
//     field): a pod's in_port where Output tells only the host ports
//     apart, ct_state where only +new or +rpl matters, the steering mark
//     where Forward tells only the host ports apart. Every value of an
//     atom takes the same paths ahead; the entry is recorded from the
//     first class's value and holds no constraint on it.
//   - A subtracted cube is keyed without the variables the class fixes
//     (it agrees with them, or takes nothing: then it is left out).
//   - A subtracted cube that mixes read and unread variables (a drop of
//     UDP 4789 subtracted from a class whose future reads the ethertype
//     but not the port) does not keep a class from being keyed if its
//     unread variables can avoid every such cube at once (unreadFree):
//     then the class's projection onto the read variables is what the
//     key holds, and the record made from it is exact for the class
//     (separable).

// keyScratch is the runner's scratch space for keys.
type keyScratch struct {
	buf   []byte
	vars  []uint64 // the free variables the key covers
	ab    []uint64 // header bits of abstracted fields
	kn    []uint64 // header words: constant read bits
	kv    []uint64 // and their values
	abs   []atomValue
	in    []cube
	mix   []cube
	arena []uint64 // unreadFree's projections
}

func newKeyScratch(w, wv int) keyScratch {
	return keyScratch{vars: make([]uint64, wv), ab: make([]uint64, wv), kn: make([]uint64, w), kv: make([]uint64, w)}
}

// atomValue is an atom field a class fixes, and which pairs its value meets.
type atomValue struct {
	af  *atomField
	sig uint64
}

// key is the class's key at table t, the free variables it covers
// (scratch: valid until the next key), and whether the class is separable.
func (r *runner) key(s *state, t *table) ([]byte, []uint64, bool) {
	k := &r.k
	clear(k.vars)
	clear(k.ab)
	abs := r.fixedAtoms(s, t)
	b := append(k.buf[:0], t.id, byte(s.rc))
	if r.freeAliased(s, t.reads) {
		b = r.headerAliased(b, s, t)
	} else {
		b = r.headerPlain(b, s, t)
	}
	b = append(b, byte(len(abs)))
	for _, a := range abs {
		b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(a.af.id)), a.sig)
	}
	b, ok := r.keySubs(b, s)
	k.buf = b
	return b, k.vars, ok
}

// fixedAtoms are t's atom fields the class fixes, with their signatures;
// their bits go into the scratch mask ab.
func (r *runner) fixedAtoms(s *state, t *table) []atomValue {
	out := r.k.abs[:0]
	for i := range t.atoms {
		af := &t.atoms[i]
		v, ok := s.valueUnder(af.sp.off, af.care)
		if !ok {
			continue
		}
		out = append(out, atomValue{af: af, sig: af.sig(v)})
		for m := af.care; m != 0; m &= m - 1 {
			setBit(r.k.ab, af.sp.off+bits.TrailingZeros64(m), true)
		}
	}
	r.k.abs = out
	return out
}

// fixedVar reports whether the class fixes variable v, and to what.
func (s *state) fixedVar(v int) (bool, bool) { return s.t.c.get(v) }

// freeAliased reports whether a bit of mask is another variable than its
// own, and a free one (a fixed one is keyed as a constant).
func (r *runner) freeAliased(s *state, mask []uint64) bool {
	for _, sg := range s.m.al {
		for b := sg.dst; b < sg.dst+sg.n; b++ {
			if getBit(mask, int(b)) {
				if known, _ := s.fixedVar(int(sg.src + b - sg.dst)); !known {
					return true
				}
			}
		}
	}
	return false
}

// headerPlain keys the read bits when none is a free alias: a word of
// which are constants (fixed variables too) and their values; every
// other read bit is its own free variable.
func (r *runner) headerPlain(b []byte, s *state, t *table) []byte {
	k := &r.k
	c := s.t.c
	for i, rd := range t.reads {
		rd &^= k.ab[i]
		k.kn[i] = rd & (s.m.cm[i] | c.mask()[i])
		k.kv[i] = rd & (s.m.cm[i]&s.m.cv[i] | ^s.m.cm[i]&c.val()[i])
	}
	for _, sg := range s.m.al { // aliases of fixed variables: their values
		for bit := sg.dst; bit < sg.dst+sg.n; bit++ {
			if getBit(t.reads, int(bit)) && !getBit(k.ab, int(bit)) {
				_, val := s.fixedVar(int(sg.src + bit - sg.dst))
				setBit(k.kn, int(bit), true)
				setBit(k.kv, int(bit), val)
			}
		}
	}
	b = append(b, 'i')
	for i, rd := range t.reads {
		k.vars[i] = rd &^ k.ab[i] &^ k.kn[i]
		b = appendWords(b, k.kn[i], k.kv[i])
	}
	return b
}

// headerAliased keys the read bits one by one: a constant (a fixed
// variable too) and its value, or the free variable it is.
func (r *runner) headerAliased(b []byte, s *state, t *table) []byte {
	k := &r.k
	b = append(b, 'a')
	eachBit(t.reads, func(bit int) bool {
		if getBit(k.ab, bit) {
			return true
		}
		d := s.m.desc(bit)
		if !d.konst {
			if known, val := s.fixedVar(d.v); known {
				d = desc{konst: true, val: val}
			}
		}
		if d.konst {
			b = binary.AppendVarint(b, int64(-1-boolInt(d.val)))
		} else {
			setBit(k.vars, d.v, true)
			b = binary.AppendVarint(binary.AppendVarint(b, int64(bit)), int64(d.v))
		}
		return true
	})
	return b
}

// keySubs appends the subtracted cubes over the key's free variables
// (sorted: their order does not matter); false if the class is not
// separable.
func (r *runner) keySubs(b []byte, s *state) ([]byte, bool) {
	in, mix, ok := r.effectiveSubs(s, r.k.vars, r.k.in[:0], r.k.mix[:0])
	r.k.in, r.k.mix = in[:0], mix[:0]
	if !ok {
		return b, false
	}
	sort.Slice(in, func(i, j int) bool { return cubeLess(in[i], in[j]) })
	for _, q := range in {
		b = appendWords(append(b, '|'), q...)
	}
	for _, x := range s.t.idx {
		if within(x.care, r.k.vars) {
			b = binary.AppendUvarint(append(b, '#'), uint64(r.idxID(x)))
		}
	}
	return b, true
}

// maxIndexedSubs bounds the indexed cubes a key takes one by one.
const maxIndexedSubs = 256

// effectiveSubs sorts the class's subtracted cubes that take anything
// from it, less the variables it fixes, into those over the free read
// variables vr (in) and the others (mix); false if the class is not
// separable. An index whose cubes all lie over vr stays an index (the
// key names it); another one's candidates count one by one.
func (r *runner) effectiveSubs(s *state, vr []uint64, in, mix []cube) ([]cube, []cube, bool) {
	c := s.t.c
	mixing := false
	add := func(q cube) {
		if !c.overlaps(q) {
			return
		}
		q = q.beyond(c)
		switch mixes(q.mask(), vr) {
		case inside:
			in = append(in, q)
		case mixed:
			mixing = true
			fallthrough
		default:
			mix = append(mix, q)
		}
	}
	for _, q := range s.t.subs {
		add(q)
	}
	spread := func(x *subIndex) bool {
		cands := x.candidates(c)
		if len(cands) > maxIndexedSubs {
			return false
		}
		for _, q := range cands {
			add(q)
		}
		return true
	}
	for _, x := range s.t.idx {
		if !within(x.care, vr) && anyAnd(x.care, vr) && !spread(x) {
			return in, mix, false
		}
	}
	if !mixing {
		return in, mix, true
	}
	for _, x := range s.t.idx { // the indexes apart from the read variables count now
		if !anyAnd(x.care, vr) && !spread(x) {
			return in, mix, false
		}
	}
	free, arena := unreadFree(c, mix, vr, r.k.arena)
	r.k.arena = arena
	return in, mix, free
}

// within reports whether every bit of care is in vr.
func within(care, vr []uint64) bool {
	for i := range care {
		if care[i]&^vr[i] != 0 {
			return false
		}
	}
	return true
}

// unreadFree reports whether the variables outside vr have a value in c
// that none of the cubes subs (each reaching beyond vr) covers, whatever
// the variables of vr are: then none of them takes anything from the
// class's projection onto vr. False when unsure. The projections live in
// arena (grown as needed, returned for reuse).
func unreadFree(c cube, subs []cube, vr []uint64, arena []uint64) (bool, []uint64) {
	h := len(c)
	if need := h * (len(subs) + 1); cap(arena) < need {
		arena = make([]uint64, need)
	}
	arena = arena[:h*(len(subs)+1)]
	t := term{c: project(arena[:h:h], c, vr)}
	ps := make([]cube, 0, 16)
	for i, q := range subs {
		ps = append(ps, project(arena[h*(i+1):h*(i+2):h*(i+2)], q, vr))
	}
	t.subs = ps
	_, ok, exact := t.point()
	return ok && exact, arena
}

// project is q without the variables of vr, in dst.
func project(dst []uint64, q cube, vr []uint64) cube {
	h := q.half()
	for i := 0; i < h; i++ {
		dst[h+i] = q[h+i] &^ vr[i]
		dst[i] = q[i] &^ vr[i]
	}
	return cube(dst)
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

// relax is the class at table t with only what its key there covers: the
// read bits it fixes as constants, its free read variables, the
// subtracted cubes over them; nothing written yet.
func (r *runner) relax(s *state, t *table, vr []uint64) *state {
	m := s.m.clone()
	mask, val := make([]uint64, len(s.m.cm)), make([]uint64, len(s.m.cm))
	eachBit(t.reads, func(bit int) bool {
		if d := s.m.desc(bit); !d.konst {
			if known, v := s.fixedVar(d.v); known {
				setBit(mask, bit, true)
				setBit(val, bit, v)
			}
		}
		return true
	})
	m.set(mask, val)
	in, _, _ := r.effectiveSubs(s, vr, nil, nil)
	rt := term{c: newCube(len(vr)), subs: in}
	for _, x := range s.t.idx {
		if within(x.care, vr) {
			rt.idx = append(rt.idx, x)
		}
	}
	return &state{m: m, t: rt, wr: make([]uint64, len(s.wr)), rc: s.rc}
}
