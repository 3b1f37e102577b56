package verify

// A cube is a ternary bit vector over the variable space: each variable
// is 0, 1 or * (any). It is stored as one slice: the values in the first
// half, the care mask in the second; values are 0 where the mask is.
// Cubes are values: operations that change one work on a copy.
type cube []uint64

func newCube(wv int) cube { return make(cube, 2*wv) }

func (c cube) half() int        { return len(c) / 2 }
func (c cube) val() []uint64    { return c[:len(c)/2] }
func (c cube) mask() []uint64   { return c[len(c)/2:] }
func (c cube) clone() cube      { return append(cube(nil), c...) }
func (c cube) isUniverse() bool { return isZero(c.mask()) }

// overlaps reports whether c and d share a point.
func (c cube) overlaps(d cube) bool {
	h := c.half()
	for i := 0; i < h; i++ {
		if (c[i]^d[i])&c[h+i]&d[h+i] != 0 {
			return false
		}
	}
	return true
}

// within reports whether every point of c is in d.
func (c cube) within(d cube) bool {
	h := c.half()
	for i := 0; i < h; i++ {
		if d[h+i]&^c[h+i] != 0 || (c[i]^d[i])&d[h+i] != 0 {
			return false
		}
	}
	return true
}

// and narrows c to its points in d, in place, and reports whether any
// remain (c is unchanged if none do).
func (c cube) and(d cube) bool {
	if !c.overlaps(d) {
		return false
	}
	h := c.half()
	for i := 0; i < h; i++ {
		c[h+i] |= d[h+i]
		c[i] |= d[i]
	}
	return true
}

// fix sets variable v to b, in place; false if c has it the other way.
func (c cube) fix(v int, b bool) bool {
	h := c.half()
	if getBit(c[h:], v) {
		return getBit(c[:h], v) == b
	}
	setBit(c[h:], v, true)
	setBit(c[:h], v, b)
	return true
}

// get is variable v: known, and its value.
func (c cube) get(v int) (known, b bool) {
	h := c.half()
	return getBit(c[h:], v), getBit(c[:h], v)
}

// beyond is q without the variables c fixes (q itself if it has none).
func (q cube) beyond(c cube) cube {
	h := q.half()
	if !anyAnd(q[h:], c[h:]) {
		return q
	}
	out := q.clone()
	for i := 0; i < h; i++ {
		out[h+i] &^= c[h+i]
		out[i] &^= c[h+i]
	}
	return out
}
