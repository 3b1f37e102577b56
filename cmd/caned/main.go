// Command caned is Cane's node daemon. Flags and wiring only; see daemon/.
package main

import (
	"context"
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
	go d.Run(ctx)
	if cfg.MetricsAddress != "" {
		go func() {
			if err := d.ServeMetrics(ctx, cfg.MetricsAddress); err != nil {
				log.Error("metrics server failed", "address", cfg.MetricsAddress, "err", err)
			}
		}()
	}
	log.Info("serving", "socket", cfg.Socket, "node", cfg.Node)
	return d.Serve(ctx, l)
}
