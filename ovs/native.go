package ovs

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cane-cni/cane/flows"
)

// The OpenFlow 1.5 messages the native path sends: flow mods in one
// atomic bundle over the bridge's management socket, with no process to
// start. It speaks only what pod flows need (see encodeLine); a bundle
// with anything else goes through ovs-ofctl.
const (
	ofVersion15       = 0x06
	ofptError         = 1
	ofptFlowMod       = 14
	ofptBundleControl = 33
	ofptBundleAdd     = 34

	ofptBarrierRequest              = 20
	ofptBarrierReply                = 21
	bundleOpen                      = 0
	bundleCommit, bundleCommitReply = 4, 5
	bundleDiscard                   = 6
	bundleAtomicOrdered             = 1 | 2
)

// oxm is an OXM header: class, field, value length.
type oxm struct {
	class uint16
	field uint8
	size  uint8
}

var (
	oxmInPort  = oxm{0x8000, 0, 4}
	oxmEthDst  = oxm{0x8000, 3, 6}
	oxmEthSrc  = oxm{0x8000, 4, 6}
	oxmEthType = oxm{0x8000, 5, 2}
	oxmIPv4Src = oxm{0x8000, 11, 4}
	oxmIPv4Dst = oxm{0x8000, 12, 4}
	oxmARPSPA  = oxm{0x8000, 22, 4}
	oxmARPSHA  = oxm{0x8000, 24, 6}
	oxmReg     = func(n int) oxm { return oxm{0x0001, uint8(n), 4} }
)

func (o oxm) put(b []byte, value []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, o.class)
	b = append(b, o.field<<1, o.size)
	return append(b, value...)
}

// encodeLine turns one bundle line into a flow mod, if the native path
// speaks it.
func encodeLine(line string) ([]byte, bool) {
	if sel, ok := strings.CutPrefix(line, "delete cookie="); ok {
		v, m, ok := strings.Cut(sel, "/")
		cookie, err1 := strconv.ParseUint(v, 0, 64)
		mask, err2 := strconv.ParseUint(m, 0, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, false
		}
		return flowMod(3, 0xff, 0, cookie, mask, []byte{0, 1, 0, 4, 0, 0, 0, 0}, nil), true
	}
	text, ok := strings.CutPrefix(line, "add ")
	if !ok {
		return nil, false
	}
	f, err := flows.Parse(text)
	if err != nil {
		return nil, false
	}
	match, ok := encodeMatch(f.Match)
	if !ok {
		return nil, false
	}
	inst, ok := encodeActions(f.Actions)
	if !ok {
		return nil, false
	}
	return flowMod(0, uint8(f.Table), f.Priority, uint64(f.Cookie), 0, match, inst), true
}

func flowMod(command, table uint8, priority uint16, cookie, cookieMask uint64, match, inst []byte) []byte {
	b := make([]byte, 8, 64)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, cookieMask)
	b = append(b, table, command)
	b = binary.BigEndian.AppendUint16(b, 0) // idle timeout
	b = binary.BigEndian.AppendUint16(b, 0) // hard timeout
	b = binary.BigEndian.AppendUint16(b, priority)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // buffer id: none
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // out port: any
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // out group: any
	b = binary.BigEndian.AppendUint16(b, 0)          // flags
	b = binary.BigEndian.AppendUint16(b, 0)          // importance
	b = append(b, match...)
	b = append(b, inst...)
	copy(b, ofHeader(ofVersion15, ofptFlowMod, uint16(len(b)), 0))
	return b
}

// encodeMatch encodes the match fields pod flows use, in prerequisite
// order (ethertype before L3 fields).
func encodeMatch(m string) ([]byte, bool) {
	fields := map[string]string{}
	for _, kv := range strings.Split(m, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	var oxms []byte
	take := func(key string, o oxm, enc func(string) ([]byte, bool)) bool {
		v, ok := fields[key]
		if !ok {
			return true
		}
		delete(fields, key)
		val, ok := enc(v)
		if ok {
			oxms = o.put(oxms, val)
		}
		return ok
	}
	ethType := []byte(nil)
	if _, ok := fields["ip"]; ok {
		ethType = []byte{0x08, 0x00}
		delete(fields, "ip")
	} else if _, ok := fields["arp"]; ok {
		ethType = []byte{0x08, 0x06}
		delete(fields, "arp")
	}
	ok := take("in_port", oxmInPort, u32)
	if ethType != nil {
		oxms = oxmEthType.put(oxms, ethType)
	}
	ok = ok && take("dl_src", oxmEthSrc, mac) && take("reg0", oxmReg(0), u32) &&
		take("nw_src", oxmIPv4Src, ipv4) && take("nw_dst", oxmIPv4Dst, ipv4) &&
		take("arp_spa", oxmARPSPA, ipv4) && take("arp_sha", oxmARPSHA, mac)
	if !ok || len(fields) > 0 {
		return nil, false // a field the native path does not speak
	}
	n := 4 + len(oxms)
	b := binary.BigEndian.AppendUint16(nil, 1) // OFPMT_OXM
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, oxms...)
	return append(b, make([]byte, pad8(n))...), true
}

