package of

import (
	"encoding/binary"
	"fmt"
)

// OpenFlow 1.5 messages, as bytes (xid 0 unless given; SetXID changes it).

// Version is the OpenFlow version this package speaks: 1.5.
const Version = 0x06

// Message types.
const (
	TypeHello            = 0
	TypeError            = 1
	TypeEchoRequest      = 2
	TypeEchoReply        = 3
	TypeFlowMod          = 14
	TypeMultipartRequest = 18
	TypeMultipartReply   = 19
	TypeBarrierRequest   = 20
	TypeBarrierReply     = 21
	TypeBundleControl    = 33
	TypeBundleAdd        = 34
)

// Bundle control types and flags.
const (
	BundleOpen          = 0
	BundleCommit        = 4
	BundleCommitReply   = 5
	BundleDiscard       = 6
	BundleAtomicOrdered = 1 | 2
)

// Flow mod commands.
const (
	cmdAdd          = 0
	cmdDelete       = 3
	cmdDeleteStrict = 4
)

const (
	multipartFlowDesc = 1 // OFPMP_FLOW_DESC (OFPMP_FLOW before 1.5)
	replyMore         = 1 // OFPMPF_REPLY_MORE
	tableAll          = 0xff
	anyPort           = 0xffffffff
	anyGroup          = 0xffffffff
)

// MsgHeader is an OpenFlow 1.5 message header.
func MsgHeader(typ byte, length uint16, xid uint32) []byte {
	h := make([]byte, 8, max(int(length), 64))
	h[0], h[1] = Version, typ
	binary.BigEndian.PutUint16(h[2:], length)
	binary.BigEndian.PutUint32(h[4:], xid)
	return h
}

// SetXID sets a message's transaction ID.
func SetXID(msg []byte, xid uint32) { binary.BigEndian.PutUint32(msg[4:], xid) }

// Hello is OFPT_HELLO for OpenFlow 1.5.
func Hello(xid uint32) []byte { return MsgHeader(TypeHello, 8, xid) }

// BarrierRequest is OFPT_BARRIER_REQUEST.
func BarrierRequest(xid uint32) []byte { return MsgHeader(TypeBarrierRequest, 8, xid) }

// BundleControl is OFPT_BUNDLE_CONTROL of bundle id.
func BundleControl(xid, id uint32, typ uint16) []byte {
	b := MsgHeader(TypeBundleControl, 16, xid)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint16(b, typ)
	return binary.BigEndian.AppendUint16(b, BundleAtomicOrdered)
}

// BundleAdd wraps msg (whose xid it takes) into bundle id.
func BundleAdd(id uint32, msg []byte) []byte {
	xid := binary.BigEndian.Uint32(msg[4:])
	b := MsgHeader(TypeBundleAdd, uint16(16+len(msg)), xid)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint16(b, 0) // pad
	b = binary.BigEndian.AppendUint16(b, BundleAtomicOrdered)
	return append(b, msg...)
}

// Selector picks flows by cookie bits and, if OneTable, by table. The
// zero Selector picks every flow.
type Selector struct {
	Cookie, CookieMask uint64
	Table              uint8
	OneTable           bool
}

// CookieSelector picks the flows whose cookie bits under mask are c's.
func CookieSelector(c, mask uint64) Selector { return Selector{Cookie: c & mask, CookieMask: mask} }

// InTable is s limited to table t.
func (s Selector) InTable(t uint8) Selector {
	s.Table, s.OneTable = t, true
	return s
}

func (s Selector) table() uint8 {
	if s.OneTable {
		return s.Table
	}
	return tableAll
}

// Selects reports whether s picks f.
func (s Selector) Selects(f Flow) bool {
	return f.Cookie&s.CookieMask == s.Cookie&s.CookieMask && (!s.OneTable || f.Table == s.Table)
}

// String is s as ovs-ofctl writes a selector: "table=30,cookie=0x1/0xff".
func (s Selector) String() string {
	var out string
	if s.OneTable {
		out = fmt.Sprintf("table=%d,", s.Table)
	}
	return out + fmt.Sprintf("cookie=%#x/%#x", s.Cookie&s.CookieMask, s.CookieMask)
}

