package nodenet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cane-cni/cane/internal/ethtool"
	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// lab is a node netns with two host ports (veths standing in for OVS's
// internal ports), a pod behind each, and an underlay host:
//
//	underlay 198.18.0.100 ── 198.18.0.1 node ─ caneh000064 ── prod pod 198.19.0.2 (domain 100)
//	                                         └ caneh0000c8 ── test pod 198.19.1.2 (domain 200)
type lab struct {
	t                  *testing.T
	node, under        ns.NetNS
	prod, test         ns.NetNS
	prodPool, testPool netip.Prefix
}

func newLab(t *testing.T) *lab {
	needs.Root(t)
	l := &lab{t: t, node: podnettest.NewNS(t), under: podnettest.NewNS(t), prod: podnettest.NewNS(t), test: podnettest.NewNS(t),
		prodPool: netip.MustParsePrefix("198.19.0.0/24"), testPool: netip.MustParsePrefix("198.19.1.0/24")}
	l.link(l.under, "eth0", "198.18.0.100/24", l.node, "eth0", "198.18.0.1/24")
	l.link(l.prod, "eth0", "198.19.0.2/24", l.node, HostPortName(100), "")
	l.link(l.test, "eth0", "198.19.1.2/24", l.node, HostPortName(200), "")
	l.sysctl(l.node, "net/ipv4/ip_forward", "1")
	for _, port := range []string{HostPortName(100), HostPortName(200)} {
		// The pipeline answers the pods' ARP in Cane; here the node does.
		l.sysctl(l.node, "net/ipv4/conf/"+port+"/proxy_arp", "1")
	}
	for _, pod := range []ns.NetNS{l.prod, l.test} {
		l.run(pod, "ip", "route", "add", "default", "dev", "eth0")
	}
	// The underlay host routes the pools through the node: the attack.
	l.run(l.under, "ip", "route", "add", "198.19.0.0/16", "via", "198.18.0.1")
	return l
}

// naive routes the pools through their host ports and nothing else: a
// node without Cane's rules and table, where the attacks work.
func (l *lab) naive() {
	l.run(l.node, "ip", "route", "add", l.prodPool.String(), "dev", HostPortName(100))
	l.run(l.node, "ip", "route", "add", l.testPool.String(), "dev", HostPortName(200))
}

func (l *lab) state(egress bool, nodes ...netip.Addr) State {
	return State{
		Domains: []Domain{
			{VNI: 100, Port: HostPortName(100), Own: []netip.Prefix{l.prodPool}, EgressSNAT: egress},
			{VNI: 200, Port: HostPortName(200), Own: []netip.Prefix{l.testPool}},
		},
		Nodes: nodes, MTU: 1450,
	}
}

func (l *lab) link(a ns.NetNS, aName, aAddr string, b ns.NetNS, bName, bAddr string) {
	l.t.Helper()
	h := l.handle(b)
	defer h.Close()
	peer, err := netns.GetFromPath(a.Path())
	if err != nil {
		l.t.Fatal(err)
	}
	defer peer.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: bName}, PeerName: aName, PeerNamespace: netlink.NsFd(int(peer))}
	if err := h.LinkAdd(v); err != nil {
		l.t.Fatal(err)
	}
	for _, side := range []struct {
		n          ns.NetNS
		name, addr string
	}{{a, aName, aAddr}, {b, bName, bAddr}} {
		l.run(side.n, "ip", "link", "set", side.name, "up")
		l.run(side.n, "ip", "link", "set", "lo", "up")
		if side.addr != "" {
			l.run(side.n, "ip", "addr", "add", side.addr, "dev", side.name)
		}
	}
}

