package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/daemon"
)

// serve runs the daemon until SIGTERM or SIGINT, logging JSON to stderr.
func serve(config string, debug bool) error {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(config, log); err != nil {
		log.Error("caned failed", "err", err)
		return errLogged
	}
	return nil
}

// run is the daemon's life: its loops (Run) and the socket (Serve) until
// a signal, or until either ends (Run does when the node cannot run).
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

// install is the DaemonSet's init step.
func install(o installOpts) error {
	if err := daemon.InstallCNI(o.plugin, o.binDir, o.conflist, o.confDir); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	fmt.Printf("installed %s into %s and %s into %s\n", o.plugin, o.binDir, o.conflist, o.confDir)
	return nil
}