// flowMod is an OFPT_FLOW_MOD.
func flowMod(command, table uint8, priority uint16, cookie, cookieMask uint64, oxms, inst []byte) []byte {
	b := MsgHeader(TypeFlowMod, 0, 0)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, cookieMask)
	b = append(b, table, command)
	b = binary.BigEndian.AppendUint16(b, 0) // idle timeout
	b = binary.BigEndian.AppendUint16(b, 0) // hard timeout
	b = binary.BigEndian.AppendUint16(b, priority)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // buffer id: none
	b = binary.BigEndian.AppendUint32(b, anyPort)
	b = binary.BigEndian.AppendUint32(b, anyGroup)
	b = binary.BigEndian.AppendUint16(b, 0) // flags
	b = binary.BigEndian.AppendUint16(b, 0) // importance
	b = appendMatch(b, oxms)
	b = append(b, inst...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// AddFlow is the flow mod that adds f, or replaces the flow with its Key.
func AddFlow(f Flow) ([]byte, error) {
	m, err := f.oxm()
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", f, err)
	}
	inst, err := appendInstructions(nil, f.Canonical().Actions)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", f, err)
	}
	return flowMod(cmdAdd, f.Table, f.Priority, f.Cookie, 0, m, inst), nil
}

// DeleteStrict is the flow mod that deletes the one flow with key k.
func DeleteStrict(k Key) []byte {
	return flowMod(cmdDeleteStrict, k.Table, k.Priority, 0, 0, []byte(k.Match), nil)
}

// DeleteFlows is the flow mod that deletes every flow s selects.
func DeleteFlows(s Selector) []byte {
	return flowMod(cmdDelete, s.table(), 0, s.Cookie&s.CookieMask, s.CookieMask, nil, nil)
}

// FlowDescRequest is the OpenFlow 1.5 multipart request for the flows s
// selects: OFPMP_FLOW_DESC, the only flow dump OVS 3.1 serves at 1.5 (it
// has no OFPMP_FLOW_STATS), with match, instructions and counters.
func FlowDescRequest(xid uint32, s Selector) []byte {
	b := MsgHeader(TypeMultipartRequest, 0, xid)
	b = binary.BigEndian.AppendUint16(b, multipartFlowDesc)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = append(b, 0, 0, 0, 0)
	b = append(b, s.table(), 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, anyPort)
	b = binary.BigEndian.AppendUint32(b, anyGroup)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, s.Cookie&s.CookieMask)
	b = binary.BigEndian.AppendUint64(b, s.CookieMask)
	b = appendMatch(b, nil)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// DecodeFlowDescReply reads the body of an OFPMP_FLOW_DESC multipart
// reply (after the 8-byte OpenFlow header): its flows, and whether more
// replies follow.
func DecodeFlowDescReply(body []byte) (fs []FlowStats, more bool, err error) {
	if len(body) < 8 {
		return nil, false, errShort
	}
	if t := be16(body); t != multipartFlowDesc {
		return nil, false, fmt.Errorf("multipart reply of type %d, not flow desc", t)
	}
	more = be16(body[2:])&replyMore != 0
	for b := body[8:]; len(b) > 0; {
		f, n, err := DecodeFlowDesc(b)
		if err != nil {
			return nil, false, err
		}
		fs = append(fs, f)
		b = b[n:]
	}
	return fs, more, nil
}

// Error is an OFPT_ERROR from the switch.
type Error struct {
	Type, Code uint16
	XID        uint32
}

func (e Error) Error() string {
	return fmt.Sprintf("OpenFlow error type %d code %d on message %d", e.Type, e.Code, e.XID)
}

// DecodeError reads an OFPT_ERROR body.
func DecodeError(xid uint32, body []byte) Error {
	e := Error{XID: xid}
	if len(body) >= 4 {
		e.Type, e.Code = be16(body), be16(body[2:])
	}
	return e
}

// IsCommitReply reports whether a bundle control body is a commit reply.
func IsCommitReply(body []byte) bool { return len(body) >= 6 && be16(body[4:]) == BundleCommitReply }