func (l *lab) handle(n ns.NetNS) *netlink.Handle {
	l.t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

func (l *lab) run(n ns.NetNS, name string, args ...string) {
	l.t.Helper()
	full := append([]string{"netns", "exec", filepath.Base(n.Path()), name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func (l *lab) sysctl(n ns.NetNS, key, value string) {
	l.t.Helper()
	if err := setSysctl(n, key, value); err != nil {
		l.t.Fatal(err)
	}
}

// serve listens on addr in n and reports the source of each connection.
func (l *lab) serve(n ns.NetNS, addr string) <-chan string {
	l.t.Helper()
	var ln net.Listener
	if err := n.Do(func(ns.NetNS) (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	seen := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			seen <- strings.Split(c.RemoteAddr().String(), ":")[0]
			c.Close()
		}
	}()
	return seen
}

// dial connects from n to addr within a second.
func (l *lab) dial(n ns.NetNS, addr string) error {
	return n.Do(func(ns.NetNS) error {
		c, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp4", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// reached: a dial from n to addr connects and the server saw source src.
func (l *lab) reached(n ns.NetNS, addr string, seen <-chan string) (string, error) {
	if err := l.dial(n, addr); err != nil {
		return "", err
	}
	select {
	case src := <-seen:
		return src, nil
	case <-time.After(2 * time.Second):
		return "", errors.New("connected, but the server saw nothing")
	}
}

// TestUnderlayRouter: an underlay host that routes the pools through the
// node reaches a pod — until Cane's table is in; then only what the node
// translates (a Service's or hostPort's DNAT) gets through, and a forged
// pool source does not.
func TestUnderlayRouter(t *testing.T) {
	l := newLab(t)
	seen := l.serve(l.prod, "198.19.0.2:80")
	l.naive()
	if _, err := l.reached(l.under, "198.19.0.2:80", seen); err != nil {
		t.Fatalf("before Cane: the underlay host should reach the pod through the node (the attack): %v", err)
	}
	if err := Apply(l.node, l.state(false)); err != nil {
		t.Fatal(err)
	}
	if err := l.dial(l.under, "198.19.0.2:80"); err == nil {
		t.Fatal("the underlay host still reaches a pod by routing through the node")
	}
	if n := l.counter(t, "forward"); n == 0 {
		t.Error("the forward chain's drop counted nothing")
	}
	l.run(l.node, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", "198.18.0.1", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "198.19.0.2:80")
	if src, err := l.reached(l.under, "198.18.0.1:8080", seen); err != nil || src != "198.18.0.100" {
		t.Fatalf("a NodePort-like DNAT from the underlay: source %q, %v", src, err)
	}
	l.run(l.under, "ip", "addr", "add", "198.19.0.77/32", "dev", "eth0")
	err := l.under.Do(func(ns.NetNS) error {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("198.19.0.77")}}
		c, err := d.Dial("tcp4", "198.18.0.1:8080")
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil {
		t.Fatal("a forged pool source from the underlay got through the node's DNAT")
	}
	if n := l.counter(t, "prerouting"); n == 0 {
		t.Error("the prerouting chain's drop of forged pool sources counted nothing")
	}
}

// TestDomainSurvivesDNAT: a test pod's packet that the node DNATs to a
// production pod is refused by the kernel (the test domain's table
// prohibits production's pool), while the same DNAT from the underlay
// reaches it.
func TestDomainSurvivesDNAT(t *testing.T) {
	l := newLab(t)
	seen := l.serve(l.prod, "198.19.0.2:80")
	l.run(l.node, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", "198.18.0.1", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "198.19.0.2:80")
	l.naive()
	if _, err := l.reached(l.test, "198.18.0.1:8080", seen); err != nil {
		t.Fatalf("before Cane: the test pod should reach production through the node's DNAT (the attack): %v", err)
	}
	if err := Apply(l.node, l.state(false)); err != nil {
		t.Fatal(err)
	}
	if err := l.dial(l.test, "198.18.0.1:8080"); err == nil {
		t.Fatal("a test pod reaches a production pod through the node's DNAT")
	}
	if _, err := l.reached(l.under, "198.18.0.1:8080", seen); err != nil {
		t.Fatalf("the underlay's DNAT to production: %v", err)
	}
}

// TestEgress: a domain with egress SNAT leaves as the node; one without
// keeps its pod's address; nothing is masqueraded to a node's address.
func TestEgress(t *testing.T) {
	l := newLab(t)
	seen := l.serve(l.under, "198.18.0.100:9000")
	if err := Apply(l.node, l.state(true)); err != nil {
		t.Fatal(err)
	}
	if src, err := l.reached(l.prod, "198.18.0.100:9000", seen); err != nil || src != "198.18.0.1" {
		t.Errorf("production (egress SNAT) seen as %q, %v; want the node, 198.18.0.1", src, err)
	}
	// The underlay host needs no route back for a masqueraded pod, but
	// does for one that is not.
	if src, err := l.reached(l.test, "198.18.0.100:9000", seen); err != nil || src != "198.19.1.2" {
		t.Errorf("test (no egress SNAT) seen as %q, %v; want its own 198.19.1.2", src, err)
	}
	if err := Apply(l.node, l.state(true, netip.MustParseAddr("198.18.0.100"))); err != nil {
		t.Fatal(err)
	}
	if src, err := l.reached(l.prod, "198.18.0.100:9000", seen); err != nil || src != "198.19.0.2" {
		t.Errorf("production to a node address seen as %q, %v; want no SNAT", src, err)
	}
}

// TestApplyConverges: Apply twice changes nothing; a domain removed takes
// its routes, table and rule with it; nothing that is not Cane's goes.
func TestApplyConverges(t *testing.T) {
	l := newLab(t)
	l.run(l.node, "ip", "route", "add", "203.0.113.0/24", "dev", "eth0") // not Cane's
	for range 2 {
		if err := Apply(l.node, l.state(false)); err != nil {
			t.Fatal(err)
		}
	}
	h := l.handle(l.node)
	defer h.Close()
	routes, err := caneRoutes(h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"main 198.19.0.0/24": true, "main 198.19.1.0/24": true,
		"table 100 198.19.0.0/24": true, "table 100 198.19.1.0/24 prohibit": true,
		"table 200 198.19.1.0/24": true, "table 200 198.19.0.0/24 prohibit": true,
	}
	got := describe(routes)
	if len(got) != len(want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected route %q (all: %v)", g, got)
		}
	}
	s := l.state(false)
	s.Domains = s.Domains[:1]
	if err := Apply(l.node, s); err != nil {
		t.Fatal(err)
	}
	routes, _ = caneRoutes(h)
	if got := describe(routes); len(got) != 2 {
		t.Errorf("after removing domain 200: %v", got)
	}
	rules, _ := h.RuleList(netlink.FAMILY_V4)
	n := 0
	for _, r := range rules {
		if r.Priority == rulePriority {
			n++
			if r.IifName != HostPortName(100) || r.Table != Table(100) {
				t.Errorf("rule %+v", r)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d Cane rules, want 1", n)
	}
	other, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(netip.MustParsePrefix("203.0.113.0/24"))}, netlink.RT_FILTER_DST)
	if err != nil || len(other) != 1 {
		t.Errorf("a route that is not Cane's was touched: %v %v", other, err)
	}
}

func describe(routes map[routeKey]netlink.Route) []string {
	var out []string
	for k, r := range routes {
		where := "main"
		if k.table != unix.RT_TABLE_MAIN {
			where = fmt.Sprintf("table %d", k.table&0xffffff)
		}
		s := where + " " + k.dst.String()
		if r.Type == unix.RTN_PROHIBIT {
			s += " prohibit"
		}
		out = append(out, s)
	}
	return out
}

// counter sums the packet counters of a chain's rules.
func (l *lab) counter(t *testing.T, chain string) uint64 {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(l.node.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: chain, Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, r := range rules {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				sum += ctr.Packets
			}
		}
	}
	return sum
}

// TestMetricsGuard: pods meet the node through their domain's host port;
// a pod that dials caned's metrics port gets in before Cane's table, and
// is dropped (and counted) once it is in, but the domain allowed to
// scrape; the underlay (Prometheus) still reaches it, and other node
// ports stay open to pods (kubelet, NodePorts).
func TestMetricsGuard(t *testing.T) {
	l := newLab(t)
	metrics := l.serve(l.node, "0.0.0.0:9410")
	other := l.serve(l.node, "0.0.0.0:9411")
	l.naive()
	if _, err := l.reached(l.test, "198.18.0.1:9410", metrics); err != nil {
		t.Fatalf("before the guard a pod should reach the metrics port (the attack): %v", err)
	}
	s := l.state(false)
	s.Guarded = []GuardedPort{{Port: 9410, Allow: []string{HostPortName(100)}}}
	if err := Apply(l.node, s); err != nil {
		t.Fatal(err)
	}
	if err := l.dial(l.test, "198.18.0.1:9410"); err == nil {
		t.Fatal("a test pod still reaches the metrics port")
	}
	if n := l.counter(t, "input"); n == 0 {
		t.Error("the input chain's drop counted nothing")
	}
	if _, err := l.reached(l.prod, "198.18.0.1:9410", metrics); err != nil {
		t.Errorf("production, allowed to scrape: %v", err)
	}
	if _, err := l.reached(l.under, "198.18.0.1:9410", metrics); err != nil {
		t.Errorf("the underlay's scrape: %v", err)
	}
	if _, err := l.reached(l.test, "198.18.0.1:9411", other); err != nil {
		t.Errorf("another node port from a pod: %v", err)
	}
	if p := Check(l.node, s); len(p) != 0 {
		t.Errorf("check after apply: %v", p)
	}
}

// TestHostPortOffload: with TxChecksumOff, Check finds a host port that
// leaves TX checksums to offload (as a fresh device does), Apply turns
// them off on every host port, and Check is then clean; without it the
// ports keep theirs.
func TestHostPortOffload(t *testing.T) {
	l := newLab(t)
	s := l.state(false)
	if err := Apply(l.node, s); err != nil {
		t.Fatal(err)
	}
	on := l.offloadsOn(HostPortName(100))
	if len(on) == 0 {
		t.Fatal("a host port starts with every TX checksum offload off: the test cannot fail")
	}
	s.TxChecksumOff = true
	p := Check(l.node, s)
	if len(p) != 2 || !strings.Contains(p[0], "TX checksum offload on") {
		t.Fatalf("Check before Apply: %q, want both host ports' offloads found", p)
	}
	if err := Apply(l.node, s); err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{HostPortName(100), HostPortName(200)} {
		if on := l.offloadsOn(port); len(on) > 0 {
			t.Errorf("%s: %v still on", port, on)
		}
	}
	if p := Check(l.node, s); len(p) > 0 {
		t.Errorf("Check after Apply: %q", p)
	}
}

func (l *lab) offloadsOn(port string) (on []string) {
	l.t.Helper()
	err := l.node.Do(func(ns.NetNS) (err error) {
		on, err = ethtool.TxChecksumsOn(port)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return on
}
