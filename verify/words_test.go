package verify

import (
	"math/rand"
	"testing"
)

// TestPlainPrefix: the word-at-a-time prefix of a field without aliases
// reads as the bit-by-bit one, whatever its constants and fixed variables.
func TestPlainPrefix(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const w = 3
	for i := 0; i < 2000; i++ {
		s := &state{m: newMapping(w), t: term{c: newCube(w)}}
		for b := 0; b < 64*w; b++ {
			switch rng.Intn(4) {
			case 0:
				setBit(s.m.cm, b, true)
				setBit(s.m.cv, b, rng.Intn(2) == 1)
			case 1:
				s.t.c.fix(b, rng.Intn(2) == 1)
			}
		}
		sp := span{off: rng.Intn(64 * 2), width: []int{8, 16, 32, 48, 64}[rng.Intn(5)]}
		slow := readPrefix(sp, func(b int) (bool, bool) {
			d := s.m.desc(b)
			if d.konst {
				return true, d.val
			}
			return s.t.c.get(d.v)
		})
		if fast := plainPrefix(s, sp); fast != slow {
			t.Fatalf("span %+v: plain %+v, bit by bit %+v", sp, fast, slow)
		}
	}
}

// TestValueUnder: the word-at-a-time value of a field's bits reads as
// the bit-by-bit one.
func TestValueUnder(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	const w = 3
	for i := 0; i < 2000; i++ {
		s := &state{m: newMapping(w), t: term{c: newCube(w)}}
		for b := 0; b < 64*w; b++ {
			switch rng.Intn(3) {
			case 0:
				setBit(s.m.cm, b, true)
				setBit(s.m.cv, b, rng.Intn(2) == 1)
			case 1:
				s.t.c.fix(b, rng.Intn(2) == 1)
			}
		}
		off, mask := rng.Intn(64*2), rng.Uint64()>>uint(rng.Intn(60))
		var want uint64
		known := true
		for m := mask; m != 0; m &= m - 1 {
			j := 0
			for m>>uint(j)&1 == 0 {
				j++
			}
			d := s.m.desc(off + j)
			v := d.val
			if !d.konst {
				k, val := s.t.c.get(d.v)
				known, v = known && k, val
			}
			if v {
				want |= 1 << uint(j)
			}
		}
		got, ok := s.valueUnder(off, mask)
		if ok != known || ok && got != want {
			t.Fatalf("off %d mask %#x: %#x %v, want %#x %v", off, mask, got, ok, want, known)
		}
	}
}

// TestCutMask: removing the aliases of a mask's bits at once leaves what
// removing them bit by bit does.
func TestCutMask(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 500; i++ {
		m := newMapping(2)
		for k := 0; k < 6; k++ {
			off, n := rng.Intn(100), 1+rng.Intn(20)
			m.freshen(off, n, 200+rng.Intn(50))
		}
		mask := make([]uint64, 2)
		mask[0], mask[1] = rng.Uint64()&rng.Uint64(), rng.Uint64()&rng.Uint64()
		slow := m.clone()
		eachBit(mask, func(b int) bool { slow.cut(b, 1); return true })
		fast := m.clone()
		fast.cutMask(mask)
		for b := 0; b < 128; b++ {
			if fast.desc(b) != slow.desc(b) {
				t.Fatalf("bit %d: %+v, bit by bit %+v", b, fast.desc(b), slow.desc(b))
			}
		}
	}
}
