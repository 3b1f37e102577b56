// Command canectl is the on-call engineer's view of a Cane node.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func main() {
	if err := root().Execute(); err != nil {
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "canectl:", err)
		}
		os.Exit(1)
	}
}

// errFailed ends a verb with exit code 1 after it printed why.
var errFailed = errors.New("failed")

type opts struct {
	socket string
	output string
}

func root() *cobra.Command {
	o := &opts{}
	cmd := &cobra.Command{Use: "canectl", Short: "Inspect and operate Cane on this node", SilenceUsage: true, SilenceErrors: true}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return fmt.Errorf("%w (canectl %s --help)", err, c.Name()) })
	cmd.PersistentFlags().StringVar(&o.socket, "socket", api.DefaultSocket, "caned's socket")
	cmd.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(
		get(o, "status", "Is caned ready, and what it runs on", "/v1/status", new(api.Status), statusTable),
		get(o, "pods", "Pods attached on this node", "/v1/pods", new([]api.Pod), podsTable),
		get(o, "pools", "Pools and this node's use of them", "/v1/pools", new([]api.Pool), poolsTable),
		get(o, "blocks", "Address blocks this node holds", "/v1/blocks", new([]api.Block), blocksTable),
		loansCmd(o), borrowCmd(o), returnCmd(o),
		flowsCmd(o), traceCmd(o), countersCmd(o), xrayCmd(o), verifyCmd(o), gcCmd(o),
	)
	return cmd
}

// get makes a verb that fetches one API document and prints it.
func get[T any](o *opts, use, short, path string, v *T, table func(*tabwriter.Writer, T)) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := api.NewClient(o.socket).Get(context.Background(), path, v); err != nil {
				return err
			}
			return o.print(cmd, *v, func(w *tabwriter.Writer) { table(w, *v) })
		},
	}
}

func (o *opts) print(cmd *cobra.Command, v any, table func(*tabwriter.Writer)) error {
	switch o.output {
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table":
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		table(w)
		return w.Flush()
	}
	return fmt.Errorf("unknown output format %q (table or json)", o.output)
}

func statusTable(w *tabwriter.Writer, s api.Status) {
	ready := "yes"
	if !s.Ready {
		ready = "NO: " + s.Reason
	}
	fmt.Fprintf(w, "node\t%s\nready\t%s\nbridge\t%s (%s datapath)\nflow round\t%d\npods\t%d\n", s.Node, ready, s.Bridge, s.Datapath, s.Round, s.Pods)
}

func podsTable(w *tabwriter.Writer, ps []api.Pod) {
	fmt.Fprintln(w, "POD\tDOMAIN\tPOOL\tIP\tMAC\tPORT\tOFPORT\tCONTAINER")
	for _, p := range ps {
		name := p.PodNamespace + "/" + p.PodName
		if p.PodName == "" {
			name = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.12s\n", name, p.Domain, p.Pool, p.IP, p.MAC, p.Port, p.OFPort, p.ContainerID)
	}
}

func poolsTable(w *tabwriter.Writer, ps []api.Pool) {
	fmt.Fprintln(w, "POOL\tDOMAIN\tCIDR\tGATEWAY\tALLOCATED\tBLOCKS")
	for _, p := range ps {
		var bs []string
		for _, b := range p.Blocks {
			bs = append(bs, b.String())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Name, p.Domain, p.CIDR, p.Gateway, p.Allocated, strings.Join(bs, ","))
	}
}

func blocksTable(w *tabwriter.Writer, bs []api.Block) {
	fmt.Fprintln(w, "BLOCK\tPOOL\tDOMAIN\tUSED\tLENT")
	for _, b := range bs {
		lent := "-"
		if b.LentTo != "" {
			lent = "to " + b.LentTo + " for loan " + b.Loan
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s\n", b.CIDR, b.Pool, b.Domain, b.Used, b.Size, lent)
	}
}
