package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
	"github.com/cane-cni/cane/podnet"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// podFlows is how many flows one pod has.
var podFlows = len(flows.PodFlows(flows.Pod{}))

// node is a daemon on a real OVS in its own netns.
type node struct {
	t   testing.TB
	ovs *ovstest.Instance
	cfg Config
	d   *Daemon
}

func newNode(t testing.TB, mutate ...func(*Config)) *node {
	o := ovstest.Start(t)
	cfg, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OVSDB, cfg.OVSRunDir, cfg.Datapath = o.DBEndpoint(), o.Dir, "netdev"
	cfg.State = filepath.Join(t.TempDir(), "state.db")
	for _, m := range mutate {
		m(&cfg)
	}
	n := &node{t: t, ovs: o, cfg: cfg}
	n.start()
	t.Cleanup(func() { n.d.Close() })
	return n
}

func (n *node) start() {
	n.t.Helper()
	d, err := New(n.cfg, n.ovs.NS, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		n.t.Fatal(err)
	}
	n.d = d
}

func (n *node) restart() {
	n.t.Helper()
	n.d.Close()
	n.start()
}

func confFor(pool string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"cniVersion":"1.1.0","name":"cane","type":"cane","pool":%q}`, pool))
}

func (n *node) cni(cmd, id, netns, pool string) (*current.Result, error) {
	res, cerr := n.d.CNI(context.Background(), api.CNIRequest{Command: cmd, ContainerID: id, Netns: netns, IfName: "eth0", Config: confFor(pool)})
	if cerr != nil {
		return nil, cerr
	}
	if cmd != "ADD" {
		return nil, nil
	}
	var r current.Result
	if err := json.Unmarshal(res, &r); err != nil {
		n.t.Fatal(err)
	}
	return &r, nil
}

// addPod makes a pod netns and ADDs container id to pool in it.
func (n *node) addPod(id, pool string) ns.NetNS {
	n.t.Helper()
	pod := podnettest.NewNS(n.t)
	if _, err := n.cni("ADD", id, pod.Path(), pool); err != nil {
		n.t.Fatalf("ADD %s: %v", id, err)
	}
	return pod
}

func (n *node) flowCount(sel of.Selector) int {
	n.t.Helper()
	fs, err := n.d.pipe.of.Dump(context.Background(), "br-int", sel)
	if err != nil {
		n.t.Fatal(err)
	}
	return len(fs)
}

// ports are the pod ports on the bridge (not the host port).
func (n *node) ports() []string {
	ps, _ := must(n.d.sess.current()).Ports(context.Background(), "br-int")
	var names []string
	for _, p := range ps {
		if p.ExternalIDs[idContainer] != "" {
			names = append(names, p.Name)
		}
	}
	return names
}

// code is the CNI error code of err, 0 for nil.
func code(err error) uint {
	var ce *types.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func TestAddCheckDel(t *testing.T) {
	n := newNode(t)
	podA, podB := podnettest.NewNS(t), podnettest.NewNS(t)
	a, err := n.cni("ADD", "ctr-a", podA.Path(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.cni("ADD", "ctr-b", podB.Path(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.IPs[0].Address.String(); got != "198.19.0.2/24" {
		t.Errorf("pod A address %s", got)
	}
	if got := b.IPs[0].Address.String(); got != "198.19.1.2/24" {
		t.Errorf("pod B address %s", got)
	}
	if len(a.Routes) != 1 || a.Routes[0].GW.String() != "198.19.0.1" || a.Interfaces[1].Sandbox != podA.Path() {
		t.Errorf("result %+v", a)
	}
	// ADD again is idempotent.
	again, err := n.cni("ADD", "ctr-a", podA.Path(), "prod")
	if err != nil || again.IPs[0].Address.String() != "198.19.0.2/24" {
		t.Fatalf("second ADD: %v %v", again, err)
	}
	pods := n.d.inspect.Pods()
	if len(pods) != 2 || pods[0].Domain != "production" || pods[1].Domain != "test" {
		t.Fatalf("pods %+v", pods)
	}
	for _, p := range pods {
		if got := n.flowCount(flows.PodCookie(uint32(p.OFPort))); got != podFlows {
			t.Errorf("pod %s has %d flows, want %d", p.IP, got, podFlows)
		}
	}
	if _, err := n.cni("CHECK", "ctr-a", podA.Path(), "prod"); err != nil {
		t.Fatalf("CHECK: %v", err)
	}
	// CHECK catches a deleted route.
	podnettest.DeleteDefaultRoute(t, podA, "eth0")
	if _, err := n.cni("CHECK", "ctr-a", podA.Path(), "prod"); err == nil || !strings.Contains(err.Error(), "route") {
		t.Fatalf("CHECK with route deleted: %v", err)
	}
	// CHECK catches a deleted flow.
	if _, err := n.cni("CHECK", "ctr-b", podB.Path(), "test"); err != nil {
		t.Fatalf("CHECK pod B: %v", err)
	}
	var del ovs.Bundle
	del.Delete(flows.PodCookie(uint32(pods[1].OFPort)).InTable(uint8(flows.Forward)))
	if err := n.d.pipe.of.Apply(context.Background(), "br-int", &del); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cni("CHECK", "ctr-b", podB.Path(), "test"); err == nil || !strings.Contains(err.Error(), "missing cookie=") || !strings.Contains(err.Error(), "table=40,") {
		t.Fatalf("CHECK with a flow deleted: %v", err)
	}
	// DEL twice; nothing of pod A remains.
	for i := 0; i < 2; i++ {
		if _, err := n.cni("DEL", "ctr-a", podA.Path(), "prod"); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if got := n.flowCount(flows.PodCookie(uint32(pods[0].OFPort))); got != 0 {
		t.Errorf("%d flows of deleted pod left", got)
	}
	if ps := n.ports(); len(ps) != 1 || ps[0] != pods[1].Port {
		t.Errorf("ports after DEL: %v", ps)
	}
	if _, ok := n.d.ipam.Get("ctr-a", "eth0"); ok {
		t.Error("address of deleted pod still allocated")
	}
	_ = n.ovs.NS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName(pods[0].Port); err == nil {
			t.Error("host veth of deleted pod left")
		}
		return nil
	})
	// DEL with the netns already gone works too.
	if _, err := n.cni("DEL", "ctr-b", "", "test"); err != nil {
		t.Fatalf("DEL without netns: %v", err)
	}
	if len(n.d.inspect.Pods()) != 0 || len(n.ports()) != 0 {
		t.Fatalf("left behind: pods %v ports %v", n.d.inspect.Pods(), n.ports())
	}
}

func TestAddErrorsRollBack(t *testing.T) {
	n := newNode(t, func(c *Config) {
		c.Pools[1].CIDR = mustPrefix("198.19.1.0/30")
		c.Pools[1].Gateway = mustAddr("198.19.1.1")
		c.Pools[1].BlockSize = 30
	})
	pod := podnettest.NewNS(t)
	tests := []struct {
		name, id, netns, pool string
		code                  uint
	}{
		{"bad netns", "c1", "/var/run/netns/nope", "prod", 8},
		{"unknown pool", "c1", pod.Path(), "nope", api.CodeUnknownPool},
		{"empty container id", "", pod.Path(), "prod", 4},
	}
	for _, tc := range tests {
		if _, err := n.cni("ADD", tc.id, tc.netns, tc.pool); code(err) != tc.code {
			t.Errorf("%s: %v, want code %d", tc.name, err, tc.code)
		}
	}
	// Pool with one usable address: second ADD is refused as exhausted.
	if _, err := n.cni("ADD", "c1", pod.Path(), "test"); err != nil {
		t.Fatal(err)
	}
	pod2 := podnettest.NewNS(t)
	if _, err := n.cni("ADD", "c2", pod2.Path(), "test"); code(err) != api.CodePoolExhausted {
		t.Fatalf("exhausted pool: %v", err)
	}
	// An ADD that fails after allocating (eth0 already in the pod) undoes all.
	if _, err := n.cni("ADD", "c3", pod.Path(), "prod"); err == nil {
		t.Fatal("ADD into a netns that has eth0 succeeded")
	}
	if _, ok := n.d.ipam.Get("c3", "eth0"); ok {
		t.Error("failed ADD kept its address")
	}
	if ps := n.ports(); len(ps) != 1 {
		t.Errorf("failed ADD left ports: %v", ps)
	}
}

// TestRestartKeepsFlows: a restart with nothing changed writes no flow —
// the flows keep their packet counters (an add would reset them) and
// their round — while a flow missing, a stale one and one of another
// round are fixed by the same resync.
func TestRestartKeepsFlows(t *testing.T) {
	n := newNode(t)
	pod := n.addPod("c1", "prod")
	before := n.flowCount(of.Selector{})
	round := uint16(n.d.pipe.round.Load())
	// Count packets on the pod's flows: the pod sends to its gateway (ARP,
	// then UDP).
	_ = pod.Do(func(ns.NetNS) error {
		c, err := net.Dial("udp4", "198.19.0.1:9")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range 3 {
			_, _ = c.Write([]byte("x"))
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	})
	counted := func() uint64 {
		fs, err := n.d.pipe.of.Dump(context.Background(), "br-int", flows.PodCookie(uint32(n.d.inspect.Pods()[0].OFPort)))
		if err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for _, f := range fs {
			sum += f.Packets
		}
		return sum
	}
	packets := counted()
	if packets == 0 {
		t.Fatal("no packets counted before the restart")
	}
	n.restart()
	if got := uint16(n.d.pipe.round.Load()); got != round {
		t.Fatalf("round %d after restart, want %d (the bridge's)", got, round)
	}
	if after := n.flowCount(of.Selector{}); after != before {
		t.Fatalf("%d flows after restart, %d before", after, before)
	}
	if got := counted(); got < packets {
		t.Fatalf("pod flows counted %d packets after the restart, %d before: they were rewritten", got, packets)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Fatalf("CHECK after restart: %v", err)
	}

	// Break the pipeline three ways; the next restart fixes exactly that.
	var b ovs.Bundle
	b.DeleteStrict(of.NewFlow(uint8(flows.DomainPolicy), 0, 0))
	b.Add(of.NewFlow(uint8(flows.Forward), 200, uint64(flows.NewCookie(round, flows.KindPod, 0, 99))).Proto(of.ProtoIP).Match(of.IPv4Dst(netip.MustParsePrefix("198.19.0.99/32"))))
	b.Add(of.NewFlow(uint8(flows.Forward), 300, uint64(flows.NewCookie(round+7, flows.KindBase, 0, 0))).Proto(of.ProtoIP).Match(of.IPv4Dst(netip.MustParsePrefix("198.19.0.98/32"))))
	if err := n.d.pipe.of.Apply(context.Background(), "br-int", &b); err != nil {
		t.Fatal(err)
	}
	n.restart()
	if after := n.flowCount(of.Selector{}); after != before {
		t.Fatalf("%d flows after the repairing restart, %d before", after, before)
	}
	if stray := n.flowCount(roundCookie(round + 7)); stray != 0 {
		t.Fatalf("%d flows of another round left", stray)
	}
	policy, err := n.d.pipe.of.Dump(context.Background(), "br-int", of.Selector{}.InTable(uint8(flows.DomainPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	restored := false
	for _, f := range policy {
		restored = restored || (f.Priority == 0 && len(f.Actions) == 0)
	}
	if !restored {
		t.Fatal("the deleted default flow of DomainPolicy was not restored")
	}
	// The restarted daemon still deletes the pod properly.
	if _, err := n.cni("DEL", "c1", pod.Path(), "prod"); err != nil {
		t.Fatal(err)
	}
	if len(n.ports()) != 0 {
		t.Fatalf("ports left: %v", n.ports())
	}
}

func TestGC(t *testing.T) {
	n := newNode(t)
	keep, drop := podnettest.NewNS(t), podnettest.NewNS(t)
	if _, err := n.cni("ADD", "keep", keep.Path(), "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cni("ADD", "drop", drop.Path(), "prod"); err != nil {
		t.Fatal(err)
	}
	gc := json.RawMessage(`{"cniVersion":"1.1.0","name":"cane","type":"cane","cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]}`)
	if _, cerr := n.d.CNI(context.Background(), api.CNIRequest{Command: "GC", Config: gc}); cerr != nil {
		t.Fatal(cerr)
	}
	pods := n.d.inspect.Pods()
	if len(pods) != 1 || pods[0].ContainerID != "keep" {
		t.Fatalf("after GC: %+v", pods)
	}
	if ps := n.ports(); len(ps) != 1 || ps[0] != podnet.HostIfName("keep", "eth0") {
		t.Fatalf("ports after GC: %v", ps)
	}
}

