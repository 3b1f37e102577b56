package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func countersCmd(o *opts) *cobra.Command {
	return &cobra.Command{
		Use:   "counters",
		Short: "MAC tables, UDP and reassembly drops (node and each pod), port and pipeline drops, and alerts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c api.Counters
			if err := api.NewClient(o.socket).Get(context.Background(), "/v1/counters", &c); err != nil {
				return err
			}
			return o.print(cmd, c, func(w *tabwriter.Writer) {
				for _, a := range c.Alerts {
					fmt.Fprintf(w, "ALERT\t%s\t%s\n", a.Kind, a.Message)
				}
				if len(c.Alerts) > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintln(w, "BRIDGE\tMAC ENTRIES\tFULL\tEVICTED")
				for _, m := range c.MACTables {
					fmt.Fprintf(w, "%s\t%d/%d\t%.0f%%\t%d\n", m.Bridge, m.Current, m.Max, m.Percent(), m.Evicted)
				}
				fmt.Fprintln(w, "\nNETNS\tDOMAIN\tUDP DROPS\tRCVBUF\tSNDBUF\tCSUM\tNOPORTS\tREASM FAILS\tPORT RX/TX DROPS")
				row := func(name, domain string, s api.SNMP, ports string) {
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", name, orDash(domain), s.Drops(), s.UDPRcvbufErrors, s.UDPSndbufErrors, s.UDPInCsumErrors, s.UDPNoPorts, s.IPReasmFails, ports)
				}
				row("node", "", c.Node, "-")
				for _, p := range c.Pods {
					if p.Err != "" {
						fmt.Fprintf(w, "%s\t%s\t(%s)\n", p.Name, p.Domain, p.Err)
						continue
					}
					row(p.Name, p.Domain, p.SNMP, fmt.Sprintf("%d/%d", p.RxDropped, p.TxDropped))
				}
				fmt.Fprint(w, "\nPIPELINE DROPS")
				for _, reason := range []string{"spoof", "isolation", "unknown-vni", "no-route", "unknown-source"} {
					fmt.Fprintf(w, "\t%s %d", reason, c.Drops[reason])
				}
				fmt.Fprintln(w)
			})
		},
	}
}
