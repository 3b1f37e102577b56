package of

import (
	"errors"
	"fmt"
	"net/netip"
)

// Decoding what OVS sends back in OpenFlow 1.5 into the same values a
// builder makes. OVS does not echo a flow's encoding; it re-encodes what
// it holds (lib/nx-match.c, nx_put_raw), so the decoder normalises:
//   - registers come as 64-bit OXM_OF_PKT_REG<N> (xreg N holds reg 2N in
//     its high half, reg 2N+1 in its low): split into reg matches;
//   - a VLAN match comes as OXM_OF_VLAN_VID (+ VLAN_PCP): back into the
//     vlan_tci match it is;
//   - a match with no field that implies Ethernet gets packet_type=0
//     (Ethernet) in front: dropped, since it is every flow's default;
//   - tun_id comes as OXM_OF_TUNNEL_ID, moves' fields under their OXM
//     names: every header maps to one FieldID (byHeader);
//   - ethertype and IP protocol fold into the Protocol (Canonical).

var errShort = errors.New("message too short")

// decodeOXMs reads a sequence of OXM entries.
func decodeOXMs(b []byte) ([]Match, error) {
	var ms []Match
	var vid, pcp *Match
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errShort
		}
		h := Header{Class: be16(b), Code: b[2] >> 1}
		masked, n := b[2]&1 == 1, int(b[3])
		if len(b) < 4+n {
			return nil, errShort
		}
		val, mask := b[4:4+n], []byte(nil)
		if masked {
			val, mask = b[4:4+n/2], b[4+n/2:4+n]
		}
		b = b[4+n:]
		switch {
		case h.Class == hdrXReg.Class:
			ms = append(ms, xregMatches(h.Code, val, mask)...)
		case h == hdrPacketType:
			if be32(val) != 0 {
				return nil, fmt.Errorf("packet_type %#x: only Ethernet is supported", be32(val))
			}
		case h == FieldVLANVID.Def().OXM:
			if mask == nil { // OVS sends a whole VID (and CFI) match unmasked
				mask = []byte{0x1f, 0xff}
			}
			m := bytesMatch(FieldVLANTCI, val, mask)
			vid = &m
		case h == hdrVLANPCP:
			m := MaskedUint(FieldVLANTCI, uint64(val[0])<<13, 0xe000)
			pcp = &m
		default:
			id, ok := byHeader[h]
			if !ok {
				return nil, fmt.Errorf("match field with header %#x:%d is not modelled", h.Class, h.Code)
			}
			ms = append(ms, bytesMatch(id, val, mask))
		}
	}
	if tci, ok := mergeVLAN(vid, pcp); ok {
		ms = append(ms, tci)
	}
	return ms, nil
}

// bytesMatch is a match from wire bytes (mask nil: exact).
func bytesMatch(id FieldID, val, mask []byte) Match {
	var v, m Value
	copy(v[:], val)
	if mask == nil {
		return Exact(id, v)
	}
	copy(m[:], mask)
	return Masked(id, v, m)
}

// xregMatches splits xreg n into its two 32-bit registers.
func xregMatches(n uint8, val, mask []byte) []Match {
	v, m := be64(val), ^uint64(0)
	if mask != nil {
		m = be64(mask)
	}
	var ms []Match
	for half := uint8(0); half < 2; half++ {
		shift := 32 * uint(1-half)
		if hm := uint32(m >> shift); hm != 0 {
			ms = append(ms, RegMatch(2*n+half, uint32(v>>shift), hm))
		}
	}
	return ms
}

func mergeVLAN(vid, pcp *Match) (Match, bool) {
	switch {
	case vid == nil && pcp == nil:
		return Match{}, false
	case pcp == nil:
		return *vid, true
	case vid == nil:
		return *pcp, true
	}
	return MaskedUint(FieldVLANTCI, vid.Uint()|pcp.Uint(), vid.MaskUint()|pcp.MaskUint()), true
}

// decodeMatch reads an ofp_match and returns the matches and the padded
// length it took.
func decodeMatch(b []byte) ([]Match, int, error) {
	if len(b) < 4 {
		return nil, 0, errShort
	}
	if t := be16(b); t != 1 {
		return nil, 0, fmt.Errorf("match type %d, not OXM", t)
	}
	n := int(be16(b[2:]))
	if n < 4 || len(b) < n+pad8(n) {
		return nil, 0, errShort
	}
	ms, err := decodeOXMs(b[4:n])
	return ms, n + pad8(n), err
}

