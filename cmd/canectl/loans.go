package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func loansCmd(o *opts) *cobra.Command {
	return get(o, "loans", "Loans, their phase, and the borrower pods they run on this node", "/v1/loans", new([]api.Loan), loansTable)
}

func loansTable(w *tabwriter.Writer, ls []api.Loan) {
	fmt.Fprintln(w, "LOAN\tBORROWER\tLENDERS\tPHASE\tWINDOW\tHERE\tBORROWER PODS HERE")
	for _, l := range ls {
		here := "-"
		if l.LendsHere {
			here = fmt.Sprintf("%d/%d", len(l.Pods), l.Limit)
		}
		pods := strings.Join(l.Pods, ",")
		if l.Phase == "Ended" && len(l.Pods) > 0 {
			pods = "DRAIN: " + pods
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s → %s\t%s\t%s\n", l.Name, l.Borrower, strings.Join(l.Lenders, ","), l.Phase,
			l.Start.Local().Format("01-02 15:04"), l.End.Local().Format("01-02 15:04"), here, orDash(pods))
	}
}

func borrowCmd(o *opts) *cobra.Command {
	var l api.Loan
	var start string
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "borrow NAME --to DOMAIN --from DOMAIN[,DOMAIN] (--nodes N,.. | --node-selector k=v,..) (--pods-per-node N | --percent P) --for DURATION",
		Short: "Lend nodes of other domains to a domain for a window (creates a Loan)",
		Example: "  canectl borrow sale-night --to production --from test,preview --node-selector cane.io/role=test --percent 35 --for 6h\n" +
			"  canectl borrow burst --to production --from test --nodes node7,node8 --pods-per-node 20 --start 2026-11-27T18:00:00Z --for 2h",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l.Name = args[0]
			l.Start = time.Now().UTC().Truncate(time.Second)
			if start != "" {
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return fmt.Errorf("--start: %w", err)
				}
				l.Start = t
			}
			l.End = l.Start.Add(window)
			if err := api.NewClient(o.socket).Post(context.Background(), "/v1/loans", l, &l); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loan %s: %s borrows %s nodes from %s until %s (canectl loans to watch, canectl return %s to end it)\n",
				l.Name, l.Borrower, strings.Join(l.Lenders, ","), l.Start.Format(time.RFC3339), l.End.Format(time.RFC3339), l.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&l.Borrower, "to", "", "the borrowing domain")
	f.StringSliceVar(&l.Lenders, "from", nil, "the lending domains")
	f.StringSliceVar(&l.Nodes, "nodes", nil, "lent nodes by name")
	f.StringToStringVar(&l.NodeSelector, "node-selector", nil, "lent nodes by labels")
	f.IntVar(&l.PodsPerNode, "pods-per-node", 0, "borrower pods allowed per lent node")
	f.IntVar(&l.Percent, "percent", 0, "borrower pods allowed per lent node, as % of its pod capacity")
	f.BoolVar(&l.LendBlocks, "lend-blocks", false, "when the borrower's pools run dry, lend whole blocks of the lenders' pools")
	f.StringVar(&start, "start", "", "start (RFC 3339; default now)")
	f.DurationVar(&window, "for", 0, "length of the window")
	return cmd
}

func returnCmd(o *opts) *cobra.Command {
	var extend time.Duration
	cmd := &cobra.Command{
		Use:   "return NAME",
		Short: "End a loan now (its borrower pods are reported for draining; blocks return once empty); --extend moves the end instead",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var e api.LoanEnd
			if extend != 0 {
				ls, err := loans(o)
				if err != nil {
					return err
				}
				for _, l := range ls {
					if l.Name == args[0] {
						e.At = l.End.Add(extend)
					}
				}
				if e.At.IsZero() {
					return fmt.Errorf("no loan %q (canectl loans lists them)", args[0])
				}
			}
			if err := api.NewClient(o.socket).Post(context.Background(), "/v1/loans/"+args[0]+"/return", e, &e); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loan %s ends %s\n", args[0], e.At.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&extend, "extend", 0, "extend the loan by this much instead of ending it")
	return cmd
}

func loans(o *opts) ([]api.Loan, error) {
	var ls []api.Loan
	return ls, api.NewClient(o.socket).Get(context.Background(), "/v1/loans", &ls)
}
