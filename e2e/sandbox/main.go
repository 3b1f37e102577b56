// Command sandbox brings up a one-node Cane cluster in network namespaces
// with pods in two isolated domains, prints who can reach whom, and keeps
// it running until interrupted (Ctrl-C, or SIGTERM from make demo-down).
// Then it tears everything down.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/daemon"
	"github.com/cane-cni/cane/e2e/testbed"
)

const config = `{
  "domains": [{"name": "production", "vni": 100}, {"name": "test", "vni": 200}],
  "pools": [
    {"name": "prod", "domain": "production", "cidr": "198.19.0.0/24", "gateway": "198.19.0.1"},
    {"name": "test", "domain": "test", "cidr": "198.19.1.0/24", "gateway": "198.19.1.1"}
  ]
}`

func main() {
	bin := flag.String("bin", "bin", "directory with cane and caned")
	pidfile := flag.String("pidfile", "", "write this process's PID here (for make demo-down)")
	once := flag.Bool("once", false, "tear down right after printing (no waiting)")
	flag.Parse()
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
			fail(err)
		}
		defer os.Remove(*pidfile)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tb, err := testbed.New(*bin)
	if err != nil {
		fail(err)
	}
	err = run(ctx, tb, *once)
	fmt.Println("tearing down ...")
	if cerr := tb.Close(); cerr != nil {
		fmt.Fprintln(os.Stderr, "teardown:", cerr)
	}
	if err != nil {
		fail(err)
	}
	fmt.Println("done: no namespace, OVS or caned left running")
}

func run(ctx context.Context, tb *testbed.Testbed, once bool) error {
	cfg, err := daemon.ParseConfig([]byte(config))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fmt.Println("starting node1: OVS (userspace datapath) and caned in a network namespace ...")
	node, err := tb.StartNode(sctx, "node1", cfg)
	if err != nil {
		return err
	}
	var pods []*testbed.Pod
	for _, p := range []struct{ name, pool string }{
		{"shop/web", "prod"}, {"shop/db", "prod"}, {"qa/web", "test"}, {"qa/db", "test"},
	} {
		pod, err := tb.AddPod(sctx, node, p.name, p.pool)
		if err != nil {
			return err
		}
		pods = append(pods, pod)
	}
	var attached []api.Pod // caned's own view: domain, port, ofport
	if err := node.Client().Get(sctx, "/v1/pods", &attached); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nPOD\tDOMAIN\tIP\tOVS PORT")
	for _, p := range attached {
		fmt.Fprintf(w, "%s/%s\t%s\t%s\t%s\n", p.PodNamespace, p.PodName, p.Domain, p.IP, p.Port)
	}
	fmt.Fprintln(w, "\nFROM\tTO\tICMP\tTCP\tUDP")
	var pairs [][2]*testbed.Pod
	for _, a := range pods {
		for _, b := range pods {
			if a != b {
				pairs = append(pairs, [2]*testbed.Pod{a, b})
			}
		}
	}
	results, err := testbed.ProbeAll(pairs, 8000, false)
	if err != nil {
		return err
	}
	var rows []string
	for i, got := range results {
		rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", pairs[i][0].Name, pairs[i][1].Name, mark(got["icmp"]), mark(got["tcp"]), mark(got["udp"])))
	}
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
	w.Flush()
	fmt.Printf("\nSame domain reaches, production and test do not.\n")
	fmt.Printf("Look around:  ./bin/canectl --socket %s pods\n", node.Socket)
	fmt.Printf("              ovs-ofctl -O OpenFlow15 dump-flows unix:%s/br-int.mgmt\n", node.OVS.Dir)
	fmt.Printf("              ip netns exec %s ip link\n", node.NetNSName())
	if once {
		return nil
	}
	fmt.Println("\nRunning. Ctrl-C (or make demo-down) tears it all down.")
	<-ctx.Done()
	return nil
}

func mark(ok bool) string {
	if ok {
		return "reaches"
	}
	return "blocked"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sandbox:", err)
	os.Exit(1)
}