// decodeInstructions reads a flow's instructions into actions.
func decodeInstructions(b []byte) ([]Action, error) {
	var as []Action
	var goTo []Action
	for len(b) > 0 {
		if len(b) < 4 || int(be16(b[2:])) < 4 || int(be16(b[2:])) > len(b) {
			return nil, errShort
		}
		typ, n := be16(b), int(be16(b[2:]))
		body := b[:n]
		b = b[n:]
		switch typ {
		case ofpitGotoTable:
			goTo = []Action{Goto{Table: body[4]}}
		case ofpitApply:
			acts, err := decodeActions(body[8:])
			if err != nil {
				return nil, err
			}
			as = append(as, acts...)
		default:
			as = append(as, Raw{Instruction: true, Bytes: append([]byte(nil), body...)})
		}
	}
	return append(as, goTo...), nil
}

// decodeActions reads an action list.
func decodeActions(b []byte) ([]Action, error) {
	var as []Action
	for len(b) > 0 {
		if len(b) < 8 || int(be16(b[2:])) < 8 || int(be16(b[2:])) > len(b) {
			return nil, errShort
		}
		n := int(be16(b[2:]))
		a, err := decodeAction(b[:n])
		if err != nil {
			return nil, err
		}
		as = append(as, a)
		b = b[n:]
	}
	return as, nil
}

func decodeAction(b []byte) (Action, error) {
	raw := Raw{Bytes: append([]byte(nil), b...)}
	switch be16(b) {
	case ofpatOutput:
		p := be32(b[4:])
		if p >= 0xffffff00 && p != PortInPort {
			return raw, nil // NORMAL, FLOOD, CONTROLLER...: not Cane's
		}
		return Output{Port: p}, nil
	case ofpatPushVLAN:
		return PushVLAN{EtherType: be16(b[4:])}, nil
	case ofpatPopVLAN:
		return PopVLAN{}, nil
	case ofpatSetField:
		return decodeSetField(b)
	case ofpatCopyField:
		return decodeCopyField(b)
	case ofpatVendor:
		if len(b) < 10 || be32(b[4:]) != nxVendor {
			return raw, nil
		}
		return decodeNX(b, raw)
	}
	return raw, nil
}

// decodeSetField reads OFPAT_SET_FIELD: one OXM entry, taken as it is
// (no match normalisation: set_field:4196->vlan_vid stays vlan_vid).
func decodeSetField(b []byte) (Action, error) {
	e := b[4:]
	if len(e) < 4 || len(e) < 4+int(e[3]) {
		return nil, errShort
	}
	id, err := headerField(be32(e))
	if err != nil {
		return nil, fmt.Errorf("set_field: %w", err)
	}
	n := int(e[3])
	val, mask := e[4:4+n], []byte(nil)
	if e[2]&1 == 1 {
		val, mask = e[4:4+n/2], e[4+n/2:4+n]
	}
	m := bytesMatch(id, val, mask)
	return SetField{Field: id, Value: m.Value, Mask: m.Mask}, nil
}

// headerField is the field of a 32-bit header (set_field target, move
// operand, NXAST field).
func headerField(h uint32) (FieldID, error) {
	id, ok := byHeader[Header{Class: uint16(h >> 16), Code: uint8(h>>9) & 0x7f}]
	if !ok {
		return 0, fmt.Errorf("field with header %#x is not modelled", h)
	}
	return id, nil
}

func decodeCopyField(b []byte) (Action, error) {
	if len(b) < 20 {
		return nil, errShort
	}
	n, srcOfs, dstOfs := be16(b[4:]), be16(b[6:]), be16(b[8:])
	src, err := headerField(be32(b[12:]))
	if err != nil {
		return nil, err
	}
	dst, err := headerField(be32(b[16:]))
	if err != nil {
		return nil, err
	}
	return Move{Src: Subfield{src, uint8(srcOfs), uint8(n)}, Dst: Subfield{dst, uint8(dstOfs), uint8(n)}}, nil
}

// decodeNX reads the Nicira actions Cane speaks; others stay Raw.
func decodeNX(b []byte, raw Raw) (Action, error) {
	switch be16(b[8:]) {
	case nxastResubmitT:
		if len(b) < 16 || be16(b[10:]) != ofppInPort16 {
			return raw, nil
		}
		return Resubmit{Table: b[12]}, nil
	case nxastOutputReg:
		id, err := headerField(be32(b[12:]))
		if err != nil {
			return nil, err
		}
		return OutputReg{Src: subfieldFromOfsNBits(id, be16(b[10:]))}, nil
	case nxastConj:
		return Conjunction{ID: be32(b[12:]), Clause: b[10] + 1, NClauses: b[11]}, nil
	case nxastCTClear:
		return CTClear{}, nil
	case nxastCT:
		return decodeCT(b)
	case nxastNAT:
		return decodeNAT(b)
	}
	return raw, nil
}

