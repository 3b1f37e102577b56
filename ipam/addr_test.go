package ipam

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestNextFreeBlock: each node starts its search at its own block (a hash
// of its name), takes the next free one after it, wraps around past the
// pool's end, and finds nothing only when every block is taken.
func TestNextFreeBlock(t *testing.T) {
	p := Pool{Name: "p", Domain: "d", CIDR: netip.MustParsePrefix("198.19.0.0/24"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 28}
	n := blockCount(p) // 16
	blockAt := func(i uint64) netip.Prefix { return nthBlock(p, i%n) }
	// taken marks the blocks at these offsets from the node's start.
	taken := func(start uint64, offsets ...uint64) map[netip.Prefix]bool {
		m := map[netip.Prefix]bool{}
		for _, o := range offsets {
			m[blockAt(start+o)] = true
		}
		return m
	}
	span := func(from, to uint64) []uint64 {
		var out []uint64
		for o := from; o < to; o++ {
			out = append(out, o)
		}
		return out
	}
	tests := []struct {
		name   string
		node   string
		taken  func(start uint64) map[netip.Prefix]bool
		want   func(start uint64) netip.Prefix // zero: exhausted
		golden string                          // the node's own start, pinned
	}{
		{"node-a starts at its own block", "node-a", func(uint64) map[netip.Prefix]bool { return nil }, blockAt, "198.19.0.48/28"},
		{"node-b starts elsewhere", "node-b", func(uint64) map[netip.Prefix]bool { return nil }, blockAt, "198.19.0.96/28"},
		{"node-c elsewhere again", "node-c", func(uint64) map[netip.Prefix]bool { return nil }, blockAt, "198.19.0.144/28"},
		{"start taken: the next one", "node-a", func(s uint64) map[netip.Prefix]bool { return taken(s, 0) }, func(s uint64) netip.Prefix { return blockAt(s + 1) }, ""},
		{"a run taken: the first after it", "node-a", func(s uint64) map[netip.Prefix]bool { return taken(s, 0, 1, 2) }, func(s uint64) netip.Prefix { return blockAt(s + 3) }, ""},
		{"taken up to the pool's end: wraps to the lowest", "node-b", func(s uint64) map[netip.Prefix]bool { return taken(s, span(0, n-s)...) }, func(uint64) netip.Prefix { return blockAt(0) }, ""},
		{"all but the one before the start: wraps to it", "node-c", func(s uint64) map[netip.Prefix]bool { return taken(s, span(0, n-1)...) }, func(s uint64) netip.Prefix { return blockAt(s + n - 1) }, ""},
		{"every block taken: exhausted", "node-a", func(s uint64) map[netip.Prefix]bool { return taken(s, span(0, n)...) }, func(uint64) netip.Prefix { return netip.Prefix{} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := blockStart(tc.node, n)
			if tc.golden != "" && blockAt(start).String() != tc.golden {
				t.Errorf("%s starts at %s, pinned %s", tc.node, blockAt(start), tc.golden)
			}
			got, ok := nextFreeBlock(p, tc.node, tc.taken(start))
			want := tc.want(start)
			if ok != want.IsValid() || got != want {
				t.Fatalf("nextFreeBlock = %s, %v; want %s", got, ok, want)
			}
		})
	}
	t.Run("a hundred nodes spread over the pool", func(t *testing.T) {
		starts := map[netip.Prefix]int{}
		for i := range 100 {
			b, _ := nextFreeBlock(p, fmt.Sprintf("node-%03d", i), nil)
			starts[b]++
		}
		if len(starts) < 14 {
			t.Fatalf("100 nodes start at only %d of %d blocks: %v", len(starts), n, starts)
		}
	})
}

// TestNthBlock: blocks by index, up to the last of a large pool.
func TestNthBlock(t *testing.T) {
	p := Pool{CIDR: netip.MustParsePrefix("198.18.0.0/15"), BlockBits: 30}
	for _, tc := range []struct {
		i    uint64
		want string
	}{{0, "198.18.0.0/30"}, {1, "198.18.0.4/30"}, {64, "198.18.1.0/30"}, {blockCount(p) - 1, "198.19.255.252/30"}} {
		if got := nthBlock(p, tc.i); got.String() != tc.want {
			t.Errorf("block %d = %s, want %s", tc.i, got, tc.want)
		}
	}
}
