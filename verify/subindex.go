package verify

// A subIndex is a large set of subtracted cubes that all fix one field
// (the key: the VTEP in tun_src, say), indexed by its value: a term less
// 10,000 VTEPs asks only the cubes of the VTEP a class has, not all of
// them. Built once, shared, never changed.
type subIndex struct {
	key  []int // variables of the key field, least significant first
	by   map[uint64][]cube
	all  []cube
	care []uint64 // every variable any of the cubes cares about
}

// newSubIndex indexes cubes by the variables key (at most 64), which every
// cube must fix.
func newSubIndex(key []int, cubes []cube, wv int) *subIndex {
	x := &subIndex{key: key, by: map[uint64][]cube{}, all: cubes, care: make([]uint64, wv)}
	for _, c := range cubes {
		v, _ := keyOf(c, key)
		x.by[v] = append(x.by[v], c)
		for i, m := range c.mask() {
			x.care[i] |= m
		}
	}
	return x
}

// keyOf is the key's value in c, if c fixes every key variable.
func keyOf(c cube, key []int) (uint64, bool) {
	var v uint64
	for i, b := range key {
		known, val := c.get(b)
		if !known {
			return 0, false
		}
		if val {
			v |= 1 << uint(i)
		}
	}
	return v, true
}

// candidates is the cubes that may overlap c.
func (x *subIndex) candidates(c cube) []cube {
	if v, ok := keyOf(c, x.key); ok {
		return x.by[v]
	}
	return x.all
}
