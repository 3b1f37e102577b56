package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/ovs"
)

const metricsAddr = "127.0.0.1:9410"

// scrape fetches caned's /metrics from inside the node's netns.
func scrape(t *testing.T, node *testbed.Node) string {
	t.Helper()
	var body string
	err := node.NS.Do(func(ns.NetNS) error {
		conn, err := net.DialTimeout("tcp", metricsAddr, 5*time.Second) // dialled on this thread, in the netns
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: caned\r\n\r\n")
		data, err := io.ReadAll(bufio.NewReader(conn))
		body = string(data)
		return err
	})
	if err != nil || !strings.Contains(body, " 200 OK") {
		t.Fatalf("scrape: %v\n%.300s", err, body)
	}
	return body
}

// metric is the value of one sample (name{labels} value), -1 if absent.
func metric(body, name, labels string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{` + labels + `\} (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func counters(t *testing.T, node *testbed.Node) api.Counters {
	t.Helper()
	var c api.Counters
	canectlJSON(t, node, &c, "counters")
	return c
}

func podCounters(c api.Counters, name string) api.PodCounters {
	for _, p := range c.Pods {
		if p.Name == name {
			return p
		}
	}
	return api.PodCounters{}
}

// TestMonitor: what caned watches shows up in canectl counters, in
// /metrics and in its log — attributed to the right bridge or pod.
func TestMonitor(t *testing.T) {
	tb, c := newTestbed(t), ctx(t)
	cfg := twoDomains(t)
	cfg.MonitorSeconds, cfg.MetricsAddress = 0.3, metricsAddr
	node, err := tb.StartNode(c, "node1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	prodA, prodB, testA := mustAddPod(t, tb, c, node, "shop/prod-a", "prod"), mustAddPod(t, tb, c, node, "shop/prod-b", "prod"), mustAddPod(t, tb, c, node, "qa/test-a", "test")

	t.Run("a flooded learning bridge alerts while pod traffic flows", func(t *testing.T) {
		db, err := ovs.Connect(c, node.OVS.DBEndpoint())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.EnsureBridge(c, ovs.BridgeConfig{Name: "br-learn", DatapathType: "netdev", Standalone: true, OtherConfig: map[string]string{"mac-table-size": "64"}}); err != nil {
			t.Fatal(err)
		}
		err = node.NS.Do(func(ns.NetNS) error {
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "flood0"}, PeerName: "flood1"}); err != nil {
				return err
			}
			for _, n := range []string{"flood0", "flood1"} {
				l, err := netlink.LinkByName(n)
				if err != nil {
					return err
				}
				if err := netlink.LinkSetUp(l); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddPort(c, ovs.PortConfig{Bridge: "br-learn", Name: "flood0"}); err != nil {
			t.Fatal(err)
		}
		// Evictions alert when they rise between two looks: let the
		// monitor see the bridge before the flood.
		waitUntil(t, 5*time.Second, "the monitor sees br-learn", func() bool {
			return metric(scrape(t, node), "cane_mac_table_max_entries", `bridge="br-learn"`) == 64
		})
		var frames [][]byte
		for range 300 {
			src := net.HardwareAddr{0x02, byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256))}
			f := testbed.Frame{SrcMAC: src, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
			frames = append(frames, f.UDP(netip.MustParseAddr("198.18.99.1"), netip.MustParseAddr("198.18.99.2"), 9, 9, []byte("flood")))
		}
		if err := testbed.SendFrame(node.NS, "flood1", frames...); err != nil {
			t.Fatal(err)
		}
		var table api.MACTable
		waitUntil(t, 10*time.Second, "the MAC table fills", func() bool {
			for _, m := range counters(t, node).MACTables {
				if m.Bridge == "br-learn" {
					table = m
				}
			}
			return table.Percent() >= 80 && table.Evicted > 0
		})
		t.Logf("br-learn: %d/%d entries, %d evicted", table.Current, table.Max, table.Evicted)
		cs := counters(t, node)
		alerted := false
		for _, a := range cs.Alerts {
			alerted = alerted || (a.Kind == "mac-table-full" && a.Subject == "br-learn")
		}
		if !alerted {
			t.Errorf("no mac-table-full alert in counters: %+v", cs.Alerts)
		}
		if out, _ := canectl(t, node, "counters"); !strings.Contains(out, "ALERT\tmac-table-full") && !strings.Contains(out, "ALERT  mac-table-full") {
			t.Errorf("canectl counters shows no alert line:\n%s", out)
		}
		waitUntil(t, 5*time.Second, "the alert and evictions in /metrics and the log", func() bool {
			body := scrape(t, node)
			log, _ := os.ReadFile(node.Log)
			return metric(body, "cane_alert", `kind="mac-table-full",subject="br-learn"`) == 1 &&
				metric(body, "cane_mac_table_evictions_total", `bridge="br-learn"`) > 0 &&
				strings.Contains(string(log), `"kind":"mac-table-evictions","subject":"br-learn"`)
		})
		wantXRay(t, node, "MAC tables and UDP drops", "br-learn")
		expect(t, true, 7400, [2]*testbed.Pod{prodA, prodB}, [2]*testbed.Pod{prodB, prodA})
	})

	t.Run("a UDP flood into a pod with a small receive buffer is that pod's drops", func(t *testing.T) {
		var sink *net.UDPConn
		err := prodB.NS.Do(func(ns.NetNS) error {
			var err error
			sink, err = net.ListenUDP("udp4", &net.UDPAddr{IP: prodB.IP.AsSlice(), Port: 7500})
			if err != nil {
				return err
			}
			return sink.SetReadBuffer(2048) // and never read
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		before := counters(t, node)
		err = prodA.NS.Do(func(ns.NetNS) error {
			conn, err := net.Dial("udp4", netip.AddrPortFrom(prodB.IP, 7500).String())
			if err != nil {
				return err
			}
			defer conn.Close()
			payload := make([]byte, 1000)
			for range 500 {
				if _, err := conn.Write(payload); err != nil && !errorsIsNoBuf(err) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var after api.Counters
		waitUntil(t, 5*time.Second, "prod-b's receive-buffer errors rise", func() bool {
			after = counters(t, node)
			return podCounters(after, prodB.Name).SNMP.UDPRcvbufErrors > podCounters(before, prodB.Name).SNMP.UDPRcvbufErrors
		})
		b := podCounters(after, prodB.Name).SNMP.UDPRcvbufErrors - podCounters(before, prodB.Name).SNMP.UDPRcvbufErrors
		t.Logf("shop/prod-b: %d receive-buffer errors from 500 datagrams", b)
		for _, other := range []*testbed.Pod{prodA, testA} {
			if podCounters(after, other.Name).SNMP.UDPRcvbufErrors != podCounters(before, other.Name).SNMP.UDPRcvbufErrors {
				t.Errorf("%s's receive-buffer errors moved too", other.Name)
			}
		}
		waitUntil(t, 5*time.Second, "/metrics and the log name prod-b", func() bool {
			log, _ := os.ReadFile(node.Log)
			return metric(scrape(t, node), "cane_udp_errors_total", `counter="RcvbufErrors",domain="production",pod="shop/prod-b"`) > 0 &&
				strings.Contains(string(log), `"kind":"udp-drops","subject":"shop/prod-b"`)
		})
	})

	t.Run("spoofed and cross-domain packets are drops with their reason", func(t *testing.T) {
		before := counters(t, node).Drops
		expect(t, false, 7410, [2]*testbed.Pod{prodA, testA})
		forged := testbed.Frame{SrcMAC: prodA.MAC, DstMAC: prodB.MAC}.UDP(netip.MustParseAddr("198.19.0.99"), prodB.IP, 9, 9, []byte("spoof"))
		if err := testbed.SendFrame(prodA.NS, "eth0", forged, forged, forged); err != nil {
			t.Fatal(err)
		}
		after := counters(t, node).Drops
		for _, reason := range []string{"isolation", "spoof"} {
			if after[reason] <= before[reason] {
				t.Errorf("%s drops %d -> %d", reason, before[reason], after[reason])
			}
		}
		waitUntil(t, 5*time.Second, "/metrics counts them (next monitor look)", func() bool {
			body := scrape(t, node)
			return metric(body, "cane_pipeline_dropped_packets_total", `reason="isolation"`) >= float64(after["isolation"]) &&
				metric(body, "cane_pipeline_dropped_packets_total", `reason="spoof"`) >= float64(after["spoof"])
		})
	})

	t.Run("metrics: CNI latency, pools, flows", func(t *testing.T) {
		body := scrape(t, node)
		for _, m := range []struct{ name, labels string }{
			{"cane_cni_duration_seconds_count", `command="ADD",result="ok"`},
			{"cane_pool_addresses", `domain="production",pool="prod",state="allocated"`},
			{"cane_flows", `table="Classifier"`},
			{"cane_port_dropped_packets_total", `direction="rx",domain="production",pod="shop/prod-a"`},
		} {
			if metric(body, m.name, m.labels) < 0 {
				t.Errorf("no %s{%s} in /metrics", m.name, m.labels)
			}
		}
		if v := metric(body, "cane_pool_addresses", `domain="production",pool="prod",state="allocated"`); v != 2 {
			t.Errorf("prod allocated %v, want 2", v)
		}
	})
}

// errorsIsNoBuf: a full local send queue is not the test's failure.
func errorsIsNoBuf(err error) bool {
	return strings.Contains(err.Error(), syscall.ENOBUFS.Error()) || strings.Contains(err.Error(), syscall.ECONNREFUSED.Error())
}
