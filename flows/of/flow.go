package of

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
)

// Protocol is the ethertype (and IP protocol) a flow matches, with OVS's
// names for it ("ip", "tcp6", ...).
type Protocol uint8

const (
	ProtoAny Protocol = iota
	ProtoIP
	ProtoIPv6
	ProtoARP
	ProtoTCP
	ProtoUDP
	ProtoSCTP
	ProtoICMP
	ProtoTCP6
	ProtoUDP6
	ProtoSCTP6
	ProtoICMP6
)

var protocols = [...]struct {
	name    string
	ethType uint16
	ipProto uint8 // 0: none
}{
	ProtoAny: {"", 0, 0}, ProtoIP: {"ip", 0x0800, 0}, ProtoIPv6: {"ipv6", 0x86dd, 0}, ProtoARP: {"arp", 0x0806, 0},
	ProtoTCP: {"tcp", 0x0800, 6}, ProtoUDP: {"udp", 0x0800, 17}, ProtoSCTP: {"sctp", 0x0800, 132}, ProtoICMP: {"icmp", 0x0800, 1},
	ProtoTCP6: {"tcp6", 0x86dd, 6}, ProtoUDP6: {"udp6", 0x86dd, 17}, ProtoSCTP6: {"sctp6", 0x86dd, 132}, ProtoICMP6: {"icmp6", 0x86dd, 58},
}

func (p Protocol) String() string {
	if int(p) < len(protocols) {
		return protocols[p].name
	}
	return fmt.Sprintf("proto%d", uint8(p))
}

// EthType is the ethertype the protocol implies (0 for ProtoAny).
func (p Protocol) EthType() uint16 { return protocols[p].ethType }

// IPProto is the IP protocol the protocol implies (0 for none).
func (p Protocol) IPProto() uint8 { return protocols[p].ipProto }

// protocolOf is the Protocol of an ethertype and IP protocol, and whether
// the IP protocol is part of it.
func protocolOf(ethType uint16, ipProto uint8, hasProto bool) (Protocol, bool) {
	for p := ProtoIP; int(p) < len(protocols); p++ {
		d := protocols[p]
		if d.ethType == ethType && hasProto && d.ipProto == ipProto {
			return p, true
		}
	}
	for p := ProtoIP; p <= ProtoARP; p++ {
		if protocols[p].ethType == ethType {
			return p, false
		}
	}
	return ProtoAny, false
}

// Flow is one OpenFlow flow: where it sits (table, priority), its cookie,
// what it matches and what it does. Matches are kept in canonical order
// (FieldID order, OVS's print order) by the builder methods and by
// Canonical; Actions end with at most one Goto.
type Flow struct {
	Table    uint8
	Priority uint16
	Cookie   uint64
	Protocol Protocol
	Matches  []Match
	Actions  []Action
}

// NewFlow starts a flow.
func NewFlow(table uint8, priority uint16, cookie uint64) Flow {
	return Flow{Table: table, Priority: priority, Cookie: cookie}
}

// Proto returns f matching protocol p.
func (f Flow) Proto(p Protocol) Flow {
	f.Protocol = p
	return f
}

// Match returns f with ms added, in canonical order. f itself is unchanged.
func (f Flow) Match(ms ...Match) Flow {
	out := make([]Match, 0, len(f.Matches)+len(ms))
	out = append(append(out, f.Matches...), ms...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	f.Matches = out
	return f
}

// Do returns f with as appended to its actions. f itself is unchanged.
func (f Flow) Do(as ...Action) Flow {
	f.Actions = append(f.Actions[:len(f.Actions):len(f.Actions)], as...)
	return f
}

// Canonical is f in canonical form: matches in FieldID order; an
// ethertype and IP protocol that a Protocol names folded into it; Drop
// actions removed (no action is a drop). Two flows that OVS holds as one
// have equal canonical forms.
func (f Flow) Canonical() Flow {
	ms := make([]Match, 0, len(f.Matches))
	ethType, ipProto, hasProto := f.Protocol.EthType(), f.Protocol.IPProto(), f.Protocol.IPProto() != 0
	for _, m := range f.Matches {
		switch {
		case m.Field == FieldEthType && m.IsExact() && ethType == 0:
			ethType = uint16(m.Uint())
		case m.Field == FieldIPProto && m.IsExact() && !hasProto:
			ipProto, hasProto = uint8(m.Uint()), true
		default:
			ms = append(ms, Masked(m.Field, m.Value, m.Mask))
		}
	}
	p, folded := protocolOf(ethType, ipProto, hasProto)
	if p == ProtoAny && ethType != 0 {
		ms = append(ms, EthType(ethType))
	}
	if hasProto && !folded {
		ms = append(ms, IPProto(ipProto))
	}
	f.Protocol = p
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Field < ms[j].Field })
	f.Matches = ms
	as := make([]Action, 0, len(f.Actions))
	for _, a := range f.Actions {
		if _, drop := a.(Drop); !drop {
			as = append(as, a)
		}
	}
	f.Actions = as
	return f
}

