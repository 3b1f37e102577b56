package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

func run(ctx context.Context, tb *testbed.Testbed, pods, nodes int, k8sDir, crdDir string) ([]Result, error) {
	node, err := startNode(ctx, tb)
	if err != nil {
		return nil, err
	}
	ps, err := plugins(tb, node)
	if err != nil {
		return nil, err
	}
	var rs []Result
	type series struct {
		adds, dels, burstLat []time.Duration
		rate                 float64
	}
	got := map[string]*series{}
	var rss float64
	for _, p := range ps {
		s := &series{}
		got[p.name] = s
		during := func() error { return nil }
		if p.name == "cane" {
			during = func() (err error) { rss, err = canedRSS(node); return err }
		}
		fmt.Printf("%s: %d pods one at a time ...\n", p.name, pods)
		if s.adds, s.dels, err = sequential(ctx, tb, p, pods, during); err != nil {
			return rs, err
		}
		fmt.Printf("%s: a burst of %d pods, 8 at a time ...\n", p.name, pods)
		if s.rate, s.burstLat, err = burst(ctx, tb, p, pods, 8); err != nil {
			return rs, err
		}
	}
	c, ref := got["cane"], got["bridge+host-local"]
	for _, q := range []struct {
		name string
		c, r []time.Duration
		p    float64
	}{{"ADD p50", c.adds, ref.adds, .5}, {"ADD p99", c.adds, ref.adds, .99}, {"DEL p50", c.dels, ref.dels, .5}, {"DEL p99", c.dels, ref.dels, .99}} {
		r := Result{Name: q.name, Cane: ms(percentile(q.c, q.p)), Baseline: ms(percentile(q.r, q.p)), Unit: "ms"}
		if q.name[:3] == "ADD" {
			r.Target = "≤ 0.5× reference"
			rs = append(rs, judged(r, r.Cane <= 0.5*r.Baseline))
		} else {
			rs = append(rs, judged(r, true))
			rs[len(rs)-1].Met = nil
		}
	}
	r := Result{Name: fmt.Sprintf("burst of %d, 8 parallel", pods), Cane: c.rate, Baseline: ref.rate, Unit: "pods/s", Target: "≥ 5× reference"}
	rs = append(rs, judged(r, c.rate >= 5*ref.rate))
	r = Result{Name: "burst ADD p99", Cane: ms(percentile(c.burstLat, .99)), Baseline: ms(percentile(ref.burstLat, .99)), Unit: "ms"}
	r = judged(r, true)
	r.Met = nil
	rs = append(rs, r)

	fmt.Println("floor: veth with its peer created in the netns ...")
	fl, err := floor(tb, node, pods)
	if err != nil {
		return rs, err
	}
	rs = append(rs, Result{Name: "floor: veth into netns p50", Cane: ms(percentile(fl, .5)), Unit: "ms", Note: fmt.Sprintf("p99 %.2f ms; Cane ADD p50 is %.1f× this", ms(percentile(fl, .99)), ms(percentile(c.adds, .5))/ms(percentile(fl, .5)))})
	rs = append(rs, judged(Result{Name: fmt.Sprintf("caned RSS with %d pods", pods), Cane: rss, Unit: "MiB", Target: "< 64 MiB"}, rss < 64))

	fmt.Printf("tunnel flows for %d remote nodes ...\n", nodes)
	full, one, err := tunnelFlows(ctx, node, nodes)
	if err != nil {
		return rs, err
	}
	rs = append(rs, judged(Result{Name: fmt.Sprintf("flows for %d remote nodes", nodes), Cane: ms(full), Unit: "ms", Target: "< 1000 ms"}, full < time.Second))
	rs = append(rs, judged(Result{Name: "flows for one more node", Cane: ms(one), Unit: "ms", Target: "< 20 ms"}, one < 20*time.Millisecond))

	fmt.Println("caned restart with pods streaming ...")
	ready, lost, sent, err := restart(ctx, tb, node, pods)
	if err != nil {
		return rs, err
	}
	rs = append(rs, judged(Result{Name: fmt.Sprintf("caned restart, %d pods: ready", pods), Cane: ms(ready), Unit: "ms", Target: "< 2000 ms", Note: "standalone node, no remote nodes"}, ready < 2*time.Second))
	rs = append(rs, judged(Result{Name: "caned restart: datagrams lost", Cane: float64(lost), Unit: "of " + fmt.Sprint(sent), Target: "0"}, lost == 0))

	if k8sDir != "" {
		fmt.Printf("caned restart with %d pods in a cluster of %d nodes ...\n", pods, nodes)
		cr, err := clusterRestart(ctx, tb, k8sDir, crdDir, pods, nodes)
		if err != nil {
			return rs, err
		}
		note := fmt.Sprintf("%d remote-node flows; first start %.0f ms", cr.remoteFlows, ms(cr.firstReady))
		rs = append(rs, judged(Result{Name: fmt.Sprintf("caned restart, %d pods, %d nodes: ready", pods, nodes), Cane: ms(cr.ready), Unit: "ms", Target: "< 2000 ms", Note: note}, cr.ready < 2*time.Second))
		rs = append(rs, judged(Result{Name: "  its datagrams lost", Cane: float64(cr.lost), Unit: "of " + fmt.Sprint(cr.sent), Target: "0"}, cr.lost == 0))
		rs = append(rs, judged(Result{Name: fmt.Sprintf("caned RSS, %d pods, %d nodes", pods, nodes), Cane: cr.rss, Unit: "MiB", Target: "< 64 MiB", Note: fmt.Sprintf("2 s after the restart's ready; %.1f MiB anonymous, the rest the binary's pages", cr.anon)}, cr.rss < 64))
	}

	fmt.Println("TCP throughput: Cane's pipeline vs a bare OVS bridge ...")
	caneBps, bareBps, err := throughput(ctx, tb, node)
	if err != nil {
		return rs, err
	}
	rs = append(rs, judged(Result{Name: "pod-to-pod TCP, 3 s", Cane: caneBps / 1e9, Baseline: bareBps / 1e9, Unit: "Gbit/s", Target: "≥ 0.9× bare OVS (NORMAL)"}, caneBps >= 0.9*bareBps))
	return rs, nil
}

