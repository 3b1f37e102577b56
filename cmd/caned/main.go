// Command caned is Cane's node daemon. The command line and wiring only;
// the daemon is daemon/.
//
//	caned [--config FILE] [--debug]     serve (the DaemonSet's container)
//	caned install [--plugin ...]        copy cane and the conflist into the
//	                                    runtime's CNI dirs (its init container)
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := root(serve, install).Execute(); err != nil {
		if !errors.Is(err, errLogged) {
			fmt.Fprintln(os.Stderr, "caned:", err)
		}
		os.Exit(1)
	}
}

// errLogged ends caned with exit code 1 after its log said why.
var errLogged = errors.New("failed")

// installOpts are `caned install`'s paths.
type installOpts struct {
	plugin, conflist string // what to install
	binDir, confDir  string // the runtime's CNI dirs, as mounted in the pod
}

// root is caned's command line; serve and install do the work (main's
// are below, a test's record what they were asked).
func root(serve func(config string, debug bool) error, install func(installOpts) error) *cobra.Command {
	var config string
	var debug bool
	cmd := &cobra.Command{
		Use:   "caned",
		Short: "Cane's node daemon: the bridge, IPAM, pod interfaces and the OpenFlow pipeline, served to cane and canectl on a unix socket",
		Args:  cobra.NoArgs, SilenceUsage: true, SilenceErrors: true,
		RunE: func(*cobra.Command, []string) error { return serve(config, debug) },
		// A daemon: no shell completion verb beside install.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cmd.Flags().StringVar(&config, "config", "/etc/cane/caned.json", "configuration file (JSON)")
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level")
	cmd.AddCommand(installCmd(install))
	return cmd
}

func installCmd(install func(installOpts) error) *cobra.Command {
	var o installOpts
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Copy the cane plugin and the conflist into the runtime's CNI dirs, each by rename (the DaemonSet's init step)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return install(o) },
	}
	cmd.Flags().StringVar(&o.plugin, "plugin", "/usr/local/bin/cane", "the cane plugin binary to install")
	cmd.Flags().StringVar(&o.conflist, "conflist", "/etc/cane/10-cane.conflist", "the network configuration to install")
	cmd.Flags().StringVar(&o.binDir, "cni-bin-dir", "/host/opt/cni/bin", "the runtime's CNI bin dir")
	cmd.Flags().StringVar(&o.confDir, "cni-conf-dir", "/host/etc/cni/net.d", "the runtime's CNI conf dir")
	return cmd
}
