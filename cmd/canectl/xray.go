package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func xrayCmd(o *opts) *cobra.Command {
	return &cobra.Command{
		Use:   "xray",
		Short: "Check the whole node, one line per check; exit code 1 if any fails (for cron)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var x api.XRay
			if err := api.NewClient(o.socket).Get(context.Background(), "/v1/xray", &x); err != nil {
				x = api.XRay{Checks: []api.Check{{Name: "caned reachable", Detail: err.Error()}}}
			}
			failed := 0
			for _, c := range x.Checks {
				if !c.OK {
					failed++
				}
			}
			err := o.print(cmd, x, func(w *tabwriter.Writer) {
				for _, c := range x.Checks {
					mark := "ok"
					if !c.OK {
						mark = "FAIL"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", mark, c.Name, c.Detail)
				}
				fmt.Fprintf(w, "\n%s: %d checks, %d failed\n", orDash(x.Node), len(x.Checks), failed)
			})
			if err == nil && failed > 0 {
				return errFailed
			}
			return err
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func gcCmd(o *opts) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove leaks: addresses of no pod, pods whose netns is gone; give back empty blocks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r api.GCReport
			if err := api.NewClient(o.socket).Post(context.Background(), fmt.Sprintf("/v1/gc?dryRun=%t", dry), nil, &r); err != nil {
				return err
			}
			return o.print(cmd, r, func(w *tabwriter.Writer) {
				verb := "collected"
				if dry {
					verb = "would collect"
				}
				for _, l := range r.Collected {
					fmt.Fprintf(w, "%s\t%s\t%s\t%.12s\t%s\n", verb, l.IP, orDash(l.Pod), l.ContainerID, l.Why)
				}
				for _, b := range r.Released {
					fmt.Fprintf(w, "released block\t%s\n", b)
				}
				fmt.Fprintf(w, "%d leaks %s, %d blocks released\n", len(r.Collected), verb, len(r.Released))
			})
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "only list what would be collected")
	return cmd
}
