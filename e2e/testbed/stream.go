package testbed

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Stream sends numbered UDP datagrams from one netns to another at a fixed
// rate until stopped, and counts which arrived: a loss meter for "nothing
// is interrupted while X happens".
type Stream struct {
	stop     chan struct{}
	done     sync.WaitGroup
	mu       sync.Mutex
	sent     uint32
	received map[uint32]bool
	conn     *net.UDPConn
}

// StartStream begins sending every interval from `from` to dst:port in `to`.
func StartStream(from, to ns.NetNS, dst netip.Addr, port int, interval time.Duration) (*Stream, error) {
	s := &Stream{stop: make(chan struct{}), received: map[uint32]bool{}}
	err := to.Do(func(ns.NetNS) (err error) {
		s.conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stream receiver: %w", err)
	}
	var out net.Conn
	err = from.Do(func(ns.NetNS) (err error) {
		out, err = net.Dial("udp4", netip.AddrPortFrom(dst, uint16(port)).String())
		return err
	})
	if err != nil {
		s.conn.Close()
		return nil, fmt.Errorf("stream sender: %w", err)
	}
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		buf := make([]byte, 64)
		for {
			n, _, err := s.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n >= 4 {
				s.mu.Lock()
				s.received[binary.BigEndian.Uint32(buf)] = true
				s.mu.Unlock()
			}
		}
	}()
	go func() {
		defer s.done.Done()
		defer out.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		b := make([]byte, 4)
		for seq := uint32(1); ; seq++ {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			binary.BigEndian.PutUint32(b, seq)
			_, _ = out.Write(b)
			s.mu.Lock()
			s.sent = seq
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// Stop ends the stream, waits for late datagrams, and returns how many
// were sent and which sequence numbers never arrived.
func (s *Stream) Stop() (sent int, lost []uint32) {
	close(s.stop)
	time.Sleep(200 * time.Millisecond)
	s.conn.Close()
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := uint32(1); seq <= s.sent; seq++ {
		if !s.received[seq] {
			lost = append(lost, seq)
		}
	}
	return int(s.sent), lost
}

// TCPThroughput sends as fast as it can for d from one netns to a listener
// at dst:port in another and returns the bits per second that arrived
// within d (bytes still queued when d ends are not counted).
func TCPThroughput(from, to ns.NetNS, dst netip.Addr, port int, d time.Duration) (float64, error) {
	addr := netip.AddrPortFrom(dst, uint16(port)).String()
	var l net.Listener
	if err := to.Do(func(ns.NetNS) (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		return 0, err
	}
	defer l.Close()
	recv := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			recv <- 0
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(d))
		n, _ := io.Copy(io.Discard, c)
		recv <- n
	}()
	var conn net.Conn
	if err := from.Do(func(ns.NetNS) (err error) {
		conn, err = net.DialTimeout("tcp4", addr, 5*time.Second)
		return err
	}); err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(d))
	buf := make([]byte, 128<<10)
	for {
		if _, err := conn.Write(buf); err != nil {
			break
		}
	}
	n := <-recv
	return float64(n*8) / d.Seconds(), nil
}
