package verify

import (
	"github.com/cane-cni/cane/flows/of"
)

// maxField bounds the FieldIDs of the vocabulary (FieldVLANVID is its last).
const maxField = int(of.FieldVLANVID) + 1

// span is where a field's bits sit in a bit vector: bits off..off+width-1,
// numbered from the field's least significant bit, so a subfield
// [ofs, ofs+n) is the contiguous run off+ofs.. (as move and output:reg
// name them).
type span struct{ off, width int }

// layout places the header fields the verifier tracks in one bit vector
// (the current header) and defines the variable space classes are cubes
// over: the ingress header (one variable per header bit, at the same
// position) followed by fresh blocks, one per conntrack recirculation, for
// the values the connection tracker hands back (ct_state, ct_mark,
// ct_label, and the addresses and ports NAT may rewrite).
type layout struct {
	pos   [maxField]span // width 0: not tracked
	n, w  int            // header bits and words
	fresh []of.FieldID   // fields a recirculation gives new values
	fpos  [maxField]int  // a fresh field's offset inside a block
	f     int            // bits per fresh block
	k     int            // fresh blocks (maximum recirculations on a path)
	nv    int            // variables: n + k*f
	wv    int            // words of the variable space
}

// alwaysTracked are tracked on every node: what sources are made of (the
// pods' own addresses, tunnel metadata, tags), what destinations are judged
// by (addresses, VNI, VTEP, tag) and what a witness shows.
var alwaysTracked = []of.FieldID{
	of.FieldInPort, of.FieldEthSrc, of.FieldEthDst, of.FieldEthType, of.FieldVLANTCI, of.FieldIPProto,
	of.FieldIPv4Src, of.FieldIPv4Dst, of.FieldARPOp, of.FieldARPSPA, of.FieldARPTPA, of.FieldARPSHA, of.FieldARPTHA,
	of.FieldTunID, of.FieldTunSrc, of.FieldTunDst,
}

// ctFields are what ct() defines for the recirculated packet.
var ctFields = []of.FieldID{of.FieldCTState, of.FieldCTZone, of.FieldCTMark, of.FieldCTLabel}

// natFields are what NAT may rewrite.
var natFields = []of.FieldID{of.FieldIPv4Src, of.FieldIPv4Dst, of.FieldIPv6Src, of.FieldIPv6Dst,
	of.FieldTCPSrc, of.FieldTCPDst, of.FieldUDPSrc, of.FieldUDPDst, of.FieldSCTPSrc, of.FieldSCTPDst}

// storage is the field whose bits hold id: set_field to vlan_vid writes
// the low 13 bits of the TCI.
func storage(id of.FieldID) of.FieldID {
	if id == of.FieldVLANVID {
		return of.FieldVLANTCI
	}
	return id
}

// newLayout tracks every field in use, with k fresh blocks (of the ct
// fields in use, and of the fields NAT may rewrite if some ct() NATs).
func newLayout(use fieldSet, k int, nat bool) *layout {
	l := &layout{k: k}
	for id := 1; id < maxField; id++ {
		fid := of.FieldID(id)
		if !use.has(fid) || fid == of.FieldVLANVID || !fid.Valid() {
			continue
		}
		l.pos[id] = span{off: l.n, width: fid.Bits()}
		l.n += fid.Bits()
	}
	l.w = words(l.n)
	if k > 0 {
		fresh := append([]of.FieldID(nil), ctFields...)
		if nat {
			fresh = append(fresh, natFields...)
		}
		for _, id := range fresh {
			if l.tracked(id) && (id != of.FieldCTZone) {
				l.fpos[id] = l.f
				l.fresh = append(l.fresh, id)
				if id == of.FieldCTState {
					l.f += ctFreshBits
				} else {
					l.f += l.pos[id].width
				}
			}
		}
	}
	l.nv = l.n + l.k*l.f
	l.wv = words(l.nv)
	return l
}

func words(bits int) int { return (bits + 63) / 64 }

// tracked reports whether the field's bits are in the layout.
func (l *layout) tracked(id of.FieldID) bool {
	id = storage(id)
	return int(id) < maxField && l.pos[id].width > 0
}

// span is where id (or the field storing it) sits.
func (l *layout) span(id of.FieldID) span { return l.pos[storage(id)] }

// sub is the bits of a subfield: its offset in the header and width.
func (l *layout) sub(s of.Subfield) (off, n int, ok bool) {
	sp := l.span(s.Field)
	if sp.width == 0 {
		return 0, 0, false
	}
	n = int(s.Bits)
	if n == 0 {
		n = sp.width - int(s.Ofs)
	}
	if int(s.Ofs)+n > sp.width {
		return 0, 0, false
	}
	return sp.off + int(s.Ofs), n, true
}

// freshVar is the variable of bit b of field id in fresh block blk (1-based).
func (l *layout) freshVar(id of.FieldID, blk, b int) int {
	return l.n + (blk-1)*l.f + l.fpos[id] + b
}

// fieldSet is a set of fields.
type fieldSet [maxField]bool

func (s *fieldSet) add(ids ...of.FieldID) {
	for _, id := range ids {
		if id = storage(id); int(id) < maxField {
			s[id] = true
		}
	}
}

func (s *fieldSet) has(id of.FieldID) bool { return int(id) < maxField && s[id] }

// fieldValue is the field's value (or mask), network byte order as
// of.Value holds it, as bits numbered from the least significant.
func fieldBit(v of.Value, width, j int) bool {
	nb := width / 8
	return v[nb-1-j/8]>>(uint(j)%8)&1 == 1
}

// setFieldBit sets bit j (from the least significant) of an n-bit value.
func setFieldBit(v *of.Value, width, j int) {
	nb := width / 8
	v[nb-1-j/8] |= 1 << (uint(j) % 8)
}