// encodeActions encodes set_field (reg0, reg1, eth_dst), goto_table and
// drop.
func encodeActions(a string) ([]byte, bool) {
	var actions, inst []byte
	for _, act := range strings.Split(a, ",") {
		switch {
		case act == "drop":
		case strings.HasPrefix(act, "goto_table:"):
			t, err := strconv.ParseUint(strings.TrimPrefix(act, "goto_table:"), 10, 8)
			if err != nil {
				return nil, false
			}
			inst = append(inst, 0, 1, 0, 8, byte(t), 0, 0, 0)
		case strings.HasPrefix(act, "set_field:"):
			v, dst, ok := strings.Cut(strings.TrimPrefix(act, "set_field:"), "->")
			if !ok {
				return nil, false
			}
			var field []byte
			switch dst {
			case "reg0", "reg1":
				val, ok := u32(v)
				if !ok {
					return nil, false
				}
				field = oxmReg(int(dst[3]-'0')).put(nil, val)
			case "eth_dst":
				val, ok := mac(v)
				if !ok {
					return nil, false
				}
				field = oxmEthDst.put(nil, val)
			default:
				return nil, false
			}
			n := 4 + len(field)
			actions = binary.BigEndian.AppendUint16(actions, 25) // OFPAT_SET_FIELD
			actions = binary.BigEndian.AppendUint16(actions, uint16(n+pad8(n)))
			actions = append(actions, field...)
			actions = append(actions, make([]byte, pad8(n))...)
		default:
			return nil, false
		}
	}
	if len(actions) > 0 {
		apply := binary.BigEndian.AppendUint16(nil, 4) // OFPIT_APPLY_ACTIONS
		apply = binary.BigEndian.AppendUint16(apply, uint16(8+len(actions)))
		apply = append(apply, 0, 0, 0, 0)
		inst = append(append(apply, actions...), inst...)
	}
	return inst, true
}

func pad8(n int) int { return (8 - n%8) % 8 }

func u32(s string) ([]byte, bool) {
	v, err := strconv.ParseUint(s, 0, 32)
	return binary.BigEndian.AppendUint32(nil, uint32(v)), err == nil
}

func mac(s string) ([]byte, bool) {
	m, err := net.ParseMAC(s)
	return m, err == nil && len(m) == 6
}

func ipv4(s string) ([]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return nil, false
	}
	b := a.As4()
	return b[:], true
}

// applyNative sends the flow mods in one atomic bundle and waits for the
// commit's answer; any OpenFlow error fails the whole bundle.
func (o *OpenFlow) applyNative(ctx context.Context, bridge string, mods [][]byte) error {
	path := filepath.Join(o.RunDir, bridge+".mgmt")
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	const bundleID = 1
	msgs := ofHeader(ofVersion15, ofptHello, 8, 0)
	msgs = append(msgs, bundleControl(1, bundleID, bundleOpen)...)
	for i, m := range mods {
		binary.BigEndian.PutUint32(m[4:], uint32(2+i))
		add := append(ofHeader(ofVersion15, ofptBundleAdd, uint16(16+len(m)), uint32(2+i)), 0, 0, 0, bundleID, 0, 0, 0, bundleAtomicOrdered)
		msgs = append(msgs, append(add, m...)...)
	}
	// A barrier after the adds: every add's error (OVS checks each flow
	// mod as it is added) arrives before its reply. Any error: discard,
	// so the bundle is all or nothing.
	barrierXID := uint32(2 + len(mods))
	msgs = append(msgs, ofHeader(ofVersion15, ofptBarrierRequest, 8, barrierXID)...)
	if _, err := conn.Write(msgs); err != nil {
		return err
	}
	if err := readUntil(conn, bridge, ofptBarrierReply, barrierXID); err != nil {
		_, _ = conn.Write(bundleControl(barrierXID+1, bundleID, bundleDiscard))
		return err
	}
	commitXID := barrierXID + 1
	if _, err := conn.Write(bundleControl(commitXID, bundleID, bundleCommit)); err != nil {
		return err
	}
	return readUntil(conn, bridge, ofptBundleControl, commitXID)
}

// readUntil reads the switch's messages until the one of type typ with
// xid (for a bundle control message: a commit reply), answering echo
// requests; an OpenFlow error ends it.
func readUntil(conn net.Conn, bridge string, typ byte, xid uint32) error {
	for {
		m, err := readOF(conn)
		if err != nil {
			return fmt.Errorf("bundle to %s: %w", bridge, err)
		}
		switch m.typ {
		case ofptHello:
			if m.version < ofVersion15 {
				return fmt.Errorf("bundle to %s: the switch speaks OpenFlow version %d, not 1.5", bridge, m.version)
			}
		case ofptError:
			var et, code uint16
			if len(m.body) >= 4 {
				et, code = binary.BigEndian.Uint16(m.body), binary.BigEndian.Uint16(m.body[2:])
			}
			return fmt.Errorf("bundle to %s: OpenFlow error type %d code %d on message %d", bridge, et, code, m.xid)
		case typ:
			if m.xid == xid && (typ != ofptBundleControl || (len(m.body) >= 6 && binary.BigEndian.Uint16(m.body[4:]) == bundleCommitReply)) {
				return nil
			}
		}
	}
}

func bundleControl(xid, id uint32, typ uint16) []byte {
	b := ofHeader(ofVersion15, ofptBundleControl, 16, xid)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint16(b, typ)
	return binary.BigEndian.AppendUint16(b, bundleAtomicOrdered)
}
