package main

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cane-cni/cane/api"
)

func flowsCmd(o *opts) *cobra.Command {
	var table, pod string
	cmd := &cobra.Command{
		Use: "flows", Short: "Installed flows with table names, owners and packet counts", Args: cobra.NoArgs,
		Example: "  canectl flows --table DomainPolicy\n  canectl flows --pod shop/web",
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"table": {table}, "pod": {pod}}
			var fs []api.Flow
			if err := api.NewClient(o.socket).Get(context.Background(), "/v1/flows?"+q.Encode(), &fs); err != nil {
				return err
			}
			return o.print(cmd, fs, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "TABLE\tPRIO\tMATCH\tACTIONS\tPACKETS\tOWNER")
				for _, f := range fs {
					owner := f.Owner
					if f.Reason != "" {
						owner = "drop: " + f.Reason
					}
					fmt.Fprintf(w, "%d %s\t%d\t%s\t%s\t%d\t%s\n", f.Table, f.TableName, f.Priority, orAny(f.Match), f.Actions, f.Packets, owner)
				}
			})
		},
	}
	cmd.Flags().StringVar(&table, "table", "", "only this table (Classifier, TunnelVNI, SpoofGuard, ARPResponder, DomainPolicy, Forward, Output)")
	cmd.Flags().StringVar(&pod, "pod", "", "only this pod's flows (namespace/name, IP or container ID)")
	return cmd
}

func orAny(match string) string {
	if match == "" {
		return "(any)"
	}
	return match
}

func traceCmd(o *opts) *cobra.Command {
	var req api.TraceRequest
	var src string
	cmd := &cobra.Command{
		Use:   "trace POD DESTINATION | trace --witness PACKET",
		Short: "Follow a packet from a pod (or a verify witness) through the pipeline, table by table, to a verdict",
		Example: "  canectl trace shop/web 198.19.0.3 --proto tcp --port 80\n" +
			"  canectl trace shop/web 198.19.1.3 --proto icmp\n  canectl trace shop/web 198.19.0.3 --src 198.19.0.99\n" +
			"  canectl trace --witness 'tcp,in_port=10,dl_src=0a:58:c6:13:00:02,dl_dst=00:00:00:00:00:00,nw_src=198.19.0.2,nw_dst=198.19.1.2'",
		Args: func(cmd *cobra.Command, args []string) error {
			if req.Witness != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Witness == "" {
				to, err := netip.ParseAddr(args[1])
				if err != nil {
					return fmt.Errorf("destination: %w", err)
				}
				req.From, req.To = args[0], to
				if src != "" {
					if req.SrcIP, err = netip.ParseAddr(src); err != nil {
						return fmt.Errorf("--src: %w", err)
					}
				}
			}
			var tr api.Trace
			if err := api.NewClient(o.socket).Post(context.Background(), "/v1/trace", req, &tr); err != nil {
				return err
			}
			return o.print(cmd, tr, func(w *tabwriter.Writer) { traceTable(w, tr) })
		},
	}
	cmd.Flags().StringVar(&req.Proto, "proto", "tcp", "tcp, udp or icmp")
	cmd.Flags().Uint16Var(&req.Port, "port", 80, "destination port (tcp, udp)")
	cmd.Flags().StringVar(&src, "src", "", "forge this source address (to see the spoof guard)")
	cmd.Flags().StringVar(&req.Witness, "witness", "", "trace this whole packet instead (a witness of canectl verify, in ovs-ofctl flow syntax)")
	return cmd
}

func traceTable(w *tabwriter.Writer, tr api.Trace) {
	if tr.From.OFPort != 0 {
		fmt.Fprintf(w, "from %s/%s (%s, %s) port %d\n", tr.From.PodNamespace, tr.From.PodName, tr.From.IP, tr.From.Domain, tr.From.OFPort)
	}
	fmt.Fprintf(w, "packet %s\n\n", tr.Packet)
	for _, s := range tr.Steps {
		fmt.Fprintf(w, "%2d %s\t%s (priority %d)\t%s\n", s.Table, s.TableName, orAny(s.Match), s.Priority, strings.Join(s.Actions, ", "))
	}
	fmt.Fprintf(w, "\nverdict: %s\n", tr.Verdict)
}
