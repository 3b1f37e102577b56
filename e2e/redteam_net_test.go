package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// works retries an attack made without a defence until it succeeds (the
// datapath revalidates its flow cache asynchronously after a flow mod),
// and fails the test if it never does: an attack that cannot succeed
// proves nothing about the defence.
func works(t *testing.T, what string, attack func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !attack() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not within 5s, so this attack proves nothing", what)
			return
		}
	}
}

// restored waits until an attack fails again once its defence is back.
func restored(t *testing.T, what string, attack func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for attack() {
		if time.Now().After(deadline) {
			t.Errorf("%s: the attack still works after 5s", what)
			return
		}
	}
}

// sendUDP sends payload from inside n (from src, if valid) to dst.
func sendUDP(n ns.NetNS, src netip.Addr, dst netip.AddrPort, payload []byte) error {
	return n.Do(func(ns.NetNS) error {
		var laddr *net.UDPAddr
		if src.IsValid() {
			laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c, err := net.DialUDP("udp4", laddr, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
}

// podVXLAN: a test pod speaks VXLAN to another node's tunnel port (and its
// own node's), carrying a frame with production's addresses. A listener
// on the node's address, port 4789, stands in for a tunnel endpoint that
// would take it (a kernel VXLAN device). The pipeline drops it as
// node-protect; without that flow it arrives.
func (r *redTeam) podVXLAN(t *testing.T) {
	inner := testbed.Frame{SrcMAC: r.prod3.MAC, DstMAC: r.prod1.MAC}.UDP(r.prod3.IP, r.prod1.IP, 40000, 6200, []byte("inner"))
	attack := func(target *testbed.Node, token string) bool {
		t.Helper()
		got, err := testbed.Received(target.NS, target.VTEP, flows.VXLANPort, []byte(token), func() error {
			return sendUDP(r.test3.NS, netip.Addr{}, netip.AddrPortFrom(target.VTEP, flows.VXLANPort), append(testbed.VXLAN(100, inner), token...))
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	before, _ := r.node3.Drops(r.c, flows.ReasonNodeProtect)
	if attack(r.node1, "pod-vxlan-remote") || attack(r.node3, "pod-vxlan-local") {
		t.Error("a pod's VXLAN reached a node's port 4789")
	}
	waitUntil(t, 5*time.Second, "node3's node-protect drops move", func() bool {
		after, _ := r.node3.Drops(r.c, flows.ReasonNodeProtect)
		return after >= before+2
	})
	// Without the pipeline's guard of port 4789, it arrives.
	var del ovs.Bundle
	fs, err := r.node3.OVS.OpenFlow().Dump(r.c, r.node3.Config.Bridge, flows.NewCookie(0, flows.KindBase, flows.ReasonNodeProtect, 0).Select(flows.ReasonMask))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if strings.Contains(f.String(), "tp_dst=4789") {
			del.DeleteStrictKey(f.Key())
		}
	}
	if del.Len() != 1 {
		t.Fatalf("%d node-protect flows for port 4789 on node3, want 1", del.Len())
	}
	if err := r.node3.OVS.OpenFlow().Apply(r.c, r.node3.Config.Bridge, &del); err != nil {
		t.Fatal(err)
	}
	n := 0
	works(t, "without the guard the pod's VXLAN reaches node1's port 4789", func() bool {
		n++
		return attack(r.node1, fmt.Sprint("pod-vxlan-unguarded-", n))
	})
	t.Log("without the node-protect flow for UDP 4789, a test pod's VXLAN reached node1's tunnel port")
	restartCaned(t, r.c, r.node3)
	restored(t, "node3's restart restores the guard", func() bool { n++; return attack(r.node1, fmt.Sprint("pod-vxlan-restored-", n)) })
}

// underlayVXLAN: an underlay host forges node3's VTEP and sends test's
// VNI around a production pod's frame to a test pod on node1 (and the
// other forgeries of TestMultiNode: an unknown VTEP, an unknown VNI).
// Tunnel ingress binds the VNI to the inner source; with a flow of the
// old kind (admit a known VTEP's packet by its VNI alone) it arrives.
func (r *redTeam) underlayVXLAN(t *testing.T) {
	before, _ := r.node1.Drops(r.c, flows.ReasonUnknownVNI)
	if forgeVXLAN(t, r.tb, r.node3.VTEP, 200, r.prod3, r.test1, 6210, "underlay-vxlan") {
		t.Error("production's source arrived at a test pod under test's VNI")
	}
	waitUntil(t, 5*time.Second, "node1's unknown-vni drops move", func() bool {
		after, _ := r.node1.Drops(r.c, flows.ReasonUnknownVNI)
		return after > before
	})
	old := of.NewFlow(uint8(flows.TunnelVNI), uint16(flows.TunnelBlock)+10, uint64(flows.NewCookie(0, flows.KindBase, 0, 0xbad))).Proto(of.ProtoIP).
		Match(of.TunSrc(of.Host(r.node3.VTEP)), of.TunID(200)).Do(flows.RegDomain.Set(200), of.Goto{Table: uint8(flows.Conntrack)})
	var add ovs.Bundle
	add.Add(old)
	if err := r.node1.OVS.OpenFlow().Apply(r.c, r.node1.Config.Bridge, &add); err != nil {
		t.Fatal(err)
	}
	port := uint16(6230)
	works(t, "a forgery under the old kind of flow arrives", func() bool {
		port++
		return forgeVXLAN(t, r.tb, r.node3.VTEP, 200, r.prod3, r.test1, port, fmt.Sprint("underlay-vxlan-old-", port))
	})
	t.Log("with tunnel ingress trusting the outer source and VNI alone, a forged node3 put production's source into test")
	restartCaned(t, r.c, r.node1) // converges: the foreign flow goes
	restored(t, "node1's restart removes the old flow", func() bool {
		port++
		return forgeVXLAN(t, r.tb, r.node3.VTEP, 200, r.prod3, r.test1, port, fmt.Sprint("underlay-vxlan-restored-", port))
	})
}

// underlayRouter: an underlay host routes the pools through node1 and
// sends to prod1, from its own address and from a spoofed test pod's.
// Cane's nftables table drops both (forward, prerouting) and counts them;
// with its chains flushed, both arrive.
func (r *redTeam) underlayRouter(t *testing.T) {
	if out, err := exec.Command("ip", "-n", filepath.Base(r.host.Path()), "route", "add", "198.19.0.0/16", "via", r.node1.VTEP.String()).CombinedOutput(); err != nil {
		t.Fatalf("ip route: %v %s", err, out)
	}
	spoof := netip.MustParseAddr("198.19.1.77") // a test pod's address, say
	if out, err := exec.Command("ip", "-n", filepath.Base(r.host.Path()), "addr", "add", spoof.String()+"/32", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("ip addr: %v %s", err, out)
	}
	send := func(src netip.Addr, port int, token string) bool {
		t.Helper()
		got, err := testbed.Received(r.prod1.NS, r.prod1.IP, port, []byte(token), func() error {
			return sendUDP(r.host, src, netip.AddrPortFrom(r.prod1.IP, uint16(port)), []byte(token))
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	fwd, pre := nftCounted(t, r.node1, "forward"), nftCounted(t, r.node1, "prerouting")
	if send(r.hostIP, 6220, "routed") || send(spoof, 6221, "spoofed") {
		t.Error("the underlay host reached prod1 through node1")
	}
	if nftCounted(t, r.node1, "forward") <= fwd || nftCounted(t, r.node1, "prerouting") <= pre {
		t.Errorf("node1's nftables counters: forward %d -> %d, prerouting %d -> %d", fwd, nftCounted(t, r.node1, "forward"), pre, nftCounted(t, r.node1, "prerouting"))
	}
	t.Logf("an operator sees (nft list table ip cane on node1): forward drops %d -> %d, prerouting drops %d -> %d",
		fwd, nftCounted(t, r.node1, "forward"), pre, nftCounted(t, r.node1, "prerouting"))
	nftFlush(t, r.node1, "forward")
	nftFlush(t, r.node1, "prerouting")
	port := 6240
	works(t, "with Cane's chains flushed the underlay host reaches prod1, from its own and a spoofed address", func() bool {
		port += 2
		return send(r.hostIP, port, "routed-open") && send(spoof, port+1, "spoofed-open")
	})
	t.Log("without Cane's forward and prerouting chains, the underlay host reached prod1 through node1, from its own and a spoofed pool address")
	restartCaned(t, r.c, r.node1)
	restored(t, "node1's restart restores its table", func() bool { port += 2; return send(r.hostIP, port, "routed-restored") })
}

// podScrape: caned's metrics name every domain's pods. A test pod scrapes
// its own node and another (through the tunnel): both drop at the node,
// counted in Cane's input chain; the monitoring domain, allowed to
// scrape, and the underlay get them. Without the chain the test pod
// reads production's pod names.
func (r *redTeam) podScrape(t *testing.T) {
	in1, in3 := nftCounted(t, r.node1, "input"), nftCounted(t, r.node3, "input")
	for _, n := range []*testbed.Node{r.node3, r.node1} {
		if body, err := scrapeAt(r.test3.NS, n.VTEP.String()+":9410"); err == nil {
			t.Errorf("a test pod scraped %s's metrics: %.200s", n.Name, body)
		}
	}
	if nftCounted(t, r.node1, "input") <= in1 || nftCounted(t, r.node3, "input") <= in3 {
		t.Errorf("input drops: node1 %d -> %d, node3 %d -> %d", in1, nftCounted(t, r.node1, "input"), in3, nftCounted(t, r.node3, "input"))
	}
	for who, from := range map[string]ns.NetNS{"the monitoring pod": r.mon1.NS, "the underlay": r.host} {
		waitUntil(t, 5*time.Second, who+" scrapes node1's metrics, pods named (after the monitor's first look)", func() bool {
			body, err := scrapeAt(from, r.node1.VTEP.String()+":9410")
			return err == nil && strings.Contains(body, `pod="shop/prod1"`)
		})
	}
	nftFlush(t, r.node3, "input")
	works(t, "without the input chain a test pod reads node3's metrics, production's pods named", func() bool {
		body, err := scrapeAt(r.test3.NS, r.node3.VTEP.String()+":9410")
		return err == nil && strings.Contains(body, `pod="shop/prod3"`)
	})
	t.Log("without Cane's input chain, a test pod read node3's metrics, production's pod names in them")
	restartCaned(t, r.c, r.node3)
	restored(t, "node3's restart restores the guard", func() bool {
		_, err := scrapeAt(r.test3.NS, r.node3.VTEP.String()+":9410")
		return err == nil
	})
}