// tunnelFlows installs the tunnel flows of n remote nodes (each with one
// block) on a fresh bridge in one bundle, then those of one more node.
func tunnelFlows(ctx context.Context, node *testbed.Node, n int) (full, one time.Duration, err error) {
	db, err := ovs.Connect(ctx, node.OVS.DBEndpoint())
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if err := db.EnsureBridge(ctx, ovs.BridgeConfig{Name: "br-bench", DatapathType: "netdev"}); err != nil {
		return 0, 0, err
	}
	// Flows are data here: no packet uses these addresses.
	pool := flows.Pool{Name: "big", Domain: "production", CIDR: netip.MustParsePrefix("198.18.0.0/15"), Gateway: netip.MustParseAddr("198.18.0.1")}
	fn := flows.Node{Overlay: true, Domains: []flows.Domain{{Name: "production", VNI: 100}}, Pools: []flows.Pool{pool}}
	remote := func(i int) flows.RemoteNode {
		vtep := netip.AddrFrom4([4]byte{198, 19, 128 + byte(i>>8&0x7f), byte(i)})
		block := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 6), byte(i&63) << 2}), 30)
		return flows.RemoteNode{Name: fmt.Sprint("n", i), VTEP: vtep, Blocks: []flows.RemoteBlock{{CIDR: block, Pool: "big"}}}
	}
	var b ovs.Bundle
	for i := range n {
		b.Add(flows.RemoteFlows(fn, remote(i))...)
	}
	ofc := node.OVS.OpenFlow()
	start := time.Now()
	if err := ofc.Apply(ctx, "br-bench", &b); err != nil {
		return 0, 0, err
	}
	full = time.Since(start)
	var more ovs.Bundle
	more.Add(flows.RemoteFlows(fn, remote(n))...)
	start = time.Now()
	if err := ofc.Apply(ctx, "br-bench", &more); err != nil {
		return 0, 0, err
	}
	return full, time.Since(start), nil
}

