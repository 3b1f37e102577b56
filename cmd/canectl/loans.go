package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/loanapi"
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

// borrowCmd and returnCmd write Loans in the cluster with the operator's
// own credentials (--kubeconfig, else $KUBECONFIG, else ~/.kube/config),
// never through caned: a node's identity may not create or edit Loans.
func borrowCmd(o *opts) *cobra.Command {
	var l loanapi.Loan
	var start, kubeconfig string
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "borrow NAME --to DOMAIN --from DOMAIN[,DOMAIN] (--nodes N,.. | --node-selector k=v,..) (--pods-per-node N | --percent P) --for DURATION",
		Short: "Lend nodes of other domains to a domain for a window (creates a Loan, with your kubeconfig)",
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
			if err := checkLoan(l); err != nil {
				return err
			}
			dyn, err := operatorClient(kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
			defer cancel()
			if err := loanapi.Create(ctx, dyn, l); err != nil {
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
	f.StringVar(&kubeconfig, "kubeconfig", "", "your kubeconfig (default $KUBECONFIG, else ~/.kube/config)")
	return cmd
}

// checkLoan refuses, before the apiserver does, what no Loan may be.
func checkLoan(l loanapi.Loan) error {
	switch {
	case l.Borrower == "":
		return errors.New("--to: name the borrowing domain")
	case len(l.Nodes) == 0 && len(l.NodeSelector) == 0:
		return errors.New("lend nodes: --nodes, --node-selector or both")
	case (l.PodsPerNode == 0) == (l.Percent == 0):
		return errors.New("give exactly one of --pods-per-node and --percent")
	case !l.End.After(l.Start):
		return errors.New("--for: the window must be longer than zero")
	}
	return nil
}

func returnCmd(o *opts) *cobra.Command {
	var extend time.Duration
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "return NAME",
		Short: "End a loan now (its borrower pods are reported for draining; blocks return once empty); --extend moves the end instead",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dyn, err := operatorClient(kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
			defer cancel()
			at := time.Now()
			if extend != 0 {
				l, err := loanapi.Get(ctx, dyn, args[0])
				if err != nil {
					return err
				}
				at = l.End.Add(extend)
			}
			if err := loanapi.End(ctx, dyn, args[0], at); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loan %s ends %s\n", args[0], at.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&extend, "extend", 0, "extend the loan by this much instead of ending it")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "your kubeconfig (default $KUBECONFIG, else ~/.kube/config)")
	return cmd
}

// apiTimeout bounds one call to the apiserver.
const apiTimeout = 30 * time.Second

// operatorClient is a client with the operator's kubeconfig: path, else
// client-go's default rules ($KUBECONFIG, ~/.kube/config).
func operatorClient(path string) (dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("your kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return dynamic.NewForConfig(cfg)
}
