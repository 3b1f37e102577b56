package daemon

import (
	"fmt"
	"testing"

	"github.com/cane-cni/cane/podnet/podnettest"
)

// BenchmarkAdd is one ADD (with its DEL outside the timer) on a node that
// already runs 0 pods — the baseline — and 100 and 200: what grows with
// the switch's size. Each ADD's steps are in caned's log (took=…); the
// report adds the port and flow steps' means.
//
//	go test -run '^$' -bench '^BenchmarkAdd$' -benchtime 50x ./daemon
func BenchmarkAdd(b *testing.B) {
	for _, pods := range []int{0, 100, 200} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			n := newNode(b)
			for i := range pods {
				pod := podnettest.NewNS(b)
				if _, err := n.cni("ADD", fmt.Sprintf("bench%d", i), pod.Path(), "prod"); err != nil {
					b.Fatal(err)
				}
			}
			pod := podnettest.NewNS(b)
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("probe%d", i)
				if _, err := n.cni("ADD", id, pod.Path(), "prod"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := n.cni("DEL", id, pod.Path(), "prod"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