// restart keeps n pods attached, streams UDP between two of them every
// 5 ms, restarts caned, and says how long until ready and what was lost.
func restart(ctx context.Context, tb *testbed.Testbed, node *testbed.Node, n int) (time.Duration, int, int, error) {
	var pods []*testbed.Pod
	for i := range n {
		p, err := tb.AddPod(ctx, node, fmt.Sprintf("bench/keep-%d", i), "prod")
		if err != nil {
			return 0, 0, 0, err
		}
		pods = append(pods, p)
	}
	s, err := testbed.StartStream(pods[0].NS, pods[1].NS, pods[1].IP, 7990, 5*time.Millisecond)
	if err != nil {
		return 0, 0, 0, err
	}
	time.Sleep(200 * time.Millisecond)
	if err := node.KillCaned(); err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	if err := node.StartCaned(ctx); err != nil {
		return 0, 0, 0, err
	}
	ready := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	sent, lost := s.Stop()
	return ready, len(lost), sent, nil
}

// throughput is one TCP stream for 3 s between two Cane pods, and the
// same between two veths on a bare OVS bridge with one NORMAL flow.
func throughput(ctx context.Context, tb *testbed.Testbed, node *testbed.Node) (float64, float64, error) {
	a, err := tb.AddPod(ctx, node, "bench/tcp-a", "prod")
	if err != nil {
		return 0, 0, err
	}
	b, err := tb.AddPod(ctx, node, "bench/tcp-b", "prod")
	if err != nil {
		return 0, 0, err
	}
	caneBps, err := testbed.TCPThroughput(a.NS, b.NS, b.IP, 5201, 3*time.Second)
	if err != nil {
		return 0, 0, fmt.Errorf("cane: %w", err)
	}
	bareA, bareB, err := bareBridge(ctx, tb, node)
	if err != nil {
		return 0, 0, err
	}
	bareBps, err := testbed.TCPThroughput(bareA, bareB, netip.MustParseAddr("198.19.96.2"), 5201, 3*time.Second)
	if err != nil {
		return 0, 0, fmt.Errorf("bare: %w", err)
	}
	return caneBps, bareBps, nil
}

// bareBridge is an OVS bridge with one NORMAL flow and two netns on it
// (198.19.96.1 and .2), the same datapath as Cane's.
func bareBridge(ctx context.Context, tb *testbed.Testbed, node *testbed.Node) (ns.NetNS, ns.NetNS, error) {
	db, err := ovs.Connect(ctx, node.OVS.DBEndpoint())
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	if err := db.EnsureBridge(ctx, ovs.BridgeConfig{Name: "br-bare", DatapathType: "netdev"}); err != nil {
		return nil, nil, err
	}
	var nss []ns.NetNS
	var ofports []uint32
	for i, ip := range []string{"198.19.96.1/24", "198.19.96.2/24"} {
		pod, err := tb.NewNetNS()
		if err != nil {
			return nil, nil, err
		}
		host := fmt.Sprintf("bare%d", i)
		err = node.NS.Do(func(ns.NetNS) error {
			f, err := os.Open(pod.Path())
			if err != nil {
				return err
			}
			defer f.Close()
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(f.Fd()))}); err != nil {
				return err
			}
			l, err := netlink.LinkByName(host)
			if err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		})
		if err != nil {
			return nil, nil, err
		}
		err = pod.Do(func(ns.NetNS) error {
			l, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			addr, _ := netlink.ParseAddr(ip)
			if err := netlink.AddrAdd(l, addr); err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		})
		if err != nil {
			return nil, nil, err
		}
		ofport, err := db.AddPort(ctx, ovs.PortConfig{Bridge: "br-bare", Name: host})
		if err != nil {
			return nil, nil, err
		}
		ofports = append(ofports, uint32(ofport))
		nss = append(nss, pod)
	}
	// Bare OVS: each port's frames go straight out of the other (Cane's
	// vocabulary has no NORMAL, and the baseline needs no learning).
	var nb ovs.Bundle
	nb.Add(of.NewFlow(0, 0, 0).Match(of.InPort(ofports[0])).Do(of.Output{Port: ofports[1]}),
		of.NewFlow(0, 0, 0).Match(of.InPort(ofports[1])).Do(of.Output{Port: ofports[0]}))
	if err := node.OVS.OpenFlow().Apply(ctx, "br-bare", &nb); err != nil {
		return nil, nil, err
	}
	return nss[0], nss[1], nil
}
