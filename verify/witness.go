package verify

import (
	"strings"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// Witness is one concrete packet as it enters the bridge: the protocol and
// exact field values ofproto/trace takes (ovs.OpenFlow.Trace(ctx, bridge,
// w.Protocol, w.Fields...)), and for each conntrack recirculation on its
// path the ct_state to assume (ofproto/trace's --ct-next).
type Witness struct {
	Protocol of.Protocol
	Fields   []of.Match
	CTNext   []string
	// CTMark is the ct_mark each recirculation assumes (0: none). A
	// witness with a mark names a connection something committed with it:
	// ofproto/trace runs no connection tracker, so it cannot replay that.
	CTMark []uint32
}

// String is the packet in ovs-ofctl flow syntax, as ofproto/trace takes it.
func (w Witness) String() string {
	var parts []string
	if w.Protocol != of.ProtoAny {
		parts = append(parts, w.Protocol.String())
	}
	for _, m := range w.Fields {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ",")
}

// cubeReader is a concrete point: the value of each variable.
type cubeReader func(v int) bool

// preferences make witnesses read like real packets where the class
// allows: IPv4 over other ethertypes, TCP over other protocols, untagged.
var preferences = []struct {
	id   of.FieldID
	vals []uint64
}{
	{of.FieldEthType, []uint64{0x0800, 0x0806, 0x86dd, 0x88b5}},
	{of.FieldIPProto, []uint64{6, 17, 1, 58}},
	{of.FieldARPOp, []uint64{1, 2}},
	{of.FieldVLANTCI, []uint64{0}},
	{of.FieldIPTTL, []uint64{64}},
}

// witness is a packet of t (a class of s's path) and the path it takes.
func (l *layout) witness(s *state, t term) (Witness, []Hop) {
	path := s.path()
	t = l.prefer(t)
	for _, h := range path {
		if h.ct != nil {
			t = l.preferState(t, h.ct.blk)
		}
	}
	p, _, _ := t.point()
	if p == nil {
		p = t.c
	}
	pt := func(v int) bool { known, val := p.get(v); return known && val }
	w := Witness{Protocol: of.ProtoAny}
	l.render(&w, pt)
	for _, h := range path {
		if h.ct != nil {
			w.CTNext = append(w.CTNext, l.ctStateOf(h.ct, pt))
			w.CTMark = append(w.CTMark, l.ctMarkOf(h.ct, pt))
		}
	}
	return w, l.hops(path, pt)
}

// preferState narrows t to the first state of ctStates block blk's
// ct_state may be (a witness reads like a real connection's packet).
func (l *layout) preferState(t term, blk int) term {
	if !l.tracked(of.FieldCTState) {
		return t
	}
	v0 := l.freshVar(of.FieldCTState, blk, 0)
	for _, st := range ctStates {
		c := t.c.clone()
		ok := true
		for j := 0; j < 6 && ok; j++ {
			ok = c.fix(v0+j, st>>uint(j)&1 == 1)
		}
		if u := (term{c: c, subs: t.subs, idx: t.idx}); ok && !u.empty() {
			return u
		}
	}
	return t
}

// ctMarkOf is the ct_mark a recirculation assumed.
func (l *layout) ctMarkOf(h *ctHop, pt cubeReader) uint32 {
	if !l.tracked(of.FieldCTMark) {
		return 0
	}
	var m uint32
	for j := 0; j < 32; j++ {
		if pt(l.freshVar(of.FieldCTMark, h.blk, j)) {
			m |= 1 << uint(j)
		}
	}
	return m
}

// prefer narrows t to the preferred values it allows.
func (l *layout) prefer(t term) term {
	for _, pref := range preferences {
		if !l.tracked(pref.id) {
			continue
		}
		sp := l.span(pref.id)
		for _, v := range pref.vals {
			c := t.c.clone()
			ok := true
			for j := 0; j < sp.width && ok; j++ {
				ok = c.fix(sp.off+j, v>>uint(j)&1 == 1)
			}
			if !ok {
				continue
			}
			if u := (term{c: c, subs: t.subs, idx: t.idx}); !u.empty() {
				t = u
				break
			}
		}
	}
	return t
}

// fieldValue is an ingress field's value in the point.
func (l *layout) fieldValue(id of.FieldID, pt cubeReader) of.Value {
	var v of.Value
	sp := l.span(id)
	for j := 0; j < sp.width; j++ {
		if pt(sp.off + j) {
			setFieldBit(&v, id.Bits(), j)
		}
	}
	return v
}

func (l *layout) exact(id of.FieldID, pt cubeReader) of.Match {
	return of.Exact(id, l.fieldValue(id, pt))
}

// render writes the point's packet: the fields the layout tracks that its
// protocol has.
func (l *layout) render(w *Witness, pt cubeReader) {
	add := func(ids ...of.FieldID) {
		for _, id := range ids {
			if l.tracked(id) {
				w.Fields = append(w.Fields, l.exact(id, pt))
			}
		}
	}
	add(of.FieldInPort)
	if l.fieldValue(of.FieldTunSrc, pt) != (of.Value{}) || l.fieldValue(of.FieldTunID, pt) != (of.Value{}) {
		add(of.FieldTunID, of.FieldTunSrc, of.FieldTunDst)
	}
	add(of.FieldEthSrc, of.FieldEthDst)
	if tci := l.fieldValue(of.FieldVLANTCI, pt).Uint(2); tci != 0 {
		w.Fields = append(w.Fields, of.VLANTCI(uint16(tci), 0xffff))
	}
	et := uint16(l.fieldValue(of.FieldEthType, pt).Uint(2))
	proto := uint8(l.fieldValue(of.FieldIPProto, pt).Uint(1))
	switch et {
	case 0x0800:
		w.Protocol = ipProtocol(proto, false, w)
		add(of.FieldIPv4Src, of.FieldIPv4Dst, of.FieldIPTTL)
		l.renderL4(w, proto, false, add)
	case 0x86dd:
		w.Protocol = ipProtocol(proto, true, w)
		add(of.FieldIPv6Src, of.FieldIPv6Dst, of.FieldIPTTL)
		l.renderL4(w, proto, true, add)
	case 0x0806:
		w.Protocol = of.ProtoARP
		add(of.FieldARPOp, of.FieldARPSPA, of.FieldARPTPA, of.FieldARPSHA, of.FieldARPTHA)
	default:
		w.Fields = append(w.Fields, of.EthType(et))
	}
}

// ipProtocol is the Protocol naming an IP protocol, or IP with a match on it.
func ipProtocol(p uint8, v6 bool, w *Witness) of.Protocol {
	names := map[uint8]of.Protocol{6: of.ProtoTCP, 17: of.ProtoUDP, 132: of.ProtoSCTP, 1: of.ProtoICMP}
	base := of.ProtoIP
	if v6 {
		names = map[uint8]of.Protocol{6: of.ProtoTCP6, 17: of.ProtoUDP6, 132: of.ProtoSCTP6, 58: of.ProtoICMP6}
		base = of.ProtoIPv6
	}
	if pr, ok := names[p]; ok {
		return pr
	}
	w.Fields = append(w.Fields, of.IPProto(p))
	return base
}

func (l *layout) renderL4(w *Witness, proto uint8, v6 bool, add func(...of.FieldID)) {
	switch {
	case proto == 6:
		add(of.FieldTCPSrc, of.FieldTCPDst)
	case proto == 17:
		add(of.FieldUDPSrc, of.FieldUDPDst)
	case proto == 132:
		add(of.FieldSCTPSrc, of.FieldSCTPDst)
	case proto == 1 && !v6:
		add(of.FieldICMPType, of.FieldICMPCode)
	case proto == 58 && v6:
		add(of.FieldICMPv6Type, of.FieldICMPv6Code, of.FieldNDTarget, of.FieldNDSLL, of.FieldNDTLL)
	}
}

// ctStateOf is the ct_state a recirculation assumed, as --ct-next takes it.
func (l *layout) ctStateOf(h *ctHop, pt cubeReader) string {
	var flags of.CTFlag
	if l.tracked(of.FieldCTState) {
		for j := 0; j < 8; j++ {
			if pt(l.freshVar(of.FieldCTState, h.blk, j)) {
				flags |= of.CTFlag(1) << uint(j)
			}
		}
	} else {
		flags = ctStates[0]
	}
	names := []string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}
	var out []string
	for i, n := range names {
		if flags&(1<<uint(i)) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

func flowHop(f *of.Flow, clause bool) Hop {
	return Hop{Table: f.Table, TableName: flows.Table(f.Table).String(), Priority: f.Priority, Cookie: f.Cookie, Flow: f.String(), Clause: clause}
}
