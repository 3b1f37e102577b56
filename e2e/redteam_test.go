package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/e2e/testbed"
)

// redTeamObjects add, to the example cluster, a monitoring domain whose
// pods may scrape caned's metrics (metricsDomains).
const redTeamObjects = `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: monitoring}
spec: {vni: 500}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: monitoring}
spec: {domain: monitoring, cidr: 198.19.5.0/24, gateway: 198.19.5.1, blockSize: 28}
---
apiVersion: v1
kind: Namespace
metadata: {name: qa, labels: {cane.io/domain: test}}
`

// redTeam is the cluster the attacks run against: node1 runs production,
// test and monitoring pods, node3 production and test pods, and node2 is
// the attacker's: root there has node2's token (bound to its Node, as
// every caned's). An underlay host sits on the fabric.
type redTeam struct {
	tb                  *testbed.Testbed
	c                   context.Context
	cp                  *testbed.ControlPlane
	node1, node2, node3 *testbed.Node
	prod1, test1, mon1  *testbed.Pod
	prod3, test3        *testbed.Pod
	admin               dynamic.Interface
	adminCS             *kubernetes.Clientset
	attacker            dynamic.Interface // node2's token
	host                ns.NetNS          // an underlay host, 198.18.0.200
	hostIP              netip.Addr
}

// TestRedTeam: each attack of issue 16, made the way its attacker would
// make it, fails, and shows up where an operator looks: the apiserver's
// refusal (and its admission-policy metric), caned's log, the
// cane_ignored_objects metric and CaneIgnored events, the pipeline's and
// the node's drop counters. Where a defence can be switched off from the
// outside (the admission policy, RBAC, a flow, an nftables chain), the
// same attack is shown to work without it.
func TestRedTeam(t *testing.T) {
	r := startRedTeam(t)
	t.Run("root on a node: rogue Blocks", r.rogueBlocks)
	t.Run("root on a node: another node's Block", r.hijackBlock)
	t.Run("root on a node: an IPv6 Block", r.ipv6Block)
	t.Run("root on a node: a rewritten VTEP", r.rewrittenVTEP)
	t.Run("root on a node: Loan edits", r.loanEdits)
	t.Run("a tenant's pod annotation", r.tenantAnnotation)
	t.Run("forged VXLAN from a pod", r.podVXLAN)
	t.Run("forged VXLAN from the underlay", r.underlayVXLAN)
	t.Run("an underlay host routing into the pools", r.underlayRouter)
	t.Run("a scrape of caned's metrics from a pod", r.podScrape)
	t.Run("a steady cluster sends caned no CaneNode events", r.steadyWatch)
	t.Run("without the apiserver's defences", r.defencesOff) // last: it leaves a hijacked block behind
}

func startRedTeam(t *testing.T) *redTeam {
	t.Helper()
	tb, _, cp := startClusterObjects(t)
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // the whole story, not one step
	t.Cleanup(cancel)
	r := &redTeam{tb: tb, c: c, cp: cp}
	if err := cp.Apply(c, redTeamObjects); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*testbed.Node, 3)
	for i := range nodes {
		n, err := tb.JoinNodeWith(c, cp, fmt.Sprintf("node%d", i+1), i+1, nil, func(cfg *daemon.Config) {
			cfg.MetricsAddress, cfg.MetricsDomains, cfg.MonitorSeconds = ":9410", []string{"monitoring"}, 1
		})
		if err == nil {
			err = n.Sysctl("net/ipv4/ip_forward", "1") // as on any Kubernetes node
		}
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	r.node1, r.node2, r.node3 = nodes[0], nodes[1], nodes[2]
	r.prod1, r.test1, r.mon1 = mustAddPod(t, tb, c, r.node1, "shop/prod1", "prod"), mustAddPod(t, tb, c, r.node1, "qa/test1", "test"), mustAddPod(t, tb, c, r.node1, "mon/prom", "monitoring")
	r.prod3, r.test3 = mustAddPod(t, tb, c, r.node3, "shop/prod3", "prod"), mustAddPod(t, tb, c, r.node3, "qa/test3", "test")
	if err := cp.Apply(c, `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"qa"}}`); err != nil {
		t.Fatal(err) // what the controller-manager would make; a tenant's pods need it
	}
	var err error
	if r.adminCS, r.admin, err = cp.Clients(); err != nil {
		t.Fatal(err)
	}
	token, err := cp.NodeToken(c, "node2")
	if err != nil {
		t.Fatal(err)
	}
	if r.attacker, err = dynamic.NewForConfig(cp.AsToken(token)); err != nil {
		t.Fatal(err)
	}
	if r.host, r.hostIP, err = tb.UnderlayHost(200); err != nil {
		t.Fatal(err)
	}
	expect(t, true, 6000, [2]*testbed.Pod{r.prod1, r.prod3}, [2]*testbed.Pod{r.test3, r.test1})
	expect(t, false, 6010, [2]*testbed.Pod{r.prod1, r.test3}, [2]*testbed.Pod{r.test3, r.prod1})
	if !r.reachesNode(t, r.prod1, r.node3, 6020) {
		t.Fatal("prod1 does not reach node3's address")
	}
	return r
}

