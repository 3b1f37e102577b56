package verify

import (
	"fmt"

	"github.com/cane-cni/cane/flows/of"
)

// act is one compiled action.
type act struct {
	kind  of.ActionKind
	set   []wordBits // set_field: the bits written and their values, by word
	dst   int        // move: destination offset
	src   int        // move, output:reg: source offset
	n     int        // move, output:reg: bits
	port  uint32
	table uint8
	ct    *ctAct
}

// ctAct is a compiled ct().
type ctAct struct {
	a       of.CT
	zoneOff int // the zone's subfield, if zoneN > 0
	zoneN   int
	exec    []cond // ct_mark / ct_label writes committed with the entry
}

// actions compiles a flow's actions; a non-empty reason says why the
// verifier cannot follow the flow (a Raw action, a field it cannot place).
func (p *pipeline) actions(f of.Flow) ([]act, string) {
	var out []act
	for _, a := range f.Actions {
		x, why := p.action(a)
		if why != "" {
			return nil, why
		}
		if x.kind != 0 {
			out = append(out, x)
		}
	}
	return out, ""
}

func (p *pipeline) action(a of.Action) (act, string) {
	switch a := a.(type) {
	case of.SetField:
		return p.setField(a)
	case of.Move:
		dst, n, ok1 := p.l.sub(a.Dst)
		src, m, ok2 := p.l.sub(a.Src)
		if !ok1 || !ok2 || n != m {
			return act{}, fmt.Sprintf("move %v -> %v: the subfields do not fit", a.Src, a.Dst)
		}
		return act{kind: of.KindMove, dst: dst, src: src, n: n}, ""
	case of.Goto:
		return act{kind: of.KindGoto, table: a.Table}, ""
	case of.Resubmit:
		return act{kind: of.KindResubmit, table: a.Table}, ""
	case of.Output:
		return act{kind: of.KindOutput, port: a.Port}, ""
	case of.OutputReg:
		src, n, ok := p.l.sub(a.Src)
		if !ok || n > 32 {
			return act{}, fmt.Sprintf("output:%v: not a port-sized subfield", a.Src)
		}
		return act{kind: of.KindOutputReg, src: src, n: n}, ""
	case of.PushVLAN:
		return act{kind: of.KindPushVLAN}, ""
	case of.PopVLAN:
		return act{kind: of.KindPopVLAN}, ""
	case of.CT:
		return p.ctAction(a)
	case of.CTClear:
		return act{kind: of.KindCTClear}, ""
	case of.Drop:
		return act{}, ""
	case of.Conjunction:
		return act{}, "conjunction among other actions"
	case of.Raw:
		return act{}, fmt.Sprintf("an action the verifier does not model (%d raw bytes)", len(a.Bytes))
	}
	return act{}, fmt.Sprintf("an action of kind %d the verifier does not model", a.Kind())
}

// setField is set_field as the bits it writes (vlan_vid: the TCI's VID and
// present bit).
func (p *pipeline) setField(a of.SetField) (act, string) {
	if !a.Field.Valid() || !p.l.tracked(a.Field) {
		return act{}, fmt.Sprintf("set_field of field %d, which the verifier does not place", a.Field)
	}
	mask := a.Mask
	if a.Field == of.FieldVLANVID {
		mask[0] &= 0x1f
	}
	c := p.newCond()
	p.addMatch(c, a.Field, a.Value, mask)
	return act{kind: of.KindSetField, set: sparseOf(c)}, ""
}

// wordBits is one word of a sparse bit pattern: word i's bits under mask
// are val's.
type wordBits struct {
	i         int
	mask, val uint64
}

// sparseOf is a condition's words that have bits (a set_field writes a
// field or two: a word or two of the header).
func sparseOf(c cond) []wordBits {
	var out []wordBits
	for i, m := range c.mask {
		if m != 0 {
			out = append(out, wordBits{i: i, mask: m, val: c.val[i] & m})
		}
	}
	return out
}

// ctAction compiles ct(): its zone source and the writes of exec().
func (p *pipeline) ctAction(a of.CT) (act, string) {
	x := &ctAct{a: a}
	if a.ZoneSrc.Field.Valid() {
		off, n, ok := p.l.sub(a.ZoneSrc)
		if !ok || n > 16 {
			return act{}, fmt.Sprintf("ct zone from %v: not a zone-sized subfield", a.ZoneSrc)
		}
		x.zoneOff, x.zoneN = off, n
	}
	for _, sf := range a.Exec {
		if sf.Field != of.FieldCTMark && sf.Field != of.FieldCTLabel {
			return act{}, fmt.Sprintf("ct exec writes %v: only ct_mark and ct_label are modelled", sf.Field)
		}
		c := p.newCond()
		p.addMatch(c, sf.Field, sf.Value, sf.Mask)
		x.exec = append(x.exec, c)
	}
	if a.NAT != nil {
		p.nat = true
	}
	return act{kind: of.KindCT, table: a.Table, ct: x}, ""
}