func decodeCT(b []byte) (Action, error) {
	if len(b) < 24 {
		return nil, errShort
	}
	ct := CT{Commit: be16(b[10:])&1 != 0}
	if h := be32(b[12:]); h != 0 {
		id, err := headerField(h)
		if err != nil {
			return nil, err
		}
		ct.ZoneSrc = subfieldFromOfsNBits(id, be16(b[16:]))
	} else {
		ct.Zone = be16(b[16:])
	}
	if b[18] != ctRecircNone {
		ct.Recirc, ct.Table = true, b[18]
	}
	nested, err := decodeActions(b[24:])
	if err != nil {
		return nil, fmt.Errorf("ct: %w", err)
	}
	for _, a := range nested {
		switch a := a.(type) {
		case SetField:
			ct.Exec = append(ct.Exec, a)
		case natAction:
			n := NAT(a)
			ct.NAT = &n
		default:
			return nil, fmt.Errorf("ct: nested action %T not modelled", a)
		}
	}
	return ct, nil
}

// natAction is a decoded NXAST_NAT, only valid inside ct.
type natAction NAT

func (natAction) Kind() ActionKind               { return KindRaw }
func (natAction) isAction()                      {}
func (n natAction) MarshalText() ([]byte, error) { return []byte(NAT(n).String()), nil }
func (n natAction) GoString() string             { return fmt.Sprintf("%#v", NAT(n)) }

func decodeNAT(b []byte) (Action, error) {
	if len(b) < 16 {
		return nil, errShort
	}
	flags, present := be16(b[12:]), be16(b[14:])
	n := NAT{Src: flags&1 != 0, Dst: flags&2 != 0, Persistent: flags&4 != 0, Hash: flags&8 != 0, Random: flags&16 != 0}
	opts := b[16:]
	take := func(k int) []byte {
		if len(opts) < k {
			return nil
		}
		v := opts[:k]
		opts = opts[k:]
		return v
	}
	if present&natRangeIPv4Min != 0 {
		n.MinAddr, _ = netip.AddrFromSlice(take(4))
	}
	if present&natRangeIPv4Max != 0 {
		n.MaxAddr, _ = netip.AddrFromSlice(take(4))
	}
	if present&natRangeIPv6Min != 0 {
		n.MinAddr, _ = netip.AddrFromSlice(take(16))
	}
	if present&natRangeIPv6Max != 0 {
		n.MaxAddr, _ = netip.AddrFromSlice(take(16))
	}
	if v := take(2); present&natRangeProtoMn != 0 && v != nil {
		n.MinPort = be16(v)
	}
	if v := take(2); present&natRangeProtoMx != 0 && v != nil {
		n.MaxPort = be16(v)
	}
	return natAction(n), nil
}

// DecodeFlowDesc reads one ofp15_flow_desc (an entry of an OpenFlow 1.5
// OFPMP_FLOW_DESC reply) and returns it and its length.
func DecodeFlowDesc(b []byte) (FlowStats, int, error) {
	if len(b) < 24 {
		return FlowStats{}, 0, errShort
	}
	n := int(be16(b))
	if n < 24 || n > len(b) {
		return FlowStats{}, 0, errShort
	}
	e := b[:n]
	fs := FlowStats{Flow: Flow{Table: e[4], Priority: be16(e[6:]), Cookie: be64(e[16:])}}
	ms, ml, err := decodeMatch(e[24:])
	if err != nil {
		return FlowStats{}, 0, fmt.Errorf("flow desc match: %w", err)
	}
	rest := e[24+ml:]
	sl, err := decodeOXS(rest, &fs)
	if err != nil {
		return FlowStats{}, 0, err
	}
	as, err := decodeInstructions(rest[sl:])
	if err != nil {
		return FlowStats{}, 0, fmt.Errorf("flow desc instructions: %w", err)
	}
	fs.Flow = fs.Flow.Match(ms...).Do(as...).Canonical()
	return fs, n, nil
}

// decodeOXS reads an ofp_oxs_stat block (counters) and returns its padded
// length.
func decodeOXS(b []byte, fs *FlowStats) (int, error) {
	if len(b) < 4 {
		return 0, errShort
	}
	n := int(be16(b[2:]))
	if n < 4 || len(b) < n+pad8(n) {
		return 0, errShort
	}
	for s := b[4:n]; len(s) >= 4; {
		class, field, l := be16(s), s[2]>>1, int(s[3])
		if len(s) < 4+l {
			return 0, errShort
		}
		v := s[4 : 4+l]
		if class == 0x8002 && l == 8 {
			switch field {
			case 4:
				fs.Packets = be64(v)
			case 5:
				fs.Bytes = be64(v)
			}
		}
		s = s[4+l:]
	}
	return n + pad8(n), nil
}
