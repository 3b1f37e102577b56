package daemon

import (
	"context"
	"fmt"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/podnet/podnettest"
)

// BenchmarkSnapshot is the monitor's cost per look (and per /metrics
// scrape's data) on a node with no pods — the baseline: OVS bridges,
// fdb stats, the node's counters, a flow dump — and with 200 pods, each
// with its netns counters and port stats.
//
//	go test -run '^$' -bench Snapshot -benchtime 20x ./daemon
func BenchmarkSnapshot(b *testing.B) {
	for _, pods := range []int{0, 200} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			n := newNode(b)
			nss := make([]ns.NetNS, pods)
			for i := range nss {
				nss[i] = podnettest.NewNS(b)
				if _, err := n.cni("ADD", fmt.Sprintf("bench%d", i), nss[i].Path(), "prod"); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				s, err := n.d.mon.Snapshot(context.Background())
				if err != nil || len(s.Pods) != pods {
					b.Fatalf("%d pods, %v", len(s.Pods), err)
				}
			}
		})
	}
}
