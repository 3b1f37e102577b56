package local

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cane-cni/cane/ipam"
)

// BenchmarkAllocate: ADDs through IPAM on a real bbolt file (fsync on),
// from 1 and from 8 goroutines, with each allocation write in its own
// transaction (before group commit), through bolt's DB.Batch, and through
// group commit. Reports p50/p99 of Allocate and allocations per second.
// Run the modes in one go (-bench Allocate -benchtime 1500x) to compare.
func BenchmarkAllocate(b *testing.B) {
	modes := []struct {
		name string
		set  func(*Store)
	}{
		{"update", func(s *Store) { s.writeAlloc = s.db.Update }},
		{"batch", func(s *Store) { s.writeAlloc = s.db.Batch }},
		{"group", func(*Store) {}},
	}
	for _, writers := range []int{1, 8} {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, mode.name), func(b *testing.B) {
				s, err := Open(filepath.Join(b.TempDir(), "cane.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				mode.set(s)
				benchAllocate(b, s, writers)
			})
		}
	}
}

func benchAllocate(b *testing.B, s *Store, writers int) {
	ctx := context.Background()
	pool := ipam.Pool{Name: "p", Domain: "d", CIDR: netip.MustParsePrefix("198.19.0.0/16"), Gateway: netip.MustParseAddr("198.19.0.1"), BlockBits: 26}
	m, err := ipam.New(ctx, ipam.Config{Node: "n1", Store: s, Pools: []ipam.Pool{pool}})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				t0 := time.Now()
				if _, err := m.Allocate(ctx, ipam.Request{Pool: "p", ContainerID: fmt.Sprint("c", i), IfName: "eth0"}); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "allocs/s")
	b.ReportMetric(0, "ns/op")
}
