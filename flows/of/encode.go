package of

import (
	"encoding/binary"
	"fmt"
)

// The OpenFlow 1.5 encoding of matches, actions and instructions, as OVS
// 3.1 reads them (lib/nx-match.c, lib/ofp-actions.c). Pure functions.

const nxVendor = 0x00002320 // Nicira's experimenter ID

// OpenFlow action types and Nicira subtypes used here.
const (
	ofpatOutput     = 0
	ofpatPushVLAN   = 17
	ofpatPopVLAN    = 18
	ofpatSetField   = 25
	ofpatCopyField  = 28
	ofpatVendor     = 0xffff
	nxastResubmitT  = 14
	nxastOutputReg  = 15
	nxastConj       = 34
	nxastCT         = 35
	nxastNAT        = 36
	nxastCTClear    = 43
	ofpitGotoTable  = 1
	ofpitApply      = 4
	ofppInPort16    = 0xfff8 // OFPP_IN_PORT as NXAST_RESUBMIT spells it
	ctRecircNone    = 0xff
	natRangeIPv4Min = 1 << 0
	natRangeIPv4Max = 1 << 1
	natRangeIPv6Min = 1 << 2
	natRangeIPv6Max = 1 << 3
	natRangeProtoMn = 1 << 4
	natRangeProtoMx = 1 << 5
)

func pad8(n int) int { return (8 - n%8) % 8 }

// putHeader appends an OXM/NXM header: class, field<<1|hasmask, length.
func putHeader(b []byte, h Header, masked bool, n int) []byte {
	b = binary.BigEndian.AppendUint16(b, h.Class)
	hm := h.Code << 1
	if masked {
		hm |= 1
		n *= 2
	}
	return append(b, hm, byte(n))
}

// putEntry appends one OXM entry: header, value, and mask unless the
// entry is exact.
func putEntry(b []byte, id FieldID, v, mask Value) []byte {
	n := int(id.Def().Bytes)
	exact := mask.prefixLen(n) == n*8
	b = putHeader(b, id.Header(), !exact, n)
	v = v.and(mask)
	b = append(b, v[:n]...)
	if !exact {
		b = append(b, mask[:n]...)
	}
	return b
}

// oxm is the canonical OXM encoding of the flow's match: ethertype and IP
// protocol first (OVS checks each field's prerequisites as it reads it),
// then the rest in FieldID order. It fails on what OVS could not hold:
// an unknown field, one field twice, a mask on a field without masks.
func (f Flow) oxm() ([]byte, error) {
	c := f.Canonical()
	var b []byte
	if et := c.Protocol.EthType(); et != 0 {
		b = putEntry(b, FieldEthType, uintValue(uint64(et), 2), ones(2))
	}
	if ip := c.Protocol.IPProto(); ip != 0 {
		b = putEntry(b, FieldIPProto, uintValue(uint64(ip), 1), ones(1))
	}
	first := func(m Match) bool { return m.Field == FieldEthType || m.Field == FieldIPProto }
	seen := map[FieldID]bool{}
	for pass := 0; pass < 2; pass++ {
		for _, m := range c.Matches {
			if first(m) != (pass == 0) {
				continue
			}
			if err := checkMatch(m, seen); err != nil {
				return nil, err
			}
			b = putEntry(b, m.Field, m.Value, m.Mask)
		}
	}
	return b, nil
}

func checkMatch(m Match, seen map[FieldID]bool) error {
	d := m.Field.Def()
	switch {
	case !m.Field.Valid() || m.Field == FieldVLANVID:
		return fmt.Errorf("match on field %v: not a match field", m.Field)
	case seen[m.Field]:
		return fmt.Errorf("match on %s twice", d.Name)
	case m.Mask.isZero(int(d.Bytes)):
		return fmt.Errorf("match on %s with an empty mask", d.Name)
	case !d.Maskable && !m.IsExact():
		return fmt.Errorf("%s cannot be masked", d.Name)
	}
	seen[m.Field] = true
	return nil
}

// appendMatch appends an ofp_match (OXM type) holding oxms, padded.
func appendMatch(b, oxms []byte) []byte {
	n := 4 + len(oxms)
	b = binary.BigEndian.AppendUint16(b, 1) // OFPMT_OXM
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, oxms...)
	return append(b, make([]byte, pad8(n))...)
}

