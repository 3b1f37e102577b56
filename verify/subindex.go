package verify

import "sort"

// A subIndex is a large set of subtracted cubes filed by the prefix each
// fixes of one field (the key: the VTEP in tun_src, a destination in
// nw_dst), as a table's index files flows: a term less 10,000 VTEPs, or
// less the 10,000 node addresses ToNode's default flow lies below, asks
// only the cubes that agree with what it fixes of the key, not all of
// them. Built once, shared, never changed.
type subIndex struct {
	sp     span     // the key field's variables
	keys   []pfxKey // the cubes' prefixes, ordered by value then length
	cubes  []cube   // the cubes, in the order of keys, then the rest
	lens   []int    // the prefix lengths cubes have, ascending
	maxLen int
	rest   []cube // cubes that fix nothing of the key's top bit
	all    []cube
	care   []uint64 // every variable any of the cubes cares about
}

// newSubIndex files cubes by the prefix each fixes of the variables sp.
func newSubIndex(sp span, cubes []cube, wv int) *subIndex {
	x := &subIndex{sp: sp, care: make([]uint64, wv)}
	type filed struct {
		k pfxKey
		c cube
	}
	var fs []filed
	seen := map[int]bool{}
	for _, c := range cubes {
		for i, m := range c.mask() {
			x.care[i] |= m
		}
		p := cubePrefix(c, sp)
		if p.l == 0 {
			x.rest = append(x.rest, c)
			continue
		}
		fs = append(fs, filed{p.cut(p.l), c})
		if !seen[p.l] {
			seen[p.l] = true
			x.lens = append(x.lens, p.l)
		}
		if p.l > x.maxLen {
			x.maxLen = p.l
		}
	}
	sort.Ints(x.lens)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].k.less(fs[j].k) })
	x.keys, x.cubes = make([]pfxKey, len(fs)), make([]cube, len(fs), len(cubes))
	for i, f := range fs {
		x.keys[i], x.cubes[i] = f.k, f.c
	}
	x.cubes = append(x.cubes, x.rest...) // one list: the filed ones, then the rest
	x.rest, x.all = x.cubes[len(fs):], x.cubes
	return x
}

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

// exact is the cubes whose prefix is k.
func (x *subIndex) exact(k pfxKey) []cube {
	i := sort.Search(len(x.keys), func(i int) bool { return !x.keys[i].less(k) })
	j := i
	for j < len(x.keys) && x.keys[j] == k {
		j++
	}
	return x.cubes[i:j:j]
}

// candidates is the cubes that may overlap c: those whose prefix agrees
// with what c fixes of the key.
func (x *subIndex) candidates(c cube) []cube {
	p := cubePrefix(c, x.sp)
	if p.l == 0 {
		return x.all
	}
	if len(x.rest) == 0 && len(x.lens) == 1 && p.l >= x.lens[0] {
		return x.exact(p.cut(x.lens[0])) // the common case: every cube fixes the whole key
	}
	out := append([]cube(nil), x.rest...)
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
				out = append(out, x.cubes[i])
			}
		}
	}
	return out
}
