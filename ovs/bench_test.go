package ovs_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// remoteFlows is the flows of n remote nodes with one block each: what a
// node of a 10,000-node cluster installs for the others (2 flows a node).
func remoteFlows(n int) []of.Flow {
	pool := flows.Pool{Name: "big", Domain: "production", CIDR: netip.MustParsePrefix("198.18.0.0/15"), Gateway: netip.MustParseAddr("198.18.0.1")}
	fn := flows.Node{Overlay: true, Domains: []flows.Domain{{Name: "production", VNI: 100}}, Pools: []flows.Pool{pool}}
	var fs []of.Flow
	for i := range n {
		vtep := netip.AddrFrom4([4]byte{198, 19, 128 + byte(i>>8&0x7f), byte(i)})
		block := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 6), byte(i&63) << 2}), 30)
		fs = append(fs, flows.RemoteFlows(fn, flows.RemoteNode{Name: fmt.Sprint("n", i), VTEP: vtep, Blocks: []flows.RemoteBlock{{CIDR: block, Pool: "big"}}})...)
	}
	return fs
}

// BenchmarkRemoteFlows: 10,000 remote nodes' flows (20,000), built,
// encoded and applied as one bundle — natively, and, in the same run, the
// text path this replaced (the same flows as ovs-ofctl text through
// `ovs-ofctl --bundle add-flows`, which is how remote-node flows went in).
func BenchmarkRemoteFlows(b *testing.B) {
	const nodes = 10000
	b.Run("build", func(b *testing.B) {
		for range b.N {
			remoteFlows(nodes)
		}
	})
	fs := remoteFlows(nodes)
	b.Run("encode/native", func(b *testing.B) {
		for range b.N {
			for _, f := range fs {
				if _, err := of.AddFlow(f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encode/text", func(b *testing.B) {
		for range b.N {
			var sb strings.Builder
			for _, f := range fs {
				sb.WriteString(f.String())
				sb.WriteByte('\n')
			}
		}
	})
	o, c := newBridge(b)
	clear := func() {
		var del ovs.Bundle
		del.Delete(of.Selector{})
		if err := o.OpenFlow().Apply(c, "br-int", &del); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("apply/native", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			clear()
			var bundle ovs.Bundle
			bundle.Add(fs...)
			b.StartTimer()
			if err := o.OpenFlow().Apply(c, "br-int", &bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply/ovs-ofctl", func(b *testing.B) {
		text := filepath.Join(b.TempDir(), "flows")
		var sb strings.Builder
		for _, f := range fs {
			sb.WriteString("add " + f.String() + "\n")
		}
		if err := os.WriteFile(text, []byte(sb.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			b.StopTimer()
			clear()
			b.StartTimer()
			if _, err := ovs.RunCommand(c, nil, "ovs-ofctl", "-O", "OpenFlow15", "--bundle", "add-flows", "unix:"+filepath.Join(o.Dir, "br-int.mgmt"), text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dump/native", func(b *testing.B) {
		for range b.N {
			got, err := o.OpenFlow().Dump(c, "br-int", of.Selector{})
			if err != nil || len(got) != len(fs) {
				b.Fatalf("%d flows, want %d: %v", len(got), len(fs), err)
			}
		}
	})
}
