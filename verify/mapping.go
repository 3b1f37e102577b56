package verify

import "math/bits"

// A mapping says what each bit of the current header is: a constant (a
// set_field wrote it) or one variable (the ingress bit at the same
// position unless a move or conntrack aliased it elsewhere). Every action
// the vocabulary has keeps that true — set_field writes constants, move
// copies descriptors, ct hands out fresh variables — so matches turn into
// exact constraints on variables, and a witness is an ingress packet.
type mapping struct {
	cm, cv []uint64 // constant bits and their values
	al     []seg    // bits that are another variable than their own
}

// seg maps header bits dst..dst+n-1 to variables src..src+n-1.
type seg struct{ dst, n, src int32 }

func newMapping(w int) mapping {
	b := make([]uint64, 2*w)
	return mapping{cm: b[:w:w], cv: b[w:]}
}

// clone is a copy of m; the aliases are shared (never changed in place).
func (m mapping) clone() mapping {
	w := len(m.cm)
	b := make([]uint64, 2*w)
	copy(b, m.cm)
	copy(b[w:], m.cv)
	return mapping{cm: b[:w:w], cv: b[w:], al: m.al[:len(m.al):len(m.al)]}
}

// desc is header bit b: a constant and its value, or a variable.
type desc struct {
	konst bool
	val   bool
	v     int
}

func (m mapping) desc(b int) desc {
	if getBit(m.cm, b) {
		return desc{konst: true, val: getBit(m.cv, b)}
	}
	for _, s := range m.al {
		if int32(b) >= s.dst && int32(b) < s.dst+s.n {
			return desc{v: int(s.src + int32(b) - s.dst)}
		}
	}
	return desc{v: b}
}

// aliased reports whether any bit of mask is aliased.
func (m mapping) aliased(mask []uint64) bool {
	for _, s := range m.al {
		for b := s.dst; b < s.dst+s.n; b++ {
			if getBit(mask, int(b)) {
				return true
			}
		}
	}
	return false
}

// aliasedRange reports whether any of bits off..off+n-1 is aliased.
func (m mapping) aliasedRange(off, n int) bool {
	a, b := int32(off), int32(off+n)
	for _, s := range m.al {
		if s.dst < b && s.dst+s.n > a {
			return true
		}
	}
	return false
}

// cut removes the aliases of bits off..off+n-1. The segments are
// copied, never changed in place: mappings share them (clone).
func (m *mapping) cut(off, n int) {
	a, b := int32(off), int32(off+n)
	hit := false
	for _, s := range m.al {
		if s.dst < b && s.dst+s.n > a {
			hit = true
			break
		}
	}
	if !hit {
		return
	}
	out := make([]seg, 0, len(m.al)+1)
	for _, s := range m.al {
		e := s.dst + s.n
		if e <= a || s.dst >= b {
			out = append(out, s)
			continue
		}
		if s.dst < a {
			out = append(out, seg{dst: s.dst, n: a - s.dst, src: s.src})
		}
		if e > b {
			out = append(out, seg{dst: b, n: e - b, src: s.src + b - s.dst})
		}
	}
	m.al = out
}

// cutMask removes the aliases of every bit of mask, in one pass.
func (m *mapping) cutMask(mask []uint64) {
	if !m.aliased(mask) {
		return
	}
	var out []seg
	for _, s := range m.al {
		start := int32(-1) // the start of the current run of kept bits
		for b := s.dst; b <= s.dst+s.n; b++ {
			keep := b < s.dst+s.n && !getBit(mask, int(b))
			switch {
			case keep && start < 0:
				start = b
			case !keep && start >= 0:
				out = append(out, seg{dst: start, n: b - start, src: s.src + start - s.dst})
				start = -1
			}
		}
	}
	m.al = out
}

// set makes the bits of mask constants with the values of val.
func (m *mapping) set(mask, val []uint64) {
	for i := range mask {
		m.cm[i] |= mask[i]
		m.cv[i] = m.cv[i]&^mask[i] | val[i]&mask[i]
	}
	m.cutMask(mask)
}

// setSparse is set, of the words a sparse pattern has.
func (m *mapping) setSparse(ws []wordBits) {
	for _, wb := range ws {
		m.cm[wb.i] |= wb.mask
		m.cv[wb.i] = m.cv[wb.i]&^wb.mask | wb.val
	}
	if len(m.al) == 0 {
		return
	}
	for _, wb := range ws {
		for x := wb.mask; x != 0; { // each run of set bits
			lo := bits.TrailingZeros64(x)
			n := bits.TrailingZeros64(^(x >> uint(lo)))
			if lo+n >= 64 {
				n = 64 - lo
			}
			m.cut(wb.i*64+lo, n)
			x &^= (^uint64(0) >> uint(64-n)) << uint(lo)
		}
	}
}

// write makes header bits off..off+len(ds)-1 what ds describe. Aliases
// are never changed in place (mappings share them: clone).
func (m *mapping) write(off int, ds []desc) {
	m.cut(off, len(ds))
	var buf [8]seg
	add := buf[:0]
	for i, d := range ds {
		b := off + i
		if d.konst {
			setBit(m.cm, b, true)
			setBit(m.cv, b, d.val)
			continue
		}
		setBit(m.cm, b, false)
		setBit(m.cv, b, false)
		if d.v == b {
			continue
		}
		if k := len(add) - 1; k >= 0 && add[k].dst+add[k].n == int32(b) && add[k].src+add[k].n == int32(d.v) {
			add[k].n++
			continue
		}
		add = append(add, seg{dst: int32(b), n: 1, src: int32(d.v)})
	}
	if len(add) > 0 {
		m.al = append(m.al[:len(m.al):len(m.al)], add...)
	}
}

// move copies n bits from src to dst (OVS's move: the source is read
// whole before the destination is written).
func (m *mapping) move(dst, src, n int) {
	var buf [64]desc
	ds := buf[:0]
	for i := 0; i < n; i++ {
		ds = append(ds, m.desc(src+i))
	}
	m.write(dst, ds)
}

// freshen gives header bits off..off+n-1 the variables from v on.
func (m *mapping) freshen(off, n, v int) {
	var buf [64]desc
	ds := buf[:0]
	for i := 0; i < n; i++ {
		ds = append(ds, desc{v: v + i})
	}
	m.write(off, ds)
}

// overlay is m with the bits of wr as o has them.
func (m mapping) overlay(o mapping, wr []uint64) mapping {
	out := m.clone()
	if isZero(wr) {
		return out
	}
	for i := range wr {
		out.cm[i] = out.cm[i]&^wr[i] | o.cm[i]&wr[i]
		out.cv[i] = out.cv[i]&^wr[i] | o.cv[i]&wr[i]
	}
	out.cutMask(wr)
	for _, s := range o.al {
		for b := s.dst; b < s.dst+s.n; b++ {
			if getBit(wr, int(b)) {
				out.write(int(b), []desc{{v: int(s.src + b - s.dst)}})
			}
		}
	}
	return out
}
