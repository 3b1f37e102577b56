package daemon

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// TestChurn: 1,000 random ADD, DEL and CHECK requests on 40 containers
// from 8 workers at once, so one container is often in two requests at a
// time and ADD and DEL repeat. Whatever order they ran in, the end state
// must be one story: allocations == attachments == OVS ports == host
// veths == pod flows, each address once, and every attached container's
// netns holds its address while every other's holds no Cane interface.
func TestChurn(t *testing.T) {
	ops, containers := 1000, 40
	if testing.Short() {
		ops = 200
	}
	n := newNode(t)
	nss := map[string]ns.NetNS{}
	var ids []string
	for i := range containers {
		id := "churn" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		ids = append(ids, id)
		nss[id] = podnettest.NewNS(t)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	work := make(chan [2]string)
	go func() {
		r := rand.New(rand.NewPCG(seed, 0))
		for range ops {
			work <- [2]string{[]string{"ADD", "ADD", "DEL", "CHECK"}[r.IntN(4)], ids[r.IntN(len(ids))]}
		}
		close(work)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				_, err := n.cni(w[0], w[1], nss[w[1]].Path(), "prod")
				// CHECK of a container that is not attached is refused;
				// nothing else may fail.
				if err != nil && !(w[0] == "CHECK" && code(err) == 3) {
					t.Errorf("%s %s: %v", w[0], w[1], err)
				}
				mu.Lock()
				counts[w[0]]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests (%v) in %s", ops, counts, time.Since(start).Round(time.Millisecond))
	n.assertConsistent(nss)
}

// assertConsistent checks that every view of the node's pods agrees; nss
// are the netns of every container that may be attached, by container ID.
func (n *node) assertConsistent(nss map[string]ns.NetNS) {
	t := n.t
	t.Helper()
	ctx := context.Background()
	allocs := map[string]netip.Addr{}
	byIP := map[netip.Addr]string{}
	for _, a := range n.d.ipam.List() {
		if other, ok := byIP[a.IP]; ok {
			t.Errorf("address %s allocated to %s and %s", a.IP, other, a.ContainerID)
		}
		byIP[a.IP] = a.ContainerID
		allocs[a.ContainerID] = a.IP
	}
	var attached, ports, veths []string
	for _, p := range n.d.inspect.Pods() {
		attached = append(attached, p.ContainerID)
		if allocs[p.ContainerID] != p.IP {
			t.Errorf("attachment %s has %s, its allocation %s", p.ContainerID, p.IP, allocs[p.ContainerID])
		}
	}
	ps, err := must(n.d.sess.current()).Ports(ctx, n.cfg.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if c := p.ExternalIDs[idContainer]; c != "" {
			ports = append(ports, c)
		}
	}
	_ = n.ovs.NS.Do(func(ns.NetNS) error {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Type() == "veth" {
				veths = append(veths, l.Attrs().Name)
			}
		}
		return nil
	})
	var allocated []string
	for c := range allocs {
		allocated = append(allocated, c)
	}
	sort.Strings(allocated)
	sort.Strings(attached)
	sort.Strings(ports)
	if !equal(allocated, attached) || !equal(allocated, ports) || len(veths) != len(allocated) {
		t.Errorf("allocations %v\nattachments %v\nOVS ports %v\nveths %v", allocated, attached, ports, veths)
	}
	podFlowSel := flows.NewCookie(0, flows.KindPod, 0, 0).Select(0xff << 40)
	if got := n.flowCount(podFlowSel); got != len(allocated)*podFlows {
		t.Errorf("%d pod flows for %d pods, want %d", got, len(allocated), len(allocated)*podFlows)
	}
	for id, netns := range nss {
		ip, ok := allocs[id]
		_ = netns.Do(func(ns.NetNS) error {
			l, err := netlink.LinkByName("eth0")
			if !ok {
				if err == nil {
					t.Errorf("%s is not attached but its netns has eth0", id)
				}
				return nil
			}
			if err != nil {
				t.Errorf("%s is attached (%s) but its netns has no eth0: %v", id, ip, err)
				return nil
			}
			addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
			if len(addrs) != 1 || !addrs[0].IP.Equal(ip.AsSlice()) {
				t.Errorf("%s: eth0 has %v, want %s", id, addrs, ip)
			}
			return nil
		})
		if ok {
			if _, err := n.cni("CHECK", id, netns.Path(), "prod"); err != nil {
				t.Errorf("CHECK %s: %v", id, err)
			}
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
