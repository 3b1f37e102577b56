package verify

import (
	"sort"

	"github.com/cane-cni/cane/flows/of"
)

// reads computes, for every table, the header bits it or any table after
// it reads (matches, move and output:reg sources, ct zone sources): what
// a class's future depends on, so what memo keys are made of. The
// comparison of an output port with in_port is not counted: it is settled
// per class when it is judged.
func (p *pipeline) reads() {
	own := map[uint8][]uint64{}
	next := map[uint8][]uint8{}
	var edge [256][256]bool
	link := func(from, to uint8) {
		if !edge[from][to] {
			edge[from][to] = true
			next[from] = append(next[from], to)
		}
	}
	for _, t := range p.tables {
		if t == nil {
			continue
		}
		rd := make([]uint64, p.l.w)
		var seen []act // action lists already looked at (flows share them)
		for _, e := range t.entries {
			for i := range rd {
				rd[i] |= e.c.mask[i]
			}
			if len(e.acts) > 0 && len(seen) > 0 && &seen[0] == &e.acts[0] {
				continue
			}
			seen = e.acts
			for _, a := range e.acts {
				p.actReads(a, rd)
				switch a.kind {
				case of.KindGoto, of.KindResubmit:
					link(t.id, a.table)
				case of.KindCT:
					if a.ct.a.Recirc {
						link(t.id, a.table)
					}
				}
			}
		}
		own[t.id] = rd
	}
	for changed := true; changed; {
		changed = false
		for id, succ := range next {
			for _, n := range succ {
				for i, w := range own[n] {
					if own[id][i]|w != own[id][i] {
						own[id][i] |= w
						changed = true
					}
				}
			}
		}
	}
	for _, t := range p.tables {
		if t != nil {
			t.reads = own[t.id]
		}
	}
	p.atoms(next)
}

// actReads adds the header bits an action reads.
func (p *pipeline) actReads(a act, rd []uint64) {
	switch a.kind {
	case of.KindMove, of.KindOutputReg:
		setRange(rd, a.src, a.n)
	case of.KindCT:
		if a.ct.zoneN > 0 {
			setRange(rd, a.ct.zoneOff, a.ct.zoneN)
		}
	case of.KindPushVLAN:
		// keeps the TCI's VID and PCP: a copy, not a read that branches
	}
}

// An atomField is a field that a table and the tables after it only
// match (no move, output:reg or zone reads it, none writes part of it),
// with few distinct value/mask pairs (pairs): the values meeting the same
// pairs take the same paths there, so memo keys abstract it (key.go).
type atomField struct {
	id    int // the field, as keys name it
	sp    span
	care  uint64 // the bits any pair masks: a class needs only these fixed
	pairs []valMask
}

// valMask is one match of a field: the value bits under mask.
type valMask struct{ val, mask uint64 }

// maxAtomPairs bounds an atom field's pairs: a signature is one word.
const maxAtomPairs = 64

// sig is which of the pairs value v meets.
func (af *atomField) sig(v uint64) uint64 {
	var s uint64
	for i, pm := range af.pairs {
		if (v^pm.val)&pm.mask == 0 {
			s |= 1 << uint(i)
		}
	}
	return s
}

// fieldUse is how the tables use one field: the pairs they match it
// with, or whole (a move, output:reg or zone reads it, or too many pairs).
type fieldUse struct {
	pairs map[valMask]bool
	whole bool
}

func (u *fieldUse) add(pm valMask) {
	if u.whole {
		return
	}
	if u.pairs == nil {
		u.pairs = map[valMask]bool{}
	}
	if u.pairs[pm] = true; len(u.pairs) > maxAtomPairs {
		u.whole, u.pairs = true, nil
	}
}

// atoms computes every table's atom fields: over its own flows and
// those of every table after it (goto, resubmit, recirculation).
func (p *pipeline) atoms(next map[uint8][]uint8) {
	own := map[uint8][]fieldUse{}
	for _, t := range p.tables {
		if t != nil {
			own[t.id] = p.fieldUses(t)
		}
	}
	for _, t := range p.tables {
		if t == nil {
			continue
		}
		uses := make([]fieldUse, maxField)
		for id := range reachable(t.id, next) {
			for f, u := range own[id] {
				if u.whole {
					uses[f].whole, uses[f].pairs = true, nil
				}
				for pm := range u.pairs {
					uses[f].add(pm)
				}
			}
		}
		t.atoms = p.atomFields(uses)
	}
}

