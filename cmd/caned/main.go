// Command caned is Cane's node daemon. Flags and wiring only; see daemon/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/daemon"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "install" {
		install(os.Args[2:])
		return
	}
	config := flag.String("config", "/etc/cane/caned.json", "configuration file (JSON)")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*config, log); err != nil {
		log.Error("caned failed", "err", err)
		os.Exit(1)
	}
}

func run(config string, log *slog.Logger) error {
	cfg, err := daemon.LoadConfig(config)
	if err != nil {
		return fmt.Errorf("config %s: %w", config, err)
	}
	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return err
	}
	d, err := daemon.New(cfg, hostNS, log)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := daemon.Listen(cfg.Socket)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Socket, err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	if cfg.MetricsAddress != "" {
		go func() {
			if err := d.ServeMetrics(ctx, cfg.MetricsAddress); err != nil {
				log.Error("metrics server failed", "address", cfg.MetricsAddress, "err", err)
			}
		}()
	}
	log.Info("serving", "socket", cfg.Socket, "node", cfg.Node)
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, l) }()
	select {
	case err = <-done: // Run ends with ctx (nil) or because the node cannot run
		stop()
		return errors.Join(err, <-served)
	case err = <-served:
		stop()
		return errors.Join(err, <-done)
	}
}

// install is the DaemonSet's init step: `caned install` drops the cane
// plugin and the conflist into the runtime's CNI directories (host paths).
func install(args []string) {
	fs := flag.NewFlagSet("install", flag.ExitOnError)
	plugin := fs.String("plugin", "/usr/local/bin/cane", "the cane plugin binary to install")
	conflist := fs.String("conflist", "/etc/cane/10-cane.conflist", "the network configuration to install")
	binDir := fs.String("cni-bin-dir", "/host/opt/cni/bin", "the runtime's CNI bin dir")
	confDir := fs.String("cni-conf-dir", "/host/etc/cni/net.d", "the runtime's CNI conf dir")
	_ = fs.Parse(args)
	if err := daemon.InstallCNI(*plugin, *binDir, *conflist, *confDir); err != nil {
		fmt.Fprintln(os.Stderr, "caned install:", err)
		os.Exit(1)
	}
	fmt.Printf("installed %s into %s and %s into %s\n", *plugin, *binDir, *conflist, *confDir)
}
