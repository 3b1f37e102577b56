package verify

import (
	"sort"
)

// An index finds the entries of a table that may match a class without
// looking at all of them: entries are filed under the prefix they match
// on one pivot field (the one that tells most of them apart: tun_src in a
// Classifier with 10,000 VTEPs, nw_dst in Forward), the rest in a nested
// index on the next field. A class whose pivot field is known on its first
// K bits can only meet the entries whose prefix agrees with those bits.
type index struct {
	sp     span
	byPfx  map[pfxKey][]int // entries by (prefix length, prefix), length >= 1
	sorted []pfxEntry       // the same, ordered by prefix value then length
	maxLen int
	lens   []int  // the prefix lengths entries have, ascending
	rest   *index // entries without a prefix on the pivot
	list   []int  // a leaf index: every entry
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
	return readPrefix(sp, func(b int) (bool, bool) { return getBit(c.mask, b), getBit(c.val, b) })
}

// statePrefix is the prefix a class fixes on sp.
func statePrefix(s *state, sp span) prefix {
	return readPrefix(sp, func(b int) (bool, bool) {
		d := s.m.desc(b)
		if d.konst {
			return true, d.val
		}
		return s.t.c.get(d.v)
	})
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

// newIndex indexes the entries (by rank) of one table.
func newIndex(l *layout, es []*entry, ranks []int, used []bool) *index {
	sp, ok := pivot(l, es, ranks, used)
	if !ok || len(ranks) < indexMin {
		return &index{list: ranks}
	}
	x := &index{sp: sp, byPfx: map[pfxKey][]int{}}
	var rest []int
	for _, r := range ranks {
		p := condPrefix(es[r].c, sp)
		if p.l == 0 {
			rest = append(rest, r)
			continue
		}
		k := p.cut(p.l)
		x.byPfx[k] = append(x.byPfx[k], r)
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

// pivot is the field the most entries fix distinct prefixes of.
func pivot(l *layout, es []*entry, ranks []int, used []bool) (span, bool) {
	best, bestN := span{}, 0
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
		if len(seen) > bestN {
			best, bestN = sp, len(seen)
		}
	}
	return best, bestN >= indexMin
}

func pivotField(l *layout, sp span) int {
	for id := range l.pos {
		if l.pos[id] == sp {
			return id
		}
	}
	return 0
}

// queryInto is the ranks of the entries that may meet a class whose pivot
// fields read as pat gives them, in rank order, appended to buf[:0].
func (x *index) queryInto(buf []int, pat func(span) prefix) []int {
	out := buf[:0]
	x.collect(pat, &out)
	if x.byPfx != nil {
		sort.Ints(out)
	}
	return out
}

func (x *index) collect(pat func(span) prefix, out *[]int) {
	if x.list != nil || x.byPfx == nil {
		*out = append(*out, x.list...)
		return
	}
	p := pat(x.sp)
	for _, l := range x.lens {
		if l > p.l {
			break
		}
		*out = append(*out, x.byPfx[p.cut(l)]...)
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
