package testbed

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// ProbeTimeout is how long a probe waits for an answer. Pod-to-pod on one
// node answers in well under a millisecond; misses are drops, not delays.
const ProbeTimeout = 800 * time.Millisecond

// Probe tries ICMP, TCP and UDP from one pod to another (TCP and UDP on
// port) and returns which got through, by protocol name.
func Probe(from, to *Pod, port int) (map[string]bool, error) {
	ping, err := Ping(from.NS, to.IP)
	if err != nil {
		return nil, err
	}
	tcp, err := TCP(from.NS, to.NS, to.IP, port)
	if err != nil {
		return nil, err
	}
	udp, err := UDP(from.NS, to.NS, to.IP, port)
	if err != nil {
		return nil, err
	}
	return map[string]bool{"icmp": ping, "tcp": tcp, "udp": udp}, nil
}

// ProbeAll probes every pair at once, pair i on ports port+2i (and
// port+2i+1 for a retry): a blocked probe waits out its timeout, and in
// parallel that is one timeout, not one per pair. With retry, a protocol
// that failed is tried once more, since userspace OVS may drop the very
// first packet to a new VTEP while it resolves the underlay neighbour.
func ProbeAll(pairs [][2]*Pod, port int, retry bool) ([]map[string]bool, error) {
	out := make([]map[string]bool, len(pairs))
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for i, pair := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := Probe(pair[0], pair[1], port+2*i)
			for proto, ok := range got {
				if !ok && retry && err == nil {
					var again map[string]bool
					again, err = Probe(pair[0], pair[1], port+2*i+1)
					got[proto] = again[proto]
				}
			}
			out[i], errs[i] = got, err
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Ping sends one ICMP echo request from inside n to dst and reports
// whether the matching reply arrived.
func Ping(n ns.NetNS, dst netip.Addr) (bool, error) {
	var ok bool
	err := n.Do(func(ns.NetNS) error {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		id := uint16(os.Getpid() & 0xffff)
		seq := uint16(time.Now().UnixNano())
		req := icmpEcho(8, id, seq, []byte("cane-probe"))
		if _, err := c.WriteTo(req, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return nil // e.g. no route: not delivered
		}
		deadline := time.Now().Add(ProbeTimeout)
		buf := make([]byte, 1500)
		for {
			_ = c.SetReadDeadline(deadline)
			m, from, err := c.ReadFrom(buf)
			if err != nil {
				return nil
			}
			src, _ := netip.ParseAddr(from.String())
			if m >= 8 && buf[0] == 0 && src == dst && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq {
				ok = true
				return nil
			}
		}
	})
	return ok, err
}

func icmpEcho(typ byte, id, seq uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	binary.BigEndian.PutUint16(b[2:], checksum(b))
	return b
}

// TCP connects from one netns to a listener at dst:port in another and
// reports whether a byte made the round trip.
func TCP(from, to ns.NetNS, dst netip.Addr, port int) (bool, error) {
	var ln net.Listener
	err := to.Do(func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(dst, uint16(port)).String())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("listen in target: %w", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(ProbeTimeout))
		b := make([]byte, 1)
		if _, err := c.Read(b); err == nil {
			_, _ = c.Write(b)
		}
	}()
	var ok bool
	err = from.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(dst, uint16(port)).String(), ProbeTimeout)
		if err != nil {
			return nil
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(ProbeTimeout))
		if _, err := c.Write([]byte{42}); err != nil {
			return nil
		}
		b := make([]byte, 1)
		_, err = c.Read(b)
		ok = err == nil && b[0] == 42
		return nil
	})
	return ok, err
}

// UDP sends a datagram from one netns to an echo listener at dst:port in
// another and reports whether the echo came back.
func UDP(from, to ns.NetNS, dst netip.Addr, port int) (bool, error) {
	var ok bool
	err := ListenUDP(to, dst, port, func(c *net.UDPConn) {
		buf := make([]byte, 64)
		n, addr, err := c.ReadFromUDP(buf)
		if err == nil {
			_, _ = c.WriteToUDP(buf[:n], addr)
		}
	}, func() error {
		return from.Do(func(ns.NetNS) error {
			c, err := net.Dial("udp4", netip.AddrPortFrom(dst, uint16(port)).String())
			if err != nil {
				return nil
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(ProbeTimeout))
			if _, err := c.Write([]byte("cane-udp")); err != nil {
				return nil
			}
			b := make([]byte, 64)
			n, err := c.Read(b)
			ok = err == nil && bytes.Equal(b[:n], []byte("cane-udp"))
			return nil
		})
	})
	return ok, err
}

// ListenUDP opens a UDP socket at addr:port inside n, runs serve on it in
// the background, then calls send and closes the socket when send returns
// (plus ProbeTimeout for a late datagram).
func ListenUDP(n ns.NetNS, addr netip.Addr, port int, serve func(*net.UDPConn), send func() error) error {
	var c *net.UDPConn
	err := n.Do(func(ns.NetNS) (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
		return err
	})
	if err != nil {
		return fmt.Errorf("listen udp in target: %w", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * ProbeTimeout))
	done := make(chan struct{})
	go func() { defer close(done); serve(c) }()
	if err := send(); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(ProbeTimeout):
	}
	return nil
}

// Received reports whether a datagram carrying token reaches a UDP
// listener at addr:port in n while send runs.
func Received(n ns.NetNS, addr netip.Addr, port int, token []byte, send func() error) (bool, error) {
	got := make(chan bool, 1)
	err := ListenUDP(n, addr, port, func(c *net.UDPConn) {
		buf := make([]byte, 1500)
		for {
			k, _, err := c.ReadFromUDP(buf)
			if err != nil {
				got <- false
				return
			}
			if bytes.Contains(buf[:k], token) {
				got <- true
				return
			}
		}
	}, send)
	if err != nil {
		return false, err
	}
	select {
	case ok := <-got:
		return ok, nil
	default:
		return false, nil
	}
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
