package ovs

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/cane-cni/cane/flows/of"
)

// Watch holds an OpenFlow connection to the bridge's management socket
// for as long as vswitchd serves it, and returns a channel that is closed
// when the connection ends: vswitchd stopped or restarted, and with it
// every flow is gone. It only says hello and answers echo requests. Stops
// with ctx.
func (o *OpenFlow) Watch(ctx context.Context, bridge string) (<-chan struct{}, error) {
	path := filepath.Join(o.RunDir, bridge+".mgmt")
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	// OpenFlow 1.0 hello: every switch speaks it, and the watch sends
	// nothing else that depends on the version.
	if _, err := conn.Write(ofHeader(0x01, of.TypeHello, 8, 1)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("watch %s: hello: %w", path, err)
	}
	gone := make(chan struct{})
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go func() {
		defer close(gone)
		defer conn.Close()
		for {
			if _, err := readOF(conn); err != nil {
				return
			}
		}
	}()
	return gone, nil
}

// ofMsg is one OpenFlow message as read.
type ofMsg struct {
	version, typ byte
	xid          uint32
	body         []byte
}

// readOF reads the next OpenFlow message, answering echo requests on the
// way (a switch drops a connection that stops answering them).
func readOF(conn net.Conn) (ofMsg, error) {
	head := make([]byte, 8)
	for {
		if _, err := io.ReadFull(conn, head); err != nil {
			return ofMsg{}, err
		}
		n := int(binary.BigEndian.Uint16(head[2:]))
		if n < 8 {
			return ofMsg{}, fmt.Errorf("bad OpenFlow message length %d", n)
		}
		m := ofMsg{version: head[0], typ: head[1], xid: binary.BigEndian.Uint32(head[4:]), body: make([]byte, n-8)}
		if _, err := io.ReadFull(conn, m.body); err != nil {
			return ofMsg{}, err
		}
		if m.typ != of.TypeEchoRequest {
			return m, nil
		}
		if _, err := conn.Write(append(ofHeader(m.version, of.TypeEchoReply, uint16(n), m.xid), m.body...)); err != nil {
			return ofMsg{}, err
		}
	}
}

func ofHeader(version, typ byte, length uint16, xid uint32) []byte {
	h := make([]byte, 8)
	h[0], h[1] = version, typ
	binary.BigEndian.PutUint16(h[2:], length)
	binary.BigEndian.PutUint32(h[4:], xid)
	return h
}
