// Command bench measures Cane against the reference bridge + host-local
// plugins (containernetworking/plugins v1.9.1), both driven by libcni the
// way containerd drives them, in one run on this machine, and prints a
// table and writes JSON. `make bench` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cane-cni/cane/e2e/testbed"
)

// Result is one measured line.
type Result struct {
	Name     string  `json:"name"`
	Cane     float64 `json:"cane"`
	Baseline float64 `json:"baseline,omitempty"` // same run, same machine
	Unit     string  `json:"unit"`
	Ratio    float64 `json:"ratio,omitempty"` // cane / baseline
	Target   string  `json:"target,omitempty"`
	Met      *bool   `json:"met,omitempty"`
	Note     string  `json:"note,omitempty"`
}

func main() {
	bin := flag.String("bin", "bin", "directory with cane, caned and the reference plugins (bridge, host-local)")
	out := flag.String("json", "bench.json", "write the results here")
	pods := flag.Int("pods", 200, "pods per series")
	nodes := flag.Int("nodes", 10000, "remote nodes for the tunnel-flow and cluster series")
	k8sDir := flag.String("k8s", "", "directory with kube-apiserver, for the cluster series (skipped if empty)")
	crdDir := flag.String("crds", "deploy/crds", "Cane's CRDs, for the cluster series")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tb, err := testbed.New(*bin)
	if err != nil {
		fail(err)
	}
	results, err := run(ctx, tb, *pods, *nodes, *k8sDir, *crdDir)
	if steps, serr := addSteps(filepath.Join(tb.Dir, "node1", "caned.log")); serr == nil {
		results = append(results, steps...)
	}
	if cerr := tb.Close(); cerr != nil {
		fmt.Fprintln(os.Stderr, "teardown:", cerr)
	}
	print(results)
	data, _ := json.MarshalIndent(results, "", "  ")
	if werr := os.WriteFile(*out, data, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, werr)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func print(rs []Result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEASURE\tCANE\tBASELINE\tRATIO\tTARGET\tMET\tNOTE")
	for _, r := range rs {
		base, ratio, met := "-", "-", "-"
		if r.Baseline != 0 {
			base, ratio = fmt.Sprintf("%.2f %s", r.Baseline, r.Unit), fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		fmt.Fprintf(w, "%s\t%.2f %s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Cane, r.Unit, base, ratio, r.Target, met, r.Note)
	}
	w.Flush()
}

// judged fills ratio and whether the target holds.
func judged(r Result, ok bool) Result {
	if r.Baseline != 0 {
		r.Ratio = r.Cane / r.Baseline
	}
	r.Met = &ok
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile of sorted durations.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return s[i]
}

// addSteps reads caned's "added" log lines and gives each step's median:
// where an ADD's time goes inside caned.
func addSteps(log string) ([]Result, error) {
	data, err := os.ReadFile(log)
	if err != nil {
		return nil, err
	}
	steps := map[string][]time.Duration{}
	var order []string
	for _, line := range strings.Split(string(data), "\n") {
		var l struct {
			Msg  string `json:"msg"`
			Took string `json:"took"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "added" {
			continue
		}
		for _, part := range strings.Fields(l.Took) {
			name, v, _ := strings.Cut(part, "=")
			d, err := time.ParseDuration(v)
			if err != nil {
				continue
			}
			if _, ok := steps[name]; !ok {
				order = append(order, name)
			}
			steps[name] = append(steps[name], d)
		}
	}
	var out []Result
	for _, name := range order {
		out = append(out, Result{Name: "  inside caned's ADD: " + name + " p50", Cane: ms(percentile(steps[name], .5)), Unit: "ms",
			Note: fmt.Sprintf("p99 %.2f ms over %d ADDs", ms(percentile(steps[name], .99)), len(steps[name]))})
	}
	return out, nil
}
