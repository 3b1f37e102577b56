package verify

import (
	"encoding/binary"
	"sort"

	"github.com/cane-cni/cane/flows/of"
)

// A summary is what a memo entry's records amount to for classes of one
// policy whose destination fields read alike (destSig): how many classes
// end, and the findings grouped as reports group them. Reusing it costs a
// class a few map lookups, not a walk over thousands of records. Which
// findings concern a class's own in_port (OVS does not send a packet back
// where it came from unless told IN_PORT) is settled per class.
type summary struct {
	classes int
	groups  map[string]*sgroup
	keys    []string
	inports []chain // output:IN_PORT: judged per class (the port is its own)
}

// chain is the records from a reused entry down to a leaf.
type chain []*record

// sgroup is the findings of one report key.
type sgroup struct {
	count int
	ports map[uint32]int // emission findings per port
	ex    []example      // the first, and the first to another port
}

type example struct {
	ch chain
	f  finding
}

func (g *sgroup) add(ch chain, f finding, n int, ports map[uint32]int) {
	g.count += n
	if ports != nil {
		for p, c := range ports {
			g.ports[p] += c
		}
	} else if f.emit {
		g.ports[f.port] += n
	}
	if len(g.ex) == 0 || (len(g.ex) == 1 && g.ex[0].f.emit && f.emit && f.port != g.ex[0].f.port) {
		g.ex = append(g.ex, example{ch: ch, f: f})
	}
}

func (s *summary) group(key string) *sgroup {
	if s.groups == nil {
		s.groups = map[string]*sgroup{}
	}
	g := s.groups[key]
	if g == nil {
		g = &sgroup{ports: map[uint32]int{}}
		s.groups[key] = g
		s.keys = append(s.keys, key)
	}
	return g
}

// apply judges a class of ctx that reuses memo entry me.
func (r *runner) apply(ctx *context, s *state, me *memoEntry, col *collector) {
	var sum *summary
	if !me.small() {
		sum = r.summaryOf(ctx, s, me)
	}
	if sum == nil {
		r.replay(ctx, s, me, col)
		return
	}
	col.count(sum.classes)
	in, _ := r.j.inPort(s)
	for _, k := range sum.keys {
		g := sum.groups[k]
		n := g.count - g.ports[in]
		if n <= 0 {
			continue
		}
		for _, ex := range g.ex {
			if !ex.f.emit || ex.f.port != in {
				col.add(ctx, ex.f, composeChain(s, ex.ch), n)
				break
			}
		}
	}
	for _, ch := range sum.inports {
		r.judgeLeaf(ctx, composeChain(s, ch), ch[len(ch)-1].lf, col)
	}
}

// replay judges a class leaf by leaf (when no summary fits it).
func (r *runner) replay(ctx *context, s *state, me *memoEntry, col *collector) {
	r.materialize(me)
	for i := range me.recs {
		rec := &me.recs[i]
		switch {
		case rec.child != nil:
			r.apply(ctx, compose(s, rec), rec.child, col)
		case rec.lf.kind == leafEnd: // nothing sent, nothing to judge
			col.count(1)
		default:
			r.judgeLeaf(ctx, compose(s, rec), rec.lf, col)
		}
	}
}

// judgeLeaf judges one leaf of a whole class into the report.
func (r *runner) judgeLeaf(ctx *context, s *state, l leaf, col *collector) {
	r.b.step()
	if l.ends() {
		col.count(1)
	}
	in, _ := r.j.inPort(s)
	for _, f := range r.j.leaf(ctx, s, l) {
		if f.emit && f.port == in {
			continue // OVS does not send a packet out of the port it came in on
		}
		col.add(ctx, f, s, 1)
	}
}

