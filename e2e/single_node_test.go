package e2e

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/podnet"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// twoDomains is a node config with production and test, isolated.
func twoDomains(t *testing.T) daemon.Config {
	t.Helper()
	cfg, err := daemon.ParseConfig([]byte(`{
	  "domains": [{"name": "production", "vni": 100}, {"name": "test", "vni": 200}],
	  "pools": [
	    {"name": "prod", "domain": "production", "cidr": "198.19.0.0/24", "gateway": "198.19.0.1"},
	    {"name": "test", "domain": "test", "cidr": "198.19.1.0/24", "gateway": "198.19.1.1"}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// expect probes every pair at once and reports each protocol whose outcome
// is not want. Expected reachability gets one retry (see ProbeAll).
func expect(t *testing.T, want bool, port int, pairs ...[2]*testbed.Pod) {
	t.Helper()
	results, err := testbed.ProbeAll(pairs, port, want)
	if err != nil {
		t.Fatal(err)
	}
	verb := map[bool]string{true: "no answer", false: "got through"}[want]
	for i, got := range results {
		for _, proto := range []string{"icmp", "tcp", "udp"} {
			if got[proto] != want {
				t.Errorf("%s -> %s over %s: %s", pairs[i][0].Name, pairs[i][1].Name, proto, verb)
			}
		}
	}
}

// TestSingleNode: pods in production and test on one node. Same-domain
// traffic flows, cross-domain traffic and forged frames go nowhere, and
// DEL leaves nothing behind.
func TestSingleNode(t *testing.T) {
	tb, c, node := startNode(t)
	pods := map[string]*testbed.Pod{}
	for _, p := range []struct{ name, pool string }{
		{"shop/prod-a", "prod"}, {"shop/prod-b", "prod"}, {"qa/test-a", "test"}, {"qa/test-b", "test"},
	} {
		pod, err := tb.AddPod(c, node, p.name, p.pool)
		if err != nil {
			t.Fatal(err)
		}
		pods[p.name[strings.Index(p.name, "/")+1:]] = pod
	}
	prodA, prodB, testA, testB := pods["prod-a"], pods["prod-b"], pods["test-a"], pods["test-b"]

	t.Run("addresses come from the domain's pool", func(t *testing.T) {
		for _, p := range []*testbed.Pod{prodA, prodB} {
			if !netip.MustParsePrefix("198.19.0.0/24").Contains(p.IP) {
				t.Errorf("%s got %s", p.Name, p.IP)
			}
		}
		for _, p := range []*testbed.Pod{testA, testB} {
			if !netip.MustParsePrefix("198.19.1.0/24").Contains(p.IP) {
				t.Errorf("%s got %s", p.Name, p.IP)
			}
		}
	})

	t.Run("same domain reaches on every protocol", func(t *testing.T) {
		expect(t, true, 7000, [2]*testbed.Pod{prodA, prodB}, [2]*testbed.Pod{prodB, prodA}, [2]*testbed.Pod{testA, testB})
	})

	t.Run("cross domain fails on every protocol", func(t *testing.T) {
		before, _ := node.Drops(c, flows.ReasonIsolation)
		expect(t, false, 7010, [2]*testbed.Pod{prodA, testA}, [2]*testbed.Pod{testA, prodA}, [2]*testbed.Pod{testB, prodB})
		after, _ := node.Drops(c, flows.ReasonIsolation)
		if after <= before {
			t.Errorf("isolation drop counter did not move: %d -> %d", before, after)
		}
	})

	t.Run("forged frames go nowhere", func(t *testing.T) {
		gw := netip.MustParseAddr("198.19.0.1")
		send := func(from *testbed.Pod, frames ...[]byte) func() error {
			return func() error { return testbed.SendFrame(from.NS, "eth0", frames...) }
		}
		cases := []struct {
			name    string
			from    *testbed.Pod
			frame   testbed.Frame
			src     netip.Addr
			deliver bool
		}{
			{"own MAC and IP (control)", prodB, testbed.Frame{SrcMAC: prodB.MAC, DstMAC: prodA.MAC}, prodB.IP, true},
			{"forged source IP", prodB, testbed.Frame{SrcMAC: prodB.MAC, DstMAC: prodA.MAC}, netip.MustParseAddr("198.19.0.99"), false},
			{"forged source MAC", prodB, testbed.Frame{SrcMAC: net.HardwareAddr{0x0a, 0x58, 1, 2, 3, 4}, DstMAC: prodA.MAC}, prodB.IP, false},
			{"test pod posing as a production pod", testA, testbed.Frame{SrcMAC: prodB.MAC, DstMAC: prodA.MAC}, prodB.IP, false},
			{"802.1Q-tagged frame", prodB, testbed.Frame{SrcMAC: prodB.MAC, DstMAC: prodA.MAC, VLAN: 100}, prodB.IP, false},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				token := []byte("forged-" + tc.name)
				port := uint16(7100 + i)
				got, err := testbed.Received(prodA.NS, prodA.IP, int(port), token,
					send(tc.from, tc.frame.UDP(tc.src, prodA.IP, 40000, port, token)))
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.deliver {
					t.Errorf("delivered = %v, want %v", got, tc.deliver)
				}
			})
		}
		t.Run("ARP poisoning is dropped as spoof", func(t *testing.T) {
			before, _ := node.Drops(c, flows.ReasonSpoof)
			bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			poison := testbed.Frame{SrcMAC: prodB.MAC, DstMAC: bcast}.ARP(2, prodB.MAC, prodA.IP, bcast, prodA.IP)
			gwClaim := testbed.Frame{SrcMAC: prodB.MAC, DstMAC: bcast}.ARP(2, prodB.MAC, gw, bcast, gw)
			if err := testbed.SendFrame(prodB.NS, "eth0", poison, gwClaim); err != nil {
				t.Fatal(err)
			}
			after, _ := node.Drops(c, flows.ReasonSpoof)
			if after-before != 2 {
				t.Errorf("spoof drops went %d -> %d, want +2", before, after)
			}
		})
	})

	t.Run("CHECK catches a deleted route", func(t *testing.T) {
		if err := tb.Check(c, prodB); err != nil {
			t.Fatalf("CHECK of a healthy pod: %v", err)
		}
		podnettest.DeleteDefaultRoute(t, prodB.NS, "eth0")
		if err := tb.Check(c, prodB); err == nil || !strings.Contains(err.Error(), "route") {
			t.Fatalf("CHECK after deleting the route: %v", err)
		}
	})

	t.Run("DEL leaves nothing behind", func(t *testing.T) {
		for _, p := range pods {
			if err := tb.Del(c, p); err != nil {
				t.Fatalf("DEL %s: %v", p.Name, err)
			}
		}
		assertEmpty(t, c, node)
	})
}

// assertEmpty checks a node holds no pod: no attachment, no port, no pod
// flow, no veth, no address.
func assertEmpty(t *testing.T, c context.Context, node *testbed.Node) {
	t.Helper()
	assertOnly(t, c, node)
}

// assertOnly checks a node holds exactly these pods and nothing of any
// other: caned's attachments, allocated addresses (each once), OVS ports,
// pod flows and host veths all match them.
func assertOnly(t *testing.T, c context.Context, node *testbed.Node, want ...*testbed.Pod) {
	t.Helper()
	wantIDs, wantNames := map[string]bool{}, map[string]bool{}
	for _, p := range want {
		wantIDs[p.ContainerID] = true
		wantNames[podnet.HostIfName(p.ContainerID, "eth0")] = true
	}
	var pods []api.Pod
	if err := node.Client().Get(c, "/v1/pods", &pods); err != nil {
		t.Fatal(err)
	}
	ips := map[netip.Addr]bool{}
	for _, p := range pods {
		if !wantIDs[p.ContainerID] || ips[p.IP] {
			t.Errorf("caned lists %+v; want only %d pods, each address once", p, len(want))
		}
		ips[p.IP] = true
	}
	if len(pods) != len(want) {
		t.Errorf("caned lists %d pods, want %d", len(pods), len(want))
	}
	var pools []api.Pool
	if err := node.Client().Get(c, "/v1/pools", &pools); err != nil {
		t.Fatal(err)
	}
	allocated := 0
	for _, p := range pools {
		allocated += p.Allocated
	}
	if allocated != len(want) {
		t.Errorf("%d addresses allocated, want %d", allocated, len(want))
	}
	fs, err := node.OVS.OpenFlow().Dump(c, node.Config.Bridge, flows.NewCookie(0, flows.KindPod, 0, 0).Select(0xff<<40))
	if wantFlows := len(want) * len(flows.PodFlows(flows.Pod{})); err != nil || len(fs) != wantFlows {
		t.Errorf("%d pod flows, want %d (%v)", len(fs), wantFlows, err)
	}
	ports, err := node.PodPorts(c)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(ports, wantNames) {
		t.Errorf("OVS pod ports %v, want %v", ports, wantNames)
	}
	var veths []string
	_ = node.NS.Do(func(ns.NetNS) error {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Type() == "veth" && strings.HasPrefix(l.Attrs().Name, "cane") { // not a cluster node's fabric link
				veths = append(veths, l.Attrs().Name)
			}
		}
		return nil
	})
	if !sameSet(veths, wantNames) {
		t.Errorf("veths on the node %v, want %v", veths, wantNames)
	}
}

func sameSet(got []string, want map[string]bool) bool {
	if len(got) != len(want) {
		return false
	}
	for _, g := range got {
		if !want[g] {
			return false
		}
	}
	return true
}