// appendInstructions appends the flow's actions as OpenFlow instructions:
// apply_actions with every action, then goto_table if the last is a Goto.
func appendInstructions(b []byte, as []Action) ([]byte, error) {
	var acts, goTo, raw []byte
	for i, a := range as {
		switch a := a.(type) {
		case Goto:
			if i != len(as)-1 {
				return nil, fmt.Errorf("goto_table:%d is not the last action", a.Table)
			}
			goTo = []byte{0, ofpitGotoTable, 0, 8, a.Table, 0, 0, 0}
		case Raw:
			if a.Instruction {
				raw = append(raw, a.Bytes...)
				continue
			}
			acts = append(acts, a.Bytes...)
		default:
			var err error
			if acts, err = appendAction(acts, a); err != nil {
				return nil, err
			}
		}
	}
	if len(acts) > 0 {
		b = binary.BigEndian.AppendUint16(b, ofpitApply)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(acts)))
		b = append(append(b, 0, 0, 0, 0), acts...)
	}
	return append(append(b, raw...), goTo...), nil
}

// appendAction appends one action's encoding.
func appendAction(b []byte, a Action) ([]byte, error) {
	switch a := a.(type) {
	case SetField:
		return appendSetField(b, a)
	case Move:
		return appendMove(b, a)
	case Output:
		if a.Port >= 0xffffff00 && a.Port != PortInPort {
			return nil, fmt.Errorf("output to reserved port %#x", a.Port)
		}
		b = binary.BigEndian.AppendUint16(b, ofpatOutput)
		b = binary.BigEndian.AppendUint16(b, 16)
		b = binary.BigEndian.AppendUint32(b, a.Port)
		return append(b, 0, 0, 0, 0, 0, 0, 0, 0), nil // max_len, pad
	case OutputReg:
		h, err := nxmHeader(a.Src.Field)
		if err != nil {
			return nil, err
		}
		b = vendorHead(b, 24, nxastOutputReg)
		b = binary.BigEndian.AppendUint16(b, a.Src.ofsNBits())
		b = binary.BigEndian.AppendUint32(b, h)
		return append(b, 0, 0, 0, 0, 0, 0, 0, 0), nil // max_len, zero
	case PushVLAN:
		b = binary.BigEndian.AppendUint16(b, ofpatPushVLAN)
		b = binary.BigEndian.AppendUint16(b, 8)
		b = binary.BigEndian.AppendUint16(b, a.EtherType)
		return append(b, 0, 0), nil
	case PopVLAN:
		return append(b, 0, ofpatPopVLAN, 0, 8, 0, 0, 0, 0), nil
	case Resubmit:
		b = vendorHead(b, 16, nxastResubmitT)
		b = binary.BigEndian.AppendUint16(b, ofppInPort16)
		return append(b, a.Table, 0, 0, 0), nil
	case CT:
		return appendCT(b, a)
	case CTClear:
		return append(vendorHead(b, 16, nxastCTClear), 0, 0, 0, 0, 0, 0), nil
	case Conjunction:
		if a.Clause == 0 || a.Clause > a.NClauses || a.NClauses < 2 || a.NClauses > 64 {
			return nil, fmt.Errorf("conjunction(%d,%d/%d): want 1 <= k <= n, 2 <= n <= 64", a.ID, a.Clause, a.NClauses)
		}
		b = vendorHead(b, 16, nxastConj)
		b = append(b, a.Clause-1, a.NClauses)
		return binary.BigEndian.AppendUint32(b, a.ID), nil
	case Drop:
		return b, nil
	}
	return nil, fmt.Errorf("cannot encode action %T", a)
}

func vendorHead(b []byte, n int, subtype uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, ofpatVendor)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint32(b, nxVendor)
	return binary.BigEndian.AppendUint16(b, subtype)
}

// nxmHeader is the 32-bit header NXAST actions name a field by: its
// Nicira one (OVS's nxm_header_from_mff), unmasked, with its length.
func nxmHeader(id FieldID) (uint32, error) {
	d := id.Def()
	h := d.NXM
	if h == (Header{}) {
		return 0, fmt.Errorf("%s has no NXM header", d.SetName)
	}
	return uint32(h.Class)<<16 | uint32(h.Code)<<9 | uint32(d.Bytes), nil
}

