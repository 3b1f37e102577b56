package verify

import "github.com/cane-cni/cane/flows/of"

// reads computes, for every table, the header bits it or any table after
// it reads (matches, move and output:reg sources, ct zone sources): what
// a class's future depends on, so what memo keys are made of. The
// comparison of an output port with in_port is not counted: it is settled
// per class when it is judged.
func (p *pipeline) reads() {
	own := map[uint8][]uint64{}
	next := map[uint8][]uint8{}
	for _, t := range p.tables {
		if t == nil {
			continue
		}
		rd := make([]uint64, p.l.w)
		for _, e := range t.entries {
			for i := range rd {
				rd[i] |= e.c.mask[i]
			}
			for _, a := range e.acts {
				p.actReads(a, rd)
				switch a.kind {
				case of.KindGoto, of.KindResubmit:
					next[t.id] = append(next[t.id], a.table)
				case of.KindCT:
					if a.ct.a.Recirc {
						next[t.id] = append(next[t.id], a.table)
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