// Key is a flow's identity in OVS: table, priority and match. Adding a
// flow with the Key of an installed one replaces it. Comparable, and
// small enough to key a map of every flow of a node.
type Key struct {
	Table    uint8
	Priority uint16
	Match    string // the canonical OXM encoding of the match
}

// Key is the flow's identity.
func (f Flow) Key() Key {
	m, err := f.oxm()
	if err != nil {
		// An unencodable match cannot be installed; keep keys distinct anyway.
		m = []byte("!" + err.Error())
	}
	return Key{Table: f.Table, Priority: f.Priority, Match: string(m)}
}

// Flow is the key as a flow without cookie and actions (for printing).
func (k Key) Flow() Flow {
	ms, err := decodeOXMs([]byte(k.Match))
	f := Flow{Table: k.Table, Priority: k.Priority}
	if err == nil {
		f = f.Match(ms...).Canonical()
	}
	return f
}

// String is the key as OVS prints a flow's table, priority and match.
func (k Key) String() string {
	s := k.Flow().String()
	return strings.TrimSuffix(s[:strings.LastIndex(s, " actions=")+1], " ")
}

// Equal reports whether f and g are the same flow: key, cookie and actions.
func (f Flow) Equal(g Flow) bool {
	if f.Table != g.Table || f.Priority != g.Priority || f.Cookie != g.Cookie {
		return false
	}
	fb, err1 := f.binary()
	gb, err2 := g.binary()
	return err1 == nil && err2 == nil && string(fb) == string(gb)
}

// Hash stands for the whole flow (key, cookie, actions): equal flows hash
// equal under one seed.
func (f Flow) Hash(seed maphash.Seed) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var head [11]byte
	head[0] = f.Table
	binary.BigEndian.PutUint16(head[1:], f.Priority)
	binary.BigEndian.PutUint64(head[3:], f.Cookie)
	_, _ = h.Write(head[:])
	b, err := f.binary()
	if err != nil {
		_, _ = h.WriteString(err.Error())
	}
	_, _ = h.Write(b)
	return h.Sum64()
}

// binary is the canonical encoding of match and instructions.
func (f Flow) binary() ([]byte, error) {
	m, err := f.oxm()
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(m)))
	b = append(b, m...)
	return appendInstructions(b, f.Canonical().Actions)
}

// String is the flow exactly as `ovs-ofctl -O OpenFlow15 dump-flows
// --no-stats` prints it (without the leading space): cookie and table
// when not zero, priority, match, actions.
func (f Flow) String() string {
	f = f.Canonical()
	var b strings.Builder
	if f.Cookie != 0 {
		fmt.Fprintf(&b, "cookie=%#x, ", f.Cookie)
	}
	if f.Table != 0 {
		fmt.Fprintf(&b, "table=%d, ", f.Table)
	}
	var match []string
	if f.Priority != 32768 {
		match = append(match, fmt.Sprintf("priority=%d", f.Priority))
	}
	match = append(match, f.matchParts()...)
	if len(match) > 0 {
		b.WriteString(strings.Join(match, ","))
		b.WriteByte(' ')
	}
	b.WriteString("actions=")
	b.WriteString(ActionsString(f.Actions))
	return b.String()
}

// MatchString is the flow's match as OVS prints it ("ip,nw_dst=198.19.0.0/24"),
// without priority; "" matches every packet.
func (f Flow) MatchString() string { return strings.Join(f.Canonical().matchParts(), ",") }

// matchParts is a canonical flow's match, field by field, in OVS's order.
func (f Flow) matchParts() []string {
	var parts []string
	pre, post := splitAtProtocol(f.Matches)
	for _, m := range pre {
		parts = append(parts, m.String())
	}
	if f.Protocol != ProtoAny {
		parts = append(parts, f.Protocol.String())
	}
	for _, m := range post {
		parts = append(parts, m.String())
	}
	return parts
}

// splitAtProtocol splits canonical matches into those OVS prints before
// the protocol name (pkt_mark, conj_id, ct_*) and after it.
func splitAtProtocol(ms []Match) (pre, post []Match) {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].Field > FieldCTLabel })
	return ms[:i], ms[i:]
}

// ActionsString is the action list as OVS prints it: "drop" for none.
func ActionsString(as []Action) string {
	var out []string
	for _, a := range as {
		if _, drop := a.(Drop); drop {
			continue
		}
		t, err := a.MarshalText()
		if err != nil {
			t = []byte("<" + err.Error() + ">")
		}
		out = append(out, string(t))
	}
	if len(out) == 0 {
		return "drop"
	}
	return strings.Join(out, ",")
}

// FlowStats is an installed flow with its counters.
type FlowStats struct {
	Flow
	Packets uint64
	Bytes   uint64
}
