package ovs

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/cane-cni/cane/flows/of"
)

// The native OpenFlow 1.5 path: one connection to the bridge's management
// socket per operation, no process to start. The messages are flows/of's;
// this file only moves them.

// session is one OpenFlow connection to a bridge, with its next xid.
type session struct {
	conn   net.Conn
	bridge string
	xid    uint32
}

// open dials the bridge's management socket and says hello in OpenFlow
// 1.5. The connection's deadline is ctx's, at most 30 s away.
func (o *OpenFlow) open(ctx context.Context, bridge string) (*session, error) {
	path := filepath.Join(o.RunDir, bridge+".mgmt")
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	s := &session{conn: conn, bridge: bridge, xid: 1}
	if err := s.write(of.Hello(s.next())); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *session) next() uint32 { s.xid++; return s.xid }

func (s *session) write(msgs ...[]byte) error {
	var all []byte
	for _, m := range msgs {
		all = append(all, m...)
	}
	_, err := s.conn.Write(all)
	return err
}

// read is the switch's next message other than an echo request (those it
// answers). A hello below OpenFlow 1.5 and an OpenFlow error end it.
func (s *session) read() (ofMsg, error) {
	for {
		m, err := readOF(s.conn)
		if err != nil {
			return m, err
		}
		switch m.typ {
		case of.TypeHello:
			if m.version < of.Version {
				return m, fmt.Errorf("the switch speaks OpenFlow version %d, not 1.5", m.version)
			}
			continue
		case of.TypeError:
			return m, of.DecodeError(m.xid, m.body)
		}
		return m, nil
	}
}

// applyNative sends the flow mods in one atomic bundle: open, the adds, a
// barrier (OVS checks each flow mod as it is added, so every refusal
// arrives before the barrier's reply), then commit — or, on any refusal,
// discard. All or nothing.
func (o *OpenFlow) applyNative(ctx context.Context, bridge string, mods [][]byte) error {
	s, err := o.open(ctx, bridge)
	if err != nil {
		return err
	}
	defer s.conn.Close()
	const bundleID = 1
	msgs := [][]byte{of.BundleControl(s.next(), bundleID, of.BundleOpen)}
	for _, m := range mods {
		of.SetXID(m, s.next())
		msgs = append(msgs, of.BundleAdd(bundleID, m))
	}
	barrier := s.next()
	msgs = append(msgs, of.BarrierRequest(barrier))
	if err := s.write(msgs...); err != nil {
		return err
	}
	if err := s.await(of.TypeBarrierReply, barrier); err != nil {
		_ = s.write(of.BundleControl(s.next(), bundleID, of.BundleDiscard))
		return err
	}
	commit := s.next()
	if err := s.write(of.BundleControl(commit, bundleID, of.BundleCommit)); err != nil {
		return err
	}
	return s.await(of.TypeBundleControl, commit)
}

// await reads until the reply of type typ to xid (for bundle control: the
// commit reply).
func (s *session) await(typ byte, xid uint32) error {
	for {
		m, err := s.read()
		if err != nil {
			return fmt.Errorf("bundle to %s: %w", s.bridge, err)
		}
		if m.typ == typ && m.xid == xid && (typ != of.TypeBundleControl || of.IsCommitReply(m.body)) {
			return nil
		}
	}
}

// dumpNative asks for the flows sel selects (OFPMP_FLOW_DESC) and reads
// the replies until the last.
func (o *OpenFlow) dumpNative(ctx context.Context, bridge string, sel of.Selector) ([]FlowStats, error) {
	s, err := o.open(ctx, bridge)
	if err != nil {
		return nil, err
	}
	defer s.conn.Close()
	xid := s.next()
	if err := s.write(of.FlowDescRequest(xid, sel)); err != nil {
		return nil, err
	}
	var all []FlowStats
	for {
		m, err := s.read()
		if err != nil {
			return nil, err
		}
		if m.typ != of.TypeMultipartReply || m.xid != xid {
			continue
		}
		fs, more, err := of.DecodeFlowDescReply(m.body)
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
		if !more {
			return all, nil
		}
	}
}