// summaryOf is me's summary for classes like s, built on first use; nil
// if s cannot share one.
func (r *runner) summaryOf(ctx *context, s *state, me *memoEntry) *summary {
	sig, ok := r.sig.destSig(s, ctx.policy)
	if !ok {
		return nil
	}
	if sum, ok := me.sums[string(sig)]; ok {
		return sum
	}
	key := string(sig)
	sum := &summary{}
	if !r.summarizeAll(ctx, s, me, sum, nil) {
		return nil
	}
	if me.sums == nil {
		me.sums = map[string]*summary{}
	}
	me.sums[key] = sum
	return sum
}

// childSummary is the summary of rec's child for s followed by rec. The
// summary is looked up without composing the two when it can be (a
// Classifier's 10,000 VTEP classes all lead to one TunnelVNI summary).
func (r *runner) childSummary(ctx *context, s *state, rec *record) *summary {
	if sig, ok := r.sig.destSigAfter(s, rec, ctx.policy); ok {
		if sum, ok := rec.child.sums[string(sig)]; ok {
			return sum
		}
	}
	return r.summaryOf(ctx, compose(s, rec), rec.child)
}

// summarizeAll adds every record of me, after the chain pre, to sum.
func (r *runner) summarizeAll(ctx *context, s *state, me *memoEntry, sum *summary, pre chain) bool {
	return r.each(me, func(rec *record) bool { return r.summarize(ctx, s, rec, sum, pre) })
}

// summarize adds one record, after the chain pre, to a summary; false if
// a child cannot share. A small child is summarized in place, not cached.
func (r *runner) summarize(ctx *context, s *state, rec *record, sum *summary, pre chain) bool {
	at := append(pre[:len(pre):len(pre)], rec)
	if rec.child != nil && rec.child.small() {
		return r.summarizeAll(ctx, compose(s, rec), rec.child, sum, at)
	}
	if rec.child != nil {
		child := r.childSummary(ctx, s, rec)
		if child == nil {
			return false
		}
		sum.classes += child.classes
		for _, k := range child.keys {
			g := child.groups[k]
			for i, ex := range g.ex {
				n, ports := 0, map[uint32]int(nil)
				if i == 0 {
					n, ports = g.count, g.ports
				}
				sum.group(k).add(append(at[:len(at):len(at)], ex.ch...), ex.f, n, ports)
			}
		}
		for _, ch := range child.inports {
			sum.inports = append(sum.inports, append(at[:len(at):len(at)], ch...))
		}
		return true
	}
	if rec.lf.ends() {
		sum.classes++
	}
	if rec.lf.kind == leafEmit && rec.lf.inPort {
		sum.inports = append(sum.inports, at)
		return true
	}
	if rec.lf.kind == leafEnd {
		return true // the actions end: nothing sent, nothing to judge
	}
	c := compose(s, rec)
	for _, f := range r.j.leaf(ctx, c, rec.lf) {
		sum.group(f.key(ctx)).add(at, f, 1, nil)
	}
	return true
}

// composeChain is s followed by a chain of records.
func composeChain(s *state, ch chain) *state {
	for _, rec := range ch {
		s = compose(s, rec)
	}
	return s
}

// destFields are what judging a destination reads besides the port.
var destFields = []of.FieldID{of.FieldEthType, of.FieldVLANTCI, of.FieldTunID, of.FieldTunDst,
	of.FieldIPv4Dst, of.FieldARPTPA, of.FieldIPv6Dst}

// destSig is how a class's destination fields read (constants, variables
// and their constraints); false if a subtracted cube ties them to other
// variables (the class is then judged leaf by leaf). Subtracted cubes
// count as the class makes them: without what it fixes, and not at all
// if they take nothing from it.
func (g *sigs) destSig(s *state, policy string) ([]byte, bool) {
	vars := g.vars
	clear(vars)
	b := append(g.buf[:0], policy...)
	if !s.m.aliased(g.destMask) {
		b = append(b, 'i')
		for i, d := range g.destMask {
			vars[i] = d &^ s.m.cm[i]
			b = appendWords(b, d&s.m.cm[i], d&s.m.cm[i]&s.m.cv[i])
		}
	} else {
		b = append(b, 'a')
		eachBit(g.destMask, func(bit int) bool {
			d := s.m.desc(bit)
			if d.konst {
				b = binary.AppendVarint(b, int64(-1-boolInt(d.val)))
				return true
			}
			setBit(vars, d.v, true)
			b = binary.AppendVarint(b, int64(d.v))
			return true
		})
	}
	c := s.t.c
	b, ok := g.destSubs(b, c.mask(), c.val(), [][]cube{s.t.subs}, [][]*subIndex{s.t.idx})
	g.buf = b
	return b, ok
}

