package of

import (
	"net/netip"

	"github.com/digitalocean/go-openvswitch/ovs"
)

// ActionKind says what an action does.
type ActionKind uint8

const (
	KindSetField ActionKind = iota + 1
	KindMove
	KindGoto
	KindOutput
	KindOutputReg
	KindPushVLAN
	KindPopVLAN
	KindResubmit
	KindCT
	KindCTClear
	KindConjunction
	KindDrop
	KindRaw
)

// Action is one action of a flow (goto_table, an instruction, is one too:
// the last). The set is closed: the types below. Every Action implements
// go-openvswitch's ovs.Action (MarshalText is OVS's text for it).
type Action interface {
	ovs.Action
	Kind() ActionKind
	isAction()
}

// SetField writes Value, under Mask, into Field: set_field.
type SetField struct {
	Field FieldID
	Value Value
	Mask  Value // all ones over the field for a whole-field write
}

// Set is the set_field that makes the packet match m.
func Set(m Match) SetField { return SetField(m) }

// Move copies Src into Dst (same width): move.
type Move struct{ Src, Dst Subfield }

// Goto continues in Table (goto_table, an instruction; always last).
type Goto struct{ Table uint8 }

// PortInPort is the port a packet came in on: Output{PortInPort} is
// OVS's IN_PORT. No other reserved port (NORMAL, FLOOD, ...) exists here.
const PortInPort uint32 = 0xfffffff8

// Output sends the packet out of Port: output:N, or IN_PORT.
type Output struct{ Port uint32 }

// OutputReg sends the packet out of the port in Src: output:NXM_NX_REG1[].
type OutputReg struct{ Src Subfield }

// PushVLAN pushes an 802.1Q header with EtherType (0x8100).
type PushVLAN struct{ EtherType uint16 }

// PopVLAN removes the outer 802.1Q header.
type PopVLAN struct{}

// Resubmit looks the packet up in Table and comes back: resubmit(,T).
type Resubmit struct{ Table uint8 }

// CT sends the packet through the connection tracker: ct(...).
type CT struct {
	Commit  bool
	Zone    uint16   // the zone, unless ZoneSrc names a field
	ZoneSrc Subfield // the zone from a (16-bit) subfield, if Field is set
	Recirc  bool     // continue in Table once tracked
	Table   uint8
	NAT     *NAT
	Exec    []SetField // ct_mark / ct_label writes, committed with the entry
}

// NAT is ct's nat(...): no Src and no Dst means nat (undo existing NAT).
type NAT struct {
	Src, Dst         bool
	MinAddr, MaxAddr netip.Addr // MaxAddr invalid: one address
	MinPort, MaxPort uint16     // 0: any
	Persistent       bool
	Hash, Random     bool
}

// CTClear clears the conntrack state: ct_clear.
type CTClear struct{}

// Conjunction is clause Clause (1-based) of NClauses of conjunctive match
// ID: conjunction(id,k/n).
type Conjunction struct {
	ID       uint32
	Clause   uint8
	NClauses uint8
}

// Drop is no action: the packet is dropped. It may only stand alone.
type Drop struct{}

// Raw is an action (or instruction) read from a switch that this package
// does not model: its bytes, kept so a dump never fails.
type Raw struct {
	Instruction bool
	Bytes       []byte
}

func (SetField) Kind() ActionKind    { return KindSetField }
func (Move) Kind() ActionKind        { return KindMove }
func (Goto) Kind() ActionKind        { return KindGoto }
func (Output) Kind() ActionKind      { return KindOutput }
func (OutputReg) Kind() ActionKind   { return KindOutputReg }
func (PushVLAN) Kind() ActionKind    { return KindPushVLAN }
func (PopVLAN) Kind() ActionKind     { return KindPopVLAN }
func (Resubmit) Kind() ActionKind    { return KindResubmit }
func (CT) Kind() ActionKind          { return KindCT }
func (CTClear) Kind() ActionKind     { return KindCTClear }
func (Conjunction) Kind() ActionKind { return KindConjunction }
func (Drop) Kind() ActionKind        { return KindDrop }
func (Raw) Kind() ActionKind         { return KindRaw }

func (SetField) isAction()    {}
func (Move) isAction()        {}
func (Goto) isAction()        {}
func (Output) isAction()      {}
func (OutputReg) isAction()   {}
func (PushVLAN) isAction()    {}
func (PopVLAN) isAction()     {}
func (Resubmit) isAction()    {}
func (CT) isAction()          {}
func (CTClear) isAction()     {}
func (Conjunction) isAction() {}
func (Drop) isAction()        {}
func (Raw) isAction()         {}
