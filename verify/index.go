package verify

import (
	"math/bits"
	"sort"
)

// An index finds the entries of a table that may match a class without
// looking at all of them: entries are filed under the prefix they match
// on one pivot field (the one that tells most of them apart: tun_src in a
// Classifier with 10,000 VTEPs, nw_dst in Forward), the rest in a nested
// index on the next field. A class whose pivot field is known on its first
// K bits can only meet the entries whose prefix agrees with those bits.
type index struct {
	sp      span
	pivoted bool       // entries are filed by prefix (else list)
	sorted  []pfxEntry // the same, ordered by prefix value then length
	maxLen  int
	lens    []int    // the prefix lengths entries have, ascending
	rest    *index   // entries without a prefix on the pivot
	list    []int    // a leaf index: every entry
	alts    []*index // the same entries on other pivots (a table's top index)
}

type pfxKey struct {
	l      int
	hi, lo uint64
}

type pfxEntry struct {
	pfxKey
	rank int
}

// indexMin is the fewest distinct prefixes that make a field worth a pivot.
const indexMin = 16

// prefix is the pattern's leading known bits of a field (most significant
// first) and their value, aligned to the top of 128 bits.
type prefix struct {
	l      int
	hi, lo uint64
}

func (p prefix) cut(l int) pfxKey {
	k := pfxKey{l: l}
	switch {
	case l == 0:
	case l <= 64:
		k.hi = p.hi &^ (^uint64(0) >> uint(l))
		if l == 64 {
			k.hi = p.hi
		}
	default:
		k.hi = p.hi
		k.lo = p.lo &^ (^uint64(0) >> uint(l-64))
		if l == 128 {
			k.lo = p.lo
		}
	}
	return k
}

// condPrefix is the prefix a condition fixes on sp.
func condPrefix(c cond, sp span) prefix {
	if sp.width <= 64 {
		return wordPrefix(bitsAt(c.mask, sp), bitsAt(c.val, sp), sp.width)
	}
	return readPrefix(sp, func(b int) (bool, bool) { return getBit(c.mask, b), getBit(c.val, b) })
}

// wordPrefix is the prefix of a field of width bits (at most 64) whose
// known bits and values are known and val.
func wordPrefix(known, val uint64, width int) prefix {
	top := uint(64 - width) // the field's top bit at bit 63
	l := bits.LeadingZeros64(^(known << top))
	if l > width {
		l = width
	}
	if l == 0 {
		return prefix{}
	}
	return prefix{l: l, hi: val << top &^ (^uint64(0) >> uint(l))}
}

// statePrefix is the prefix a class fixes on sp.
func statePrefix(s *state, sp span) prefix {
	if sp.width <= 64 && !s.m.aliasedRange(sp.off, sp.width) {
		return plainPrefix(s, sp)
	}
	return readPrefix(sp, func(b int) (bool, bool) {
		d := s.m.desc(b)
		if d.konst {
			return true, d.val
		}
		return s.t.c.get(d.v)
	})
}

// plainPrefix is statePrefix where no bit of sp is aliased: each is a
// constant or its own variable, so a word at a time does.
func plainPrefix(s *state, sp span) prefix {
	cm, cv := bitsAt(s.m.cm, sp), bitsAt(s.m.cv, sp)
	return wordPrefix(cm|bitsAt(s.t.c.mask(), sp), cm&cv|^cm&bitsAt(s.t.c.val(), sp), sp.width)
}

func readPrefix(sp span, bit func(int) (known, val bool)) prefix {
	var p prefix
	for j := sp.width - 1; j >= 0; j-- {
		known, val := bit(sp.off + j)
		if !known {
			break
		}
		if val {
			pos := p.l // 0 = the top bit
			if pos < 64 {
				p.hi |= 1 << uint(63-pos)
			} else {
				p.lo |= 1 << uint(127-pos)
			}
		}
		p.l++
	}
	return p
}

// maxAlts bounds a table's alternate indexes.
const maxAlts = 2

// newTableIndex indexes a table's entries on the field that tells most of
// them apart, and also on each other field that tells at least a quarter as
// many apart: a class may fix one and not the other (TunnelVNI's flows
// match the VTEP and the inner source; a class there fixes only the VTEP),
// and a query uses the index whose field the class fixes best.
func newTableIndex(l *layout, es []*entry, ranks []int) *index {
	used := make([]bool, maxField)
	ps := pivots(l, es, ranks, used)
	if len(ps) == 0 || len(ranks) < indexMin {
		return &index{list: ranks}
	}
	x := newIndexOn(l, es, ranks, used, ps[0].sp)
	for _, p := range ps[1:] {
		if len(x.alts) == maxAlts || 4*p.n < ps[0].n {
			break
		}
		x.alts = append(x.alts, newIndexOn(l, es, ranks, used, p.sp))
	}
	return x
}