// destSubs appends the cube's constraints on g.vars and the subtracted
// cubes over them, as the cube (mask, val) makes them; false if one ties
// them to other variables, or an index touches them.
func (g *sigs) destSubs(b []byte, mask, val []uint64, subs [][]cube, idx [][]*subIndex) ([]byte, bool) {
	vars := g.vars
	for i := range vars {
		b = appendWords(b, mask[i]&vars[i], val[i]&vars[i])
	}
	enc := g.enc[:0]
	for _, list := range subs {
		for _, q := range list {
			h := q.half()
			in, out := false, false
			for i := 0; i < h; i++ {
				if (q[i]^val[i])&q[h+i]&mask[i] != 0 {
					in, out = false, false // takes nothing from the class
					break
				}
				m := q[h+i] &^ mask[i]
				in = in || m&vars[i] != 0
				out = out || m&^vars[i] != 0
			}
			switch {
			case in && out:
				return b, false
			case in:
				e := make([]byte, 0, 16*h)
				for i := 0; i < h; i++ {
					m := q[h+i] &^ mask[i]
					e = appendWords(e, q[i]&m)
				}
				for i := 0; i < h; i++ {
					e = appendWords(e, q[h+i]&^mask[i])
				}
				enc = append(enc, string(e))
			}
		}
	}
	sort.Strings(enc)
	for _, e := range enc {
		b = append(append(b, '|'), e...)
	}
	for _, list := range idx {
		for _, x := range list {
			switch mixes(x.care, vars) {
			case mixed:
				return b, false
			case inside: // an index is a fixed set of cubes: its name says which
				b = binary.AppendUvarint(append(b, '#'), uint64(g.idxID(x)))
			}
		}
	}
	g.enc = enc[:0]
	return b, true
}

// destSigAfter is destSig of compose(s, rec), computed without composing
// when neither has an alias on the destination bits; false otherwise (or
// if the class cannot share a summary).
func (g *sigs) destSigAfter(s *state, rec *record, policy string) ([]byte, bool) {
	if s.m.aliased(g.destMask) || rec.m.aliased(g.destMask) {
		return nil, false
	}
	vars := g.vars
	clear(vars)
	b := append(append(g.buf[:0], policy...), 'i')
	for i, d := range g.destMask {
		wr := rec.wr[i]
		cm := s.m.cm[i]&^wr | rec.m.cm[i]&wr
		cv := s.m.cv[i]&^wr | rec.m.cv[i]&wr
		vars[i] = d &^ cm
		b = appendWords(b, d&cm, d&cm&cv)
	}
	sc, rc := s.t.c, rec.t.c
	for i := range g.cmask {
		g.cmask[i] = sc.mask()[i] | rc.mask()[i]
		g.cval[i] = sc.val()[i] | rc.val()[i]
	}
	b, ok := g.destSubs(b, g.cmask, g.cval, [][]cube{s.t.subs, rec.t.subs}, [][]*subIndex{s.t.idx, rec.t.idx})
	g.buf = b
	return b, ok
}

// fieldsMask is the header bits of the tracked fields among ids.
func (l *layout) fieldsMask(ids []of.FieldID) []uint64 {
	m := make([]uint64, l.w)
	for _, id := range ids {
		if l.tracked(id) {
			sp := l.span(id)
			setRange(m, sp.off, sp.width)
		}
	}
	return m
}