// reachesNode reports whether a UDP datagram from pod reaches node's
// address (one way: a reply from a node's own stack through the tunnel
// is dropped on the userspace datapath, see the report).
func (r *redTeam) reachesNode(t *testing.T, pod *testbed.Pod, node *testbed.Node, port int) bool {
	t.Helper()
	token := fmt.Sprintf("to-%s-%d", node.Name, port)
	got, err := testbed.Received(node.NS, node.VTEP, port, []byte(token), func() error {
		return sendUDP(pod.NS, netip.Addr{}, netip.AddrPortFrom(node.VTEP, uint16(port)), []byte(token))
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// ownedBy reports whether an installed flow is remote node name's.
func ownedBy(f api.Flow, name string) bool { return strings.HasPrefix(f.Owner, "node "+name+" ") }

// nodes is every node of the red team's cluster.
func (r *redTeam) nodes() []*testbed.Node { return []*testbed.Node{r.node1, r.node2, r.node3} }

// scrapeAt GETs /metrics at addr from inside netns n.
func scrapeAt(n ns.NetNS, addr string) (string, error) {
	var body string
	err := n.Do(func(ns.NetNS) error {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: caned\r\n\r\n")
		data, err := io.ReadAll(bufio.NewReader(conn))
		body = string(data)
		return err
	})
	return body, err
}

// ignoredOn is node's cane_ignored_objects{kind}, read from its metrics.
func (r *redTeam) ignoredOn(t *testing.T, node *testbed.Node, kind string) float64 {
	t.Helper()
	body, err := scrapeAt(node.NS, "127.0.0.1:9410")
	if err != nil {
		t.Fatalf("scrape %s: %v", node.Name, err)
	}
	return metric(body, "cane_ignored_objects", `kind="`+kind+`"`)
}

// seen waits until every node ignores the object (its log says why, its
// cane_ignored_objects{kind} counts it) and the object has its
// CaneIgnored events, from at most three nodes however many there are.
func (r *redTeam) seen(t *testing.T, kind, name string) {
	t.Helper()
	for _, node := range r.nodes() {
		if node.CanedPID() == 0 {
			continue // the attacker stopped it
		}
		waitUntil(t, 10*time.Second, node.Name+" ignores "+kind+" "+name, func() bool {
			return r.logged(t, node, `"msg":"cluster object ignored","kind":"`+kind+`","name":"`+name+`"`) != "" && r.ignoredOn(t, node, kind) >= 1
		})
	}
	var events []string
	waitUntil(t, 30*time.Second, "CaneIgnored events about "+name, func() bool {
		events = r.events(t, name)
		return len(events) > 0
	})
	if len(events) > 3 {
		t.Errorf("%d events about %s, want at most 3 (its reporters): %q", len(events), name, events)
	}
	t.Logf("an operator sees: cane_ignored_objects{kind=%q} %v on node1; event %s; log %s", kind, r.ignoredOn(t, r.node1, kind), events[0],
		r.logged(t, r.node1, `"name":"`+name+`"`))
}

// logged is the first line of node's caned log containing s ("" if none).
func (r *redTeam) logged(t *testing.T, node *testbed.Node, s string) string {
	t.Helper()
	data, err := os.ReadFile(node.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// events are the messages of the CaneIgnored events about name.
func (r *redTeam) events(t *testing.T, name string) []string {
	t.Helper()
	out, err := r.cp.Kubectl(r.c, "get", "events", "-n", "default", "--field-selector", "reason=CaneIgnored,involvedObject.name="+name,
		"-o", "jsonpath={range .items[*]}{.source.host}: {.message}{\"\\n\"}{end}")
	if err != nil {
		t.Fatalf("get events: %v %s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// policyDenials is the apiserver's count of requests the admission policy
// denied (apiserver_validating_admission_policy_check_total).
func (r *redTeam) policyDenials(t *testing.T) float64 {
	t.Helper()
	body, err := r.adminCS.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(r.c)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^apiserver_validating_admission_policy_check_total\{[^}]*enforcement_action="deny"[^}]*policy="cane-node-identity"[^}]*\} (\S+)$`)
	var sum float64
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// nftChain is Cane's chain on node, through netlink (the test needs no nft binary).
func nftConn(t *testing.T, node *testbed.Node) (*nftables.Conn, *nftables.Table) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(node.NS.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return c, &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "cane"}
}

// nftCounted is the packets counted by the rules of Cane's chain on node
// (what `nft list chain ip cane CHAIN` shows an operator).
func nftCounted(t *testing.T, node *testbed.Node, chain string) uint64 {
	t.Helper()
	c, tbl := nftConn(t, node)
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

// nftFlush empties Cane's chain on node: its defence switched off.
func nftFlush(t *testing.T, node *testbed.Node, chain string) {
	t.Helper()
	c, tbl := nftConn(t, node)
	c.FlushChain(&nftables.Chain{Name: chain, Table: tbl})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}
