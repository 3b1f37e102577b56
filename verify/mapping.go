package verify

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

func (m mapping) clone() mapping {
	w := len(m.cm)
	b := make([]uint64, 2*w)
	copy(b, m.cm)
	copy(b[w:], m.cv)
	return mapping{cm: b[:w:w], cv: b[w:], al: append([]seg(nil), m.al...)}
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

// cut removes the aliases of bits off..off+n-1.
func (m *mapping) cut(off, n int) {
	a, b := int32(off), int32(off+n)
	var out []seg
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

// cutMask removes the aliases of every bit of mask.
func (m *mapping) cutMask(mask []uint64) {
	if len(m.al) == 0 {
		return
	}
	eachBit(mask, func(b int) bool { m.cut(b, 1); return true })
}

// set makes the bits of mask constants with the values of val.
func (m *mapping) set(mask, val []uint64) {
	for i := range mask {
		m.cm[i] |= mask[i]
		m.cv[i] = m.cv[i]&^mask[i] | val[i]&mask[i]
	}
	m.cutMask(mask)
}

// write makes header bits off..off+len(ds)-1 what ds describe.
func (m *mapping) write(off int, ds []desc) {
	m.cut(off, len(ds))
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
		if k := len(m.al) - 1; k >= 0 && m.al[k].dst+m.al[k].n == int32(b) && m.al[k].src+m.al[k].n == int32(d.v) {
			m.al[k].n++
			continue
		}
		m.al = append(m.al, seg{dst: int32(b), n: 1, src: int32(d.v)})
	}
}

// move copies n bits from src to dst (OVS's move: the source is read
// whole before the destination is written).
func (m *mapping) move(dst, src, n int) {
	ds := make([]desc, n)
	for i := range ds {
		ds[i] = m.desc(src + i)
	}
	m.write(dst, ds)
}

// freshen gives header bits off..off+n-1 the variables from v on.
func (m *mapping) freshen(off, n, v int) {
	ds := make([]desc, n)
	for i := range ds {
		ds[i] = desc{v: v + i}
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