// fieldUses is how one table's flows use each field of at most 64 bits.
func (p *pipeline) fieldUses(t *table) []fieldUse {
	uses := make([]fieldUse, maxField)
	rd := make([]uint64, p.l.w)
	byWord := p.l.fieldsByWord()
	var seen [maxField]int // the entry (1-based) that last looked at a field
	done := map[*act]bool{}
	for n, e := range t.entries {
		for i, mw := range e.c.mask {
			if mw == 0 {
				continue
			}
			for _, id := range byWord[i] {
				sp := p.l.pos[id]
				if seen[id] == n+1 || sp.width > 64 {
					continue
				}
				seen[id] = n + 1
				if m := bitsAt(e.c.mask, sp); m != 0 {
					uses[id].add(valMask{val: bitsAt(e.c.val, sp) & m, mask: m})
				}
			}
		}
		if len(e.acts) == 0 || done[&e.acts[0]] {
			continue // flows share compiled actions: each list once
		}
		done[&e.acts[0]] = true
		for _, a := range e.acts {
			p.actReads(a, rd)
			p.partialWrites(a, rd)
		}
	}
	for id := 1; id < maxField; id++ {
		if sp := p.l.pos[id]; sp.width > 0 && sp.width <= 64 && bitsAt(rd, sp) != 0 {
			uses[id].whole, uses[id].pairs = true, nil
		}
	}
	return uses
}

// partialWrites adds to mask the fields an action writes part of (all of
// a field they touch): an atom's values that met the same pairs may not
// once part of them is rewritten (0b01 and 0b10 meet neither 0b11/0b11;
// with bit 1 set, one does), so such a field is keyed by its value. A
// write of a whole field is none: what it leaves does not depend on what
// was there.
func (p *pipeline) partialWrites(a act, mask []uint64) {
	w := make([]uint64, p.l.w)
	switch a.kind {
	case of.KindSetField:
		for _, wb := range a.set {
			w[wb.i] |= wb.mask
		}
	case of.KindMove:
		setRange(w, a.dst, a.n)
	case of.KindPushVLAN:
		sp := p.l.span(of.FieldVLANTCI)
		setRange(w, sp.off+12, 1)
	default:
		return
	}
	for id := 1; id < maxField; id++ {
		sp := p.l.pos[id]
		if sp.width == 0 || sp.width > 64 {
			continue
		}
		if got := bitsAt(w, sp); got != 0 && got != ^uint64(0)>>uint(64-sp.width) {
			setRange(mask, sp.off, sp.width)
		}
	}
}

// atomFields are the fields of uses matched with few pairs, never whole.
func (p *pipeline) atomFields(uses []fieldUse) []atomField {
	var out []atomField
	for id, u := range uses {
		if u.whole || len(u.pairs) == 0 {
			continue
		}
		af := atomField{id: id, sp: p.l.pos[id]}
		for pm := range u.pairs {
			af.pairs = append(af.pairs, pm)
			af.care |= pm.mask
		}
		sort.Slice(af.pairs, func(i, j int) bool {
			a, b := af.pairs[i], af.pairs[j]
			return a.mask < b.mask || a.mask == b.mask && a.val < b.val
		})
		out = append(out, af)
	}
	return out
}

// reachable is table id and every table after it.
func reachable(id uint8, next map[uint8][]uint8) map[uint8]bool {
	seen := map[uint8]bool{id: true}
	stack := []uint8{id}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, n := range next[t] {
			if !seen[n] {
				seen[n] = true
				stack = append(stack, n)
			}
		}
	}
	return seen
}

// bitsAt is the bits of sp (at most 64) in b, least significant first.
func bitsAt(b []uint64, sp span) uint64 {
	var v uint64
	for j := 0; j < sp.width; {
		i := sp.off + j
		w, s := i>>6, uint(i)&63
		n := 64 - int(s)
		if n > sp.width-j {
			n = sp.width - j
		}
		x := b[w] >> s
		if n < 64 {
			x &= 1<<uint(n) - 1
		}
		v |= x << uint(j)
		j += n
	}
	return v
}

// fieldsByWord is, for each word of the header, the fields with bits in
// it, in FieldID order.
func (l *layout) fieldsByWord() [][]int {
	out := make([][]int, l.w)
	for id := 1; id < maxField; id++ {
		sp := l.pos[id]
		if sp.width == 0 {
			continue
		}
		for i := sp.off >> 6; i <= (sp.off+sp.width-1)>>6; i++ {
			out[i] = append(out[i], id)
		}
	}
	return out
}