func TestStatusNotReady(t *testing.T) {
	cfg, _ := ParseConfig([]byte(goodConfig))
	cfg.State = filepath.Join(t.TempDir(), "s.db")
	cfg.OVSDB = "unix:" + filepath.Join(t.TempDir(), "none.sock")
	d, err := New(cfg, nil, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, cerr := d.CNI(context.Background(), api.CNIRequest{Command: "STATUS", Config: confFor("prod")})
	if cerr == nil || cerr.Code != api.CodePluginNotAvailable {
		t.Fatalf("STATUS while starting: %v", cerr)
	}
	_, cerr = d.CNI(context.Background(), api.CNIRequest{Command: "ADD", ContainerID: "c", IfName: "eth0", Netns: "/proc/self/ns/net", Config: confFor("prod")})
	if cerr == nil || cerr.Code != 11 {
		t.Fatalf("ADD while starting: %v", cerr)
	}
}

// running is a node with one pod, its Run loop started and past its first
// resync; it returns the pod, the flow count and the resync count then.
func running(t *testing.T) (*node, ns.NetNS, int, uint64) {
	n := newNode(t)
	pod := n.addPod("c1", "prod")
	flowsBefore := n.flowCount(of.Selector{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resyncs0 := n.d.inspect.Status().Resyncs
	go n.d.Run(ctx)
	waitFor(t, "Run's first resync", func() bool { s := n.d.inspect.Status(); return s.Ready && s.Resyncs > resyncs0 })
	return n, pod, flowsBefore, n.d.inspect.Status().Resyncs
}

// TestOVSDBRestart: ovsdb-server goes away and comes back; caned reports
// not ready meanwhile, then reconnects, resyncs, and the pod is intact.
func TestOVSDBRestart(t *testing.T) {
	n, pod, flowsBefore, resyncs := running(t)
	if err := n.ovs.StopDB(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "not ready", func() bool { return !n.d.inspect.Status().Ready })
	if _, err := n.cni("ADD", "c2", pod.Path(), "prod"); code(err) != 11 {
		t.Fatalf("ADD while OVS is down: %v, want code 11", err)
	}
	if err := n.ovs.StartDB(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready again", func() bool { s := n.d.inspect.Status(); return s.Ready && s.Resyncs > resyncs })
	if got := n.flowCount(of.Selector{}); got != flowsBefore {
		t.Fatalf("%d flows after the resync, %d before", got, flowsBefore)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Fatalf("CHECK after ovsdb-server restart: %v", err)
	}
}

// TestConcurrentAddDel: many containers at once, each also ADDed twice and
// DELed concurrently; at the end allocations, attachments, OVS ports and
// pod flows agree exactly.
func TestConcurrentAddDel(t *testing.T) {
	n := newNode(t)
	const pods = 12
	nss := make([]ns.NetNS, pods)
	for i := range nss {
		nss[i] = podnettest.NewNS(t)
	}
	var wg sync.WaitGroup
	for i := 0; i < pods; i++ {
		id := fmt.Sprintf("c%d", i)
		for j := 0; j < 2; j++ { // duplicate ADDs race each other
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.cni("ADD", id, nss[i].Path(), "prod"); err != nil {
					t.Errorf("ADD %s: %v", id, err)
				}
			}()
		}
	}
	wg.Wait()
	for i := 0; i < pods; i += 2 { // half go away, concurrently, DEL twice each
		for j := 0; j < 2; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.cni("DEL", fmt.Sprintf("c%d", i), nss[i].Path(), "prod"); err != nil {
					t.Errorf("DEL: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	all := map[string]ns.NetNS{}
	for i, netns := range nss {
		all[fmt.Sprintf("c%d", i)] = netns
	}
	n.assertConsistent(all)
	if got := len(n.d.inspect.Pods()); got != pods/2 {
		t.Fatalf("%d pods attached, want %d", got, pods/2)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestVswitchdRestart: ovs-vswitchd restarts (ovsdb-server stays), taking
// every flow with it; caned notices, replays them, and the pod is intact.
func TestVswitchdRestart(t *testing.T) {
	n, pod, flowsBefore, resyncs := running(t)
	if err := n.ovs.StopSwitch(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "not ready", func() bool { return !n.d.inspect.Status().Ready })
	start := time.Now()
	if err := n.ovs.StartSwitch(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready again", func() bool { s := n.d.inspect.Status(); return s.Ready && s.Resyncs > resyncs })
	t.Logf("flows replayed %s after vswitchd started again", time.Since(start).Round(time.Millisecond))
	if got := n.flowCount(of.Selector{}); got != flowsBefore {
		t.Fatalf("%d flows after the replay, %d before", got, flowsBefore)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Fatalf("CHECK after vswitchd restart: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestAddOFPortTaken: a pod's flows go to vswitchd with the ofport Cane
// requests, while the port is attached. When that ofport was taken behind
// Cane's back, OVS gives the port another, and the flows follow it: none
// is left on the requested one.
func TestAddOFPortTaken(t *testing.T) {
	n := newNode(t)
	if _, err := must(n.d.sess.current()).AddPort(context.Background(), ovs.PortConfig{Bridge: "br-int", Name: "intruder", Type: "internal", OFPortRequest: firstPodOFPort}); err != nil {
		t.Fatal(err)
	}
	pod := n.addPod("c1", "prod")
	pods := n.d.inspect.Pods()
	if len(pods) != 1 || pods[0].OFPort == firstPodOFPort {
		t.Fatalf("pods %+v: want one, not on the intruder's ofport %d", pods, firstPodOFPort)
	}
	if got := n.flowCount(flows.PodCookie(uint32(firstPodOFPort))); got != 0 {
		t.Errorf("%d flows left for the requested ofport %d", got, firstPodOFPort)
	}
	if got, want := n.flowCount(flows.PodCookie(uint32(pods[0].OFPort))), len(flows.PodFlows(flows.Pod{})); got != want {
		t.Errorf("%d flows for the pod's ofport %d, want %d", got, pods[0].OFPort, want)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Errorf("CHECK: %v", err)
	}
}

// TestCheckAfterChain: CHECK runs after the whole chain's ADD, so what a
// chained plugin may change must pass: tuning lowering the MTU, an extra
// route. An MTU above what the network carries or a changed pod flow
// fail, each saying why; a pool removed under the pod does not.
func TestCheckAfterChain(t *testing.T) {
	n := newNode(t)
	pod := n.addPod("c1", "prod")
	setMTU := func(mtu int) {
		t.Helper()
		_ = pod.Do(func(ns.NetNS) error {
			l, err := netlink.LinkByName("eth0")
			if err == nil {
				err = netlink.LinkSetMTU(l, mtu)
			}
			if err != nil {
				t.Fatal(err)
			}
			return nil
		})
	}
	setMTU(1400) // tuning's "mtu": 1400
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Fatalf("CHECK after a chained plugin lowered the MTU: %v", err)
	}
	setMTU(9000)
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err == nil || !strings.Contains(err.Error(), "MTU 9000") {
		t.Fatalf("CHECK with an MTU above the network's: %v", err)
	}
	setMTU(1400)
	p := n.d.inspect.Pods()[0]
	var b ovs.Bundle
	b.Add(of.NewFlow(uint8(flows.Forward), uint16(flows.ForwardPod), uint64(flows.NewCookie(n.d.pipe.currentRound(), flows.KindPod, 0, uint32(p.OFPort)))).
		Proto(of.ProtoIP).Match(of.IPv4Dst(of.Host(p.IP))))
	if err := n.d.pipe.of.Apply(context.Background(), "br-int", &b); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err == nil || !strings.Contains(err.Error(), "different cookie=") || !strings.Contains(err.Error(), "actions=drop, want") {
		t.Fatalf("CHECK with a pod flow changed: %v", err)
	}
	// The pod keeps the subnet and gateway it was given when its pool goes
	// (never a /0): CHECK passes once the pod's flow is right again.
	if err := n.d.ipam.SetPools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var fix ovs.Bundle
	fix.Add(n.d.pipe.withRound(flows.PodFlows(n.d.want.pod(n.d.atts.list()[0])))...)
	if err := n.d.pipe.of.Apply(context.Background(), "br-int", &fix); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cni("CHECK", "c1", pod.Path(), "prod"); err != nil {
		t.Fatalf("CHECK with the pod's pool gone: %v", err)
	}
}
