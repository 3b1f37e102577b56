package verify

import "math/bits"

// Bit vectors as []uint64, bit i in word i/64 at i%64.

func getBit(b []uint64, i int) bool { return b[i>>6]>>(uint(i)&63)&1 == 1 }

func setBit(b []uint64, i int, v bool) {
	if v {
		b[i>>6] |= 1 << (uint(i) & 63)
	} else {
		b[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// setRange sets bits off..off+n-1 of b.
func setRange(b []uint64, off, n int) {
	for i := off; i < off+n; {
		w, s := i>>6, uint(i)&63
		k := 64 - int(s)
		if k > off+n-i {
			k = off + n - i
		}
		var m uint64 = ^uint64(0)
		if k < 64 {
			m = (1<<uint(k) - 1)
		}
		b[w] |= m << s
		i += k
	}
}

func anyAnd(a, b []uint64) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

func isZero(a []uint64) bool {
	for _, x := range a {
		if x != 0 {
			return false
		}
	}
	return true
}

// eachBit calls f for every set bit of a, in order, until f returns false.
func eachBit(a []uint64, f func(int) bool) {
	for w, x := range a {
		for x != 0 {
			t := bits.TrailingZeros64(x)
			if !f(w*64 + t) {
				return
			}
			x &= x - 1
		}
	}
}

func popCount(a []uint64) int {
	n := 0
	for _, x := range a {
		n += bits.OnesCount64(x)
	}
	return n
}