func appendSetField(b []byte, a SetField) ([]byte, error) {
	d := a.Field.Def()
	if !a.Field.Valid() || a.Field == FieldConjID {
		return nil, fmt.Errorf("set_field of %v: not settable", a.Field)
	}
	if !d.Maskable && a.Mask.prefixLen(int(d.Bytes)) != int(d.Bytes)*8 {
		return nil, fmt.Errorf("set_field of %s cannot be masked", d.SetName)
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, ofpatSetField)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = putEntry(b, a.Field, a.Value, a.Mask)
	b = append(b, make([]byte, pad8(len(b)-start))...)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

// appendMove is OFPAT_COPY_FIELD, as OVS sends move in OpenFlow 1.5.
func appendMove(b []byte, a Move) ([]byte, error) {
	n := a.Src.nbits()
	if n != a.Dst.nbits() || n <= 0 || !a.Src.Field.Valid() || !a.Dst.Field.Valid() ||
		int(a.Src.Ofs)+n > a.Src.Field.Bits() || int(a.Dst.Ofs)+n > a.Dst.Field.Bits() {
		return nil, fmt.Errorf("move:%s->%s: widths or ranges do not fit", a.Src, a.Dst)
	}
	b = binary.BigEndian.AppendUint16(b, ofpatCopyField)
	b = binary.BigEndian.AppendUint16(b, 24)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(a.Src.Ofs))
	b = binary.BigEndian.AppendUint16(b, uint16(a.Dst.Ofs))
	b = append(b, 0, 0)
	b = putHeader(b, a.Src.Field.Header(), false, int(a.Src.Field.Def().Bytes))
	b = putHeader(b, a.Dst.Field.Header(), false, int(a.Dst.Field.Def().Bytes))
	return append(b, 0, 0, 0, 0), nil
}

// appendCT is NXAST_CT with its nested actions: nat first, then the
// exec'd set_fields.
func appendCT(b []byte, a CT) ([]byte, error) {
	start := len(b)
	b = vendorHead(b, 0, nxastCT)
	var flags uint16
	if a.Commit {
		flags |= 1
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	if a.ZoneSrc.Field.Valid() {
		h, err := nxmHeader(a.ZoneSrc.Field)
		if err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, h)
		b = binary.BigEndian.AppendUint16(b, a.ZoneSrc.ofsNBits())
	} else {
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint16(b, a.Zone)
	}
	table := byte(ctRecircNone)
	if a.Recirc {
		table = a.Table
	}
	b = append(b, table, 0, 0, 0, 0, 0) // recirc_table, pad, alg
	if a.NAT != nil {
		var err error
		if b, err = appendNAT(b, *a.NAT); err != nil {
			return nil, err
		}
	}
	for _, sf := range a.Exec {
		if sf.Field != FieldCTMark && sf.Field != FieldCTLabel {
			return nil, fmt.Errorf("ct exec may set only ct_mark and ct_label, not %v", sf.Field)
		}
		var err error
		if b, err = appendSetField(b, sf); err != nil {
			return nil, err
		}
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

func appendNAT(b []byte, n NAT) ([]byte, error) {
	if n.Src && n.Dst {
		return nil, fmt.Errorf("nat: src and dst at once")
	}
	start := len(b)
	b = vendorHead(b, 0, nxastNAT)
	var flags, present uint16
	for i, on := range []bool{n.Src, n.Dst, n.Persistent, n.Hash, n.Random} {
		if on {
			flags |= 1 << uint(i)
		}
	}
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 0)
	var opts []byte
	switch {
	case n.MinAddr.Is4():
		present |= natRangeIPv4Min
		opts = append(opts, n.MinAddr.AsSlice()...)
		if n.MaxAddr.Is4() {
			present |= natRangeIPv4Max
			opts = append(opts, n.MaxAddr.AsSlice()...)
		}
	case n.MinAddr.Is6():
		present |= natRangeIPv6Min
		opts = append(opts, n.MinAddr.AsSlice()...)
		if n.MaxAddr.Is6() {
			present |= natRangeIPv6Max
			opts = append(opts, n.MaxAddr.AsSlice()...)
		}
	}
	if n.MinAddr.IsValid() && n.MinPort != 0 {
		present |= natRangeProtoMn
		opts = binary.BigEndian.AppendUint16(opts, n.MinPort)
		if n.MaxPort != 0 {
			present |= natRangeProtoMx
			opts = binary.BigEndian.AppendUint16(opts, n.MaxPort)
		}
	}
	b = append(b, opts...)
	b = append(b, make([]byte, pad8(len(b)-start))...)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	binary.BigEndian.PutUint16(b[start+14:], present)
	return b, nil
}
