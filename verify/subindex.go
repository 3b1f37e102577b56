package verify

import "sort"

// A subIndex is a large set of subtracted cubes filed by the prefix each
// fixes of one field (the key: the VTEP in tun_src, a destination in
// nw_dst), as a table's index files flows: a term less 10,000 VTEPs, or
// less the 10,000 node addresses ToNode's default flow lies below, asks
// only the cubes that agree with what it fixes of the key, not all of
// them. Built once, shared, never changed.
//
// The cubes of such a set have few masks (shapes): a cube is kept as its
// shape and its values on the shape's words, a few words instead of a
// whole cube, and made again when a query returns it.
type subIndex struct {
	sp     span // the key field's variables
	wv     int
	shapes []shape
	keys   []pfxKey // the filed members' prefixes, ordered by value then length
	mem    []member // the members, in the order of keys, then the rest
	filed  int      // members with a prefix (the rest: none of the key's top bit)
	lens   []int    // the prefix lengths members have, ascending
	maxLen int
	care   []uint64 // every variable any of the cubes cares about
}

// shape is a mask members share: the words it has bits in, and the bits.
type shape struct {
	words []int
	mask  []uint64
}

// member is one cube: its shape and its values on the shape's words.
type member struct {
	shape int32
	vals  []uint64
}

// newSubIndex files cubes by the prefix each fixes of the variables sp.
func newSubIndex(sp span, cubes []cube, wv int) *subIndex {
	x := &subIndex{sp: sp, wv: wv, care: make([]uint64, wv)}
	type filed struct {
		k pfxKey
		m member
	}
	var fs, rest []filed
	byMask := map[string]int32{}
	seen := map[int]bool{}
	for _, c := range cubes {
		for i, m := range c.mask() {
			x.care[i] |= m
		}
		f := filed{m: x.member(c, byMask)}
		if p := cubePrefix(c, sp); p.l > 0 {
			f.k = p.cut(p.l)
			fs = append(fs, f)
			if !seen[p.l] {
				seen[p.l] = true
				x.lens = append(x.lens, p.l)
			}
			x.maxLen = max(x.maxLen, p.l)
		} else {
			rest = append(rest, f)
		}
	}
	sort.Ints(x.lens)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].k.less(fs[j].k) })
	x.keys, x.mem, x.filed = make([]pfxKey, len(fs)), make([]member, 0, len(cubes)), len(fs)
	for i, f := range append(fs, rest...) {
		if i < len(fs) {
			x.keys[i] = f.k
		}
		x.mem = append(x.mem, f.m)
	}
	return x
}

// member is c as a member: its shape (a new one if no member had its
// mask) and its values there.
func (x *subIndex) member(c cube, byMask map[string]int32) member {
	mask := c.mask()
	k := string(appendWords(nil, mask...))
	si, ok := byMask[k]
	if !ok {
		var sh shape
		for i, m := range mask {
			if m != 0 {
				sh.words, sh.mask = append(sh.words, i), append(sh.mask, m)
			}
		}
		si = int32(len(x.shapes))
		x.shapes = append(x.shapes, sh)
		byMask[k] = si
	}
	sh := x.shapes[si]
	m := member{shape: si, vals: make([]uint64, len(sh.words))}
	for j, i := range sh.words {
		m.vals[j] = c.val()[i]
	}
	return m
}

// cube is member m made whole again.
func (x *subIndex) cube(m member) cube {
	c := newCube(x.wv)
	sh := x.shapes[m.shape]
	for j, i := range sh.words {
		c[i], c[x.wv+i] = m.vals[j], sh.mask[j]
	}
	return c
}

// cubes are members made whole.
func (x *subIndex) cubes(ms []member, out []cube) []cube {
	for _, m := range ms {
		out = append(out, x.cube(m))
	}
	return out
}

// size is how many cubes the set has.
func (x *subIndex) size() int { return len(x.mem) }

func (a pfxKey) less(b pfxKey) bool {
	if a.hi != b.hi {
		return a.hi < b.hi
	}
	if a.lo != b.lo {
		return a.lo < b.lo
	}
	return a.l < b.l
}

// cubePrefix is the prefix a cube fixes of the variables sp.
func cubePrefix(c cube, sp span) prefix {
	return readPrefix(sp, func(v int) (bool, bool) { return c.get(v) })
}

// exact is the members whose prefix is k.
func (x *subIndex) exact(k pfxKey) []member {
	i := sort.Search(len(x.keys), func(i int) bool { return !x.keys[i].less(k) })
	j := i
	for j < len(x.keys) && x.keys[j] == k {
		j++
	}
	return x.mem[i:j:j]
}

// candidates is the cubes that may overlap c: those whose prefix agrees
// with what c fixes of the key.
func (x *subIndex) candidates(c cube) []cube {
	return x.cubes(x.members(c, nil), nil)
}

// members is the members that may overlap c (appended to out).
func (x *subIndex) members(c cube, out []member) []member {
	p := cubePrefix(c, x.sp)
	if p.l == 0 {
		if out == nil {
			return x.mem[:len(x.mem):len(x.mem)] // read only: every member
		}
		return append(out, x.mem...)
	}
	out = append(out, x.mem[x.filed:]...)
	for _, l := range x.lens {
		if l > p.l {
			break
		}
		out = append(out, x.exact(p.cut(l))...)
	}
	if p.l < x.maxLen {
		k := p.cut(p.l)
		i := sort.Search(len(x.keys), func(i int) bool { return !x.keys[i].less(k) })
		for ; i < len(x.keys) && (prefix{l: x.keys[i].l, hi: x.keys[i].hi, lo: x.keys[i].lo}).cut(k.l) == k; i++ {
			if x.keys[i].l > p.l {
				out = append(out, x.mem[i])
			}
		}
	}
	return out
}

// holds reports whether member m holds the point of c whose free
// variables are xs (as holds does for a cube), and whether it covers c.
func (x *subIndex) holds(m member, c cube, xs []uint64) (held, covers bool) {
	h := c.half()
	sh := x.shapes[m.shape]
	held, covers = true, true
	for j, i := range sh.words {
		mask, val := sh.mask[j], m.vals[j]
		if (val^c[i])&mask&c[h+i] != 0 {
			return false, false // disjoint from c
		}
		free := mask &^ c[h+i]
		covers = covers && free == 0
		held = held && (val^xs[i])&free == 0
	}
	return held, covers
}
