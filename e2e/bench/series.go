package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/e2e/testbed"
)

const caneConfig = `{
  "domains": [{"name": "production", "vni": 100}],
  "pools": [{"name": "prod", "domain": "production", "cidr": "198.19.16.0/20", "gateway": "198.19.16.1", "blockSize": 26}]
}`

// refList is the reference: bridge + host-local, as a runtime would
// configure them, on a Linux bridge of the node.
func refList(dir string) (*libcni.NetworkConfigList, error) {
	return libcni.ConfListFromBytes([]byte(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"ref","plugins":[
	  {"type":"bridge","bridge":"refbr0","isGateway":true,"ipMasq":false,
	   "ipam":{"type":"host-local","subnet":"198.19.64.0/20","dataDir":%q}}]}`, filepath.Join(dir, "host-local"))))
}

// plugin is one side of a comparison: how to ADD and DEL one pod.
type plugin struct {
	name string
	add  func(ctx context.Context, rc *libcni.RuntimeConf) error
	del  func(ctx context.Context, rc *libcni.RuntimeConf) error
}

// inNode runs f in the node's netns (the thread's netns is what the
// plugin binaries libcni starts inherit).
func inNode(node *testbed.Node, f func() error) error {
	return node.NS.Do(func(ns.NetNS) error { return f() })
}

func plugins(tb *testbed.Testbed, node *testbed.Node) ([]plugin, error) {
	caneList, err := node.ConfList()
	if err != nil {
		return nil, err
	}
	ref, err := refList(tb.Dir)
	if err != nil {
		return nil, err
	}
	cni := tb.CNI()
	mk := func(name string, list *libcni.NetworkConfigList) plugin {
		return plugin{name: name,
			add: func(ctx context.Context, rc *libcni.RuntimeConf) error {
				return inNode(node, func() error { _, err := cni.AddNetworkList(ctx, list, rc); return err })
			},
			del: func(ctx context.Context, rc *libcni.RuntimeConf) error {
				return inNode(node, func() error { return cni.DelNetworkList(ctx, list, rc) })
			},
		}
	}
	return []plugin{mk("cane", caneList), mk("bridge+host-local", ref)}, nil
}

// podConf is a pod's runtime config (a fresh netns).
func podConf(tb *testbed.Testbed, name string) (*libcni.RuntimeConf, ns.NetNS, error) {
	n, err := tb.NewNetNS()
	if err != nil {
		return nil, nil, err
	}
	return &libcni.RuntimeConf{ContainerID: "bench-" + filepath.Base(n.Path()), NetNS: n.Path(), IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "bench"}, {"K8S_POD_NAME", name}, {"CANE_POOL", "prod"}}}, n, nil
}

// sequential ADDs then DELs n pods one at a time; returns both latencies.
func sequential(ctx context.Context, tb *testbed.Testbed, p plugin, n int, during func() error) (adds, dels []time.Duration, err error) {
	var rcs []*libcni.RuntimeConf
	for i := range n {
		rc, _, err := podConf(tb, fmt.Sprintf("seq-%d", i))
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		if err := p.add(ctx, rc); err != nil {
			return nil, nil, fmt.Errorf("%s ADD %d: %w", p.name, i, err)
		}
		adds = append(adds, time.Since(start))
		rcs = append(rcs, rc)
	}
	if during != nil {
		if err := during(); err != nil {
			return nil, nil, err
		}
	}
	for i, rc := range rcs {
		start := time.Now()
		if err := p.del(ctx, rc); err != nil {
			return nil, nil, fmt.Errorf("%s DEL %d: %w", p.name, i, err)
		}
		dels = append(dels, time.Since(start))
	}
	return adds, dels, nil
}

// burst ADDs n pods from `parallel` workers; returns pods/s and each ADD's
// latency, then DELs them.
func burst(ctx context.Context, tb *testbed.Testbed, p plugin, n, parallel int) (float64, []time.Duration, error) {
	var rcs []*libcni.RuntimeConf
	for i := range n {
		rc, _, err := podConf(tb, fmt.Sprintf("burst-%d", i))
		if err != nil {
			return 0, nil, err
		}
		rcs = append(rcs, rc)
	}
	work := make(chan *libcni.RuntimeConf)
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rc := range work {
				t := time.Now()
				err := p.add(ctx, rc)
				mu.Lock()
				lat = append(lat, time.Since(t))
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, rc := range rcs {
		work <- rc
	}
	close(work)
	wg.Wait()
	rate := float64(n) / time.Since(start).Seconds()
	for _, rc := range rcs {
		_ = p.del(ctx, rc)
	}
	if len(errs) > 0 {
		return 0, nil, fmt.Errorf("%s burst: %d ADDs failed, first: %w", p.name, len(errs), errs[0])
	}
	return rate, lat, nil
}

// floor is the cost of the one thing every plugin must do: a veth created
// with its peer already in the pod's netns (and deleted again).
func floor(tb *testbed.Testbed, node *testbed.Node, n int) ([]time.Duration, error) {
	var lat []time.Duration
	err := node.NS.Do(func(ns.NetNS) error {
		for i := range n {
			pod, err := tb.NewNetNS()
			if err != nil {
				return err
			}
			fd, err := os.Open(pod.Path())
			if err != nil {
				return err
			}
			name := fmt.Sprintf("floor%d", i)
			start := time.Now()
			err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd.Fd()))})
			lat = append(lat, time.Since(start))
			fd.Close()
			if err != nil {
				return err
			}
			if l, err := netlink.LinkByName(name); err == nil {
				_ = netlink.LinkDel(l)
			}
		}
		return nil
	})
	return lat, err
}

// canedRSS is caned's resident set in MiB.
func canedRSS(node *testbed.Node) (float64, error) { return canedMem(node, "VmRSS:") }

// canedMem is one /proc/PID/status memory line of caned, in MiB (RssAnon:
// what caned owns; RssFile: its binary's pages).
func canedMem(node *testbed.Node, key string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", node.CanedPID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s for caned", key)
}

func startNode(ctx context.Context, tb *testbed.Testbed) (*testbed.Node, error) {
	cfg, err := daemon.ParseConfig([]byte(caneConfig))
	if err != nil {
		return nil, err
	}
	return tb.StartNode(ctx, "node1", cfg)
}
