package of

import (
	"fmt"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"
)

// Action text, as OVS prints it (lib/ofp-actions.c, format_*); where
// go-openvswitch's constructor prints the same, the text is its.

func (a SetField) MarshalText() ([]byte, error) {
	if !a.Field.Valid() {
		return nil, fmt.Errorf("set_field of unknown field %d", a.Field)
	}
	return ovs.SetField(setValueText(a.Field, a.Value, a.Mask), a.Field.Def().SetName).MarshalText()
}

// setValueText is OVS's mf_format: the value in the field's format, with
// "/mask" in hex unless the write covers the whole field.
func setValueText(id FieldID, v, mask Value) string {
	d := id.Def()
	n := int(d.Bytes)
	whole := mask.prefixLen(n) == n*8
	var s string
	switch d.Set {
	case TextMAC:
		return macMasked(v, mask)
	case TextIPv4, TextIPv6:
		return ipMasked(v, mask, n)
	case TextDecimal:
		s = fmt.Sprint(v.Uint(n))
	case TextPort:
		if whole {
			return portText(uint32(v.Uint(n)))
		}
		s = fmt.Sprint(v.Uint(n))
	case TextCTState:
		s = ctStateExact(v.Uint(n))
	default:
		s = hexBytes(v[:n])
	}
	if !whole {
		s += "/" + hexBytes(mask[:n])
	}
	return s
}

func (a Move) MarshalText() ([]byte, error) {
	return ovs.Move(a.Src.String(), a.Dst.String()).MarshalText()
}

func (a Goto) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "goto_table:%d", a.Table), nil }

func (a Output) MarshalText() ([]byte, error) {
	if a.Port == PortInPort {
		return []byte("IN_PORT"), nil // go-openvswitch's InPort() prints in_port
	}
	if a.Port >= 0xffffff00 {
		return nil, fmt.Errorf("output to reserved port %#x", a.Port)
	}
	return ovs.Output(int(a.Port)).MarshalText()
}

func (a OutputReg) MarshalText() ([]byte, error) {
	return ovs.OutputField(a.Src.String()).MarshalText()
}

func (a PushVLAN) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "push_vlan:%s", hexC(uint64(a.EtherType))), nil
}

// MarshalText is pop_vlan (go-openvswitch's StripVLAN prints strip_vlan,
// OVS's name for the OpenFlow 1.0 action).
func (PopVLAN) MarshalText() ([]byte, error) { return []byte("pop_vlan"), nil }

func (a Resubmit) MarshalText() ([]byte, error) {
	if a.Table == 0 { // go-openvswitch refuses port and table both zero
		return []byte("resubmit(,0)"), nil
	}
	return ovs.Resubmit(0, int(a.Table)).MarshalText()
}

// MarshalText is ct(...) in OVS's order: commit, table, zone, nat, exec.
func (a CT) MarshalText() ([]byte, error) {
	var args []string
	if a.Commit {
		args = append(args, "commit")
	}
	if a.Recirc {
		args = append(args, fmt.Sprintf("table=%d", a.Table))
	}
	switch {
	case a.ZoneSrc.Field.Valid():
		args = append(args, "zone="+a.ZoneSrc.String())
	case a.Zone != 0:
		args = append(args, fmt.Sprintf("zone=%d", a.Zone))
	}
	if a.NAT != nil {
		args = append(args, a.NAT.String())
	}
	if len(a.Exec) > 0 {
		var ex []string
		for _, sf := range a.Exec {
			t, err := sf.MarshalText()
			if err != nil {
				return nil, err
			}
			ex = append(ex, string(t))
		}
		args = append(args, "exec("+strings.Join(ex, ",")+")")
	}
	if len(args) == 0 {
		return []byte("ct()"), nil // go-openvswitch refuses ct without arguments
	}
	return ovs.ConnectionTracking(strings.Join(args, ",")).MarshalText()
}

// String is nat(...) as OVS's format_NAT prints it.
func (n NAT) String() string {
	if !n.Src && !n.Dst {
		return "nat"
	}
	s := "nat(src"
	if n.Dst {
		s = "nat(dst"
	}
	if !n.MinAddr.IsValid() {
		return s + ")"
	}
	addr := n.MinAddr.String()
	if n.MinAddr.Is6() && n.MinPort != 0 {
		addr = "[" + addr + "]"
	}
	if n.MaxAddr.IsValid() && n.MaxAddr != n.MinAddr {
		mx := n.MaxAddr.String()
		if n.MaxAddr.Is6() && n.MinPort != 0 {
			mx = "[" + mx + "]"
		}
		addr += "-" + mx
	}
	s += "=" + addr
	if n.MinPort != 0 {
		s += fmt.Sprintf(":%d", n.MinPort)
		if n.MaxPort != 0 && n.MaxPort != n.MinPort {
			s += fmt.Sprintf("-%d", n.MaxPort)
		}
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{n.Persistent, "persistent"}, {n.Hash, "hash"}, {n.Random, "random"}} {
		if f.on {
			s += "," + f.name
		}
	}
	return s + ")"
}

func (CTClear) MarshalText() ([]byte, error) { return []byte("ct_clear"), nil }

func (a Conjunction) MarshalText() ([]byte, error) {
	return ovs.Conjunction(int(a.ID), int(a.Clause), int(a.NClauses)).MarshalText()
}

func (Drop) MarshalText() ([]byte, error) { return ovs.Drop().MarshalText() }

func (a Raw) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "<raw %x>", a.Bytes), nil }

// GoString is the Go expression for each action.

func (a SetField) GoString() string {
	return fmt.Sprintf("of.SetField{Field: of.%s, Value: %#v, Mask: %#v}", fieldConst(a.Field), a.Value, a.Mask)
}
func (a Move) GoString() string      { return fmt.Sprintf("of.Move{Src: %#v, Dst: %#v}", a.Src, a.Dst) }
func (a Goto) GoString() string      { return fmt.Sprintf("of.Goto{Table: %d}", a.Table) }
func (a Output) GoString() string    { return fmt.Sprintf("of.Output{Port: %#x}", a.Port) }
func (a OutputReg) GoString() string { return fmt.Sprintf("of.OutputReg{Src: %#v}", a.Src) }
func (a PushVLAN) GoString() string  { return fmt.Sprintf("of.PushVLAN{EtherType: %#x}", a.EtherType) }
func (PopVLAN) GoString() string     { return "of.PopVLAN{}" }
func (a Resubmit) GoString() string  { return fmt.Sprintf("of.Resubmit{Table: %d}", a.Table) }
func (a CT) GoString() string        { return fmt.Sprintf("%#v", ctAlias(a)) }
func (CTClear) GoString() string     { return "of.CTClear{}" }
func (a Conjunction) GoString() string {
	return fmt.Sprintf("of.Conjunction{ID: %d, Clause: %d, NClauses: %d}", a.ID, a.Clause, a.NClauses)
}
func (Drop) GoString() string { return "of.Drop{}" }
func (a Raw) GoString() string {
	return fmt.Sprintf("of.Raw{Instruction: %v, Bytes: %#v}", a.Instruction, a.Bytes)
}

// ctAlias prints a CT with %#v without recursing into CT.GoString.
type ctAlias CT