// newIndex indexes the entries (by rank) of one table.
func newIndex(l *layout, es []*entry, ranks []int, used []bool) *index {
	ps := pivots(l, es, ranks, used)
	if len(ps) == 0 || len(ranks) < indexMin {
		return &index{list: ranks}
	}
	return newIndexOn(l, es, ranks, used, ps[0].sp)
}

// newIndexOn indexes the entries on pivot sp, the rest on the next field.
func newIndexOn(l *layout, es []*entry, ranks []int, used []bool, sp span) *index {
	x := &index{sp: sp, pivoted: true}
	var rest []int
	for _, r := range ranks {
		p := condPrefix(es[r].c, sp)
		if p.l == 0 {
			rest = append(rest, r)
			continue
		}
		k := p.cut(p.l)
		x.sorted = append(x.sorted, pfxEntry{k, r})
		if p.l > x.maxLen {
			x.maxLen = p.l
		}
	}
	sort.Slice(x.sorted, func(i, j int) bool { return x.sorted[i].less(x.sorted[j]) })
	seen := map[int]bool{}
	for _, e := range x.sorted {
		if !seen[e.l] {
			seen[e.l] = true
			x.lens = append(x.lens, e.l)
		}
	}
	sort.Ints(x.lens)
	used = append([]bool(nil), used...)
	used[pivotField(l, sp)] = true
	x.rest = newIndex(l, es, rest, used)
	return x
}

func (a pfxEntry) less(b pfxEntry) bool {
	if a.hi != b.hi {
		return a.hi < b.hi
	}
	if a.lo != b.lo {
		return a.lo < b.lo
	}
	return a.l < b.l
}

// pivotField is a candidate pivot and how many distinct prefixes the
// entries fix of it.
type pivotCount struct {
	sp span
	n  int
}

// pivots are the fields with at least indexMin distinct prefixes among
// the entries, the most first.
func pivots(l *layout, es []*entry, ranks []int, used []bool) []pivotCount {
	var out []pivotCount
	matched := make([]uint64, l.w)
	for _, r := range ranks {
		for i, m := range es[r].c.mask {
			matched[i] |= m
		}
	}
	for id := 1; id < maxField; id++ {
		sp := l.pos[id]
		if sp.width == 0 || used[id] || !getBit(matched, sp.off+sp.width-1) {
			continue // untracked, used, or no entry matches its top bit
		}
		seen := map[pfxKey]bool{}
		for _, r := range ranks {
			if p := condPrefix(es[r].c, sp); p.l > 0 {
				seen[p.cut(p.l)] = true
			}
		}
		if len(seen) >= indexMin {
			out = append(out, pivotCount{sp, len(seen)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out
}

func pivotField(l *layout, sp span) int {
	for id := range l.pos {
		if l.pos[id] == sp {
			return id
		}
	}
	return 0
}

// queryInto is the ranks of the entries that may meet a class whose
// pivot fields read as pat gives them, in rank order, appended to buf[:0].
func (x *index) queryInto(buf []int, pat func(span) prefix) []int {
	x = x.pick(pat)
	out := buf[:0]
	x.collect(pat, &out)
	if x.pivoted {
		sort.Ints(out)
	}
	return out
}

func (x *index) collect(pat func(span) prefix, out *[]int) {
	if x.list != nil || !x.pivoted {
		*out = append(*out, x.list...)
		return
	}
	p := pat(x.sp)
	for _, l := range x.lens {
		if l > p.l {
			break
		}
		k := p.cut(l)
		i := sort.Search(len(x.sorted), func(i int) bool { return !x.sorted[i].less(pfxEntry{pfxKey: k}) })
		for ; i < len(x.sorted) && x.sorted[i].pfxKey == k; i++ {
			*out = append(*out, x.sorted[i].rank)
		}
	}
	if p.l < x.maxLen {
		k := p.cut(p.l)
		i := sort.Search(len(x.sorted), func(i int) bool { return !x.sorted[i].less(pfxEntry{pfxKey: k}) })
		for ; i < len(x.sorted) && x.sorted[i].within(k); i++ {
			if x.sorted[i].l > p.l {
				*out = append(*out, x.sorted[i].rank)
			}
		}
	}
	x.rest.collect(pat, out)
}

// within reports whether the entry's prefix lies under k.
func (a pfxEntry) within(k pfxKey) bool {
	return (prefix{l: a.l, hi: a.hi, lo: a.lo}).cut(k.l) == k
}

// pick is the index, x or an alternate, whose pivot the class fixes best.
func (x *index) pick(pat func(span) prefix) *index {
	best, score := x, x.score(pat)
	for _, a := range x.alts {
		if sc := a.score(pat); sc > score {
			best, score = a, sc
		}
	}
	return best
}

// score is how much of the pivot's longest prefix the class fixes (1: all of it).
func (x *index) score(pat func(span) prefix) float64 {
	if len(x.alts) == 0 && !x.pivoted {
		return 0
	}
	p := pat(x.sp)
	if p.l >= x.maxLen {
		return 1
	}
	return float64(p.l) / float64(x.maxLen)
}
