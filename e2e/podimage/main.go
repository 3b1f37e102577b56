// Command podimage is the one binary of the e2e suite's container image
// (built locally, imported into containerd; no registry):
//
//	podimage pause   the sandbox: sleep until SIGTERM/SIGINT, reap children
//	podimage serve   answer TCP connections on :8080 with "hello from HOST\n"
//	                 and echo UDP datagrams on :8080
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: podimage pause|serve")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		pause()
	case "serve":
		fmt.Fprintln(os.Stderr, serve()) // serve returns only on an error
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

func pause() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

// serve answers TCP (a hello naming the host) and UDP (an echo) on :8080
// until it fails: it returns only an error.
func serve() error {
	host, _ := os.Hostname()
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", ":8080")
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], addr)
		}
	}()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		fmt.Fprintf(c, "hello from %s\n", host)
		c.Close()
	}
}
