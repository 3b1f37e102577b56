package of

import "fmt"

// Subfield is bits Ofs..Ofs+Bits-1 of a field, as move, output:<field>
// and ct(zone=<field>) name them ("NXM_NX_REG0[0..23]").
type Subfield struct {
	Field FieldID
	Ofs   uint8
	Bits  uint8 // 0 means the whole field
}

// Whole is the whole field id as a subfield.
func Whole(id FieldID) Subfield { return Subfield{Field: id, Bits: uint8(id.Bits())} }

// Bits is bits lo..hi (inclusive) of id.
func Bits(id FieldID, lo, hi uint8) Subfield { return Subfield{Field: id, Ofs: lo, Bits: hi - lo + 1} }

// nbits is the subfield's width, the whole field for Bits 0.
func (s Subfield) nbits() int {
	if s.Bits == 0 {
		return s.Field.Bits() - int(s.Ofs)
	}
	return int(s.Bits)
}

// String is the subfield as OVS prints it (lib/nx-match.c,
// mf_format_subfield): the field's NXM name (OXM for fields NXM lacks)
// and "[]", "[n]" or "[lo..hi]".
func (s Subfield) String() string {
	name := s.Field.Def().NXMName
	switch n := s.nbits(); {
	case s.Ofs == 0 && n == s.Field.Bits():
		return name + "[]"
	case n == 1:
		return fmt.Sprintf("%s[%d]", name, s.Ofs)
	default:
		return fmt.Sprintf("%s[%d..%d]", name, s.Ofs, int(s.Ofs)+n-1)
	}
}

// ofsNBits is the subfield as NXM encodes it: ofs << 6 | (n_bits - 1).
func (s Subfield) ofsNBits() uint16 { return uint16(s.Ofs)<<6 | uint16(s.nbits()-1) }

func subfieldFromOfsNBits(id FieldID, v uint16) Subfield {
	return Subfield{Field: id, Ofs: uint8(v >> 6), Bits: uint8(v&63) + 1}
}

// RegField is a named bit range of a register: what the pipeline keeps in
// it. Builders set and match it by name, never by register number.
type RegField struct {
	Reg    uint8 // 0-15
	Lo, Hi uint8 // bits, inclusive
}

// Subfield is the register bits as a subfield (for move and output:).
func (r RegField) Subfield() Subfield { return Bits(Reg(r.Reg), r.Lo, r.Hi) }

// mask is the register bits as a 32-bit mask.
func (r RegField) mask() uint32 {
	n := uint(r.Hi - r.Lo + 1)
	if n >= 32 {
		return 0xffffffff
	}
	return (1<<n - 1) << r.Lo
}

// Match matches packets whose register bits hold v.
func (r RegField) Match(v uint32) Match {
	return MaskedUint(Reg(r.Reg), uint64(v)<<r.Lo, uint64(r.mask()))
}

// Set is the action that writes v into the register bits (a set_field,
// masked unless the range is the whole register).
func (r RegField) Set(v uint32) Action {
	return SetField(MaskedUint(Reg(r.Reg), uint64(v)<<r.Lo, uint64(r.mask())))
}
