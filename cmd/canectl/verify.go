package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func verifyCmd(o *opts) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Prove isolation over the installed flows; each violation with a witness packet; exit code 1 if any (for cron)",
		Long: "verify reads the flows the bridge has installed and follows, symbolically, every packet each source can send:\n" +
			"each pod as itself and as a spoofer, the tunnel per VNI and from unknown VTEPs, the uplink per tag, the host port.\n" +
			"It reports every reach between domains their peerings do not allow, every foreign packet let through,\n" +
			"every loop and black hole, each with one packet that shows it; `canectl trace --witness` replays it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v api.Verify
			if err := api.NewClient(o.socket).Get(context.Background(), "/v1/verify", &v); err != nil {
				return err
			}
			err := o.print(cmd, v, func(w *tabwriter.Writer) { verifyTable(w, v) })
			if err == nil && !v.Proven {
				return errFailed
			}
			return err
		},
	}
}

func verifyTable(w *tabwriter.Writer, v api.Verify) {
	fmt.Fprintf(w, "%s: %s (%d flows, %d ms)\n", orDash(v.Node), v.Summary, v.Flows, v.Millis)
	for _, x := range v.Violations {
		fmt.Fprintf(w, "\n%s\t%s\n", strings.ToUpper(x.Kind), violationLine(x))
		fmt.Fprintf(w, "  shown by\t%d header classes of %d sources (first: %s)\n", x.Classes, x.Sources, x.Source)
		fmt.Fprintf(w, "  witness\t%s\n", x.Witness)
		replay := "canectl trace --witness '" + x.Witness + "'"
		if len(x.CTNext) > 0 {
			replay = fmt.Sprintf("ovs-appctl ofproto/trace %s '%s' --ct-next %s", v.Bridge, x.Witness, strings.Join(x.CTNext, " --ct-next "))
		}
		fmt.Fprintf(w, "  replay\t%s\n", replay)
		for _, h := range x.Path {
			switch {
			case h.Conntrack != "":
				fmt.Fprintf(w, "  \t%2d %s\tconntrack: ct_state %s\n", h.Table, h.TableName, h.Conntrack)
			default:
				fmt.Fprintf(w, "  \t%2d %s\t%s\n", h.Table, h.TableName, h.Flow)
			}
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note\t%s\n", n)
	}
}

// violationLine says what a violation is, in its kind's terms.
func violationLine(x api.Violation) string {
	switch x.Kind {
	case "isolation":
		return fmt.Sprintf("%s → %s: %s", x.From, x.ToDomain, x.To)
	case "spoof", "admission":
		return fmt.Sprintf("%s: %s, to %s", x.Source, x.Detail, x.To)
	case "leak":
		return fmt.Sprintf("%s: %s", x.From, x.To)
	}
	return x.Detail
}
