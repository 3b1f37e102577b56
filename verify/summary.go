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
	col.classes += sum.classes
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
	for i := range me.recs {
		rec := &me.recs[i]
		c := compose(s, rec)
		if rec.child != nil {
			r.apply(ctx, c, rec.child, col)
			continue
		}
		r.judgeLeaf(ctx, c, rec.lf, col)
	}
}

// judgeLeaf judges one leaf of a whole class into the report.
func (r *runner) judgeLeaf(ctx *context, s *state, l leaf, col *collector) {
	if l.ends() {
		col.classes++
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
	for i := range me.recs {
		if !r.summarize(ctx, s, &me.recs[i], sum, pre) {
			return false
		}
	}
	return true
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
// variables (the class is then judged leaf by leaf).
func (g *sigs) destSig(s *state, policy string) ([]byte, bool) {
	vars := g.vars
	for i := range vars {
		vars[i] = 0
	}
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
	for i := range vars {
		b = appendWords(b, c.mask()[i]&vars[i], c.val()[i]&vars[i])
	}
	var enc []string
	for _, q := range s.t.subs {
		switch mixes(q.mask(), vars) {
		case mixed:
			return nil, false
		case inside:
			enc = append(enc, string(appendWords(nil, q...)))
		}
	}
	for _, x := range s.t.idx {
		if mixes(x.care, vars) != outside {
			return nil, false
		}
	}
	sort.Strings(enc)
	for _, e := range enc {
		b = append(append(b, '|'), e...)
	}
	g.buf = b
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
	for i := range vars {
		vars[i] = 0
	}
	b := append(append(g.buf[:0], policy...), 'i')
	for i, d := range g.destMask {
		wr := rec.wr[i]
		cm := s.m.cm[i]&^wr | rec.m.cm[i]&wr
		cv := s.m.cv[i]&^wr | rec.m.cv[i]&wr
		vars[i] = d &^ cm
		b = appendWords(b, d&cm, d&cm&cv)
	}
	sc, rc := s.t.c, rec.t.c
	for i := range vars {
		m := sc.mask()[i] | rc.mask()[i]
		b = appendWords(b, m&vars[i], (sc.val()[i]|rc.val()[i])&vars[i])
	}
	var enc []string
	for _, subs := range [][]cube{s.t.subs, rec.t.subs} {
		for _, q := range subs {
			switch mixes(q.mask(), vars) {
			case mixed:
				return nil, false
			case inside:
				enc = append(enc, string(appendWords(nil, q...)))
			}
		}
	}
	for _, idx := range [][]*subIndex{s.t.idx, rec.t.idx} {
		for _, x := range idx {
			if mixes(x.care, vars) != outside {
				return nil, false
			}
		}
	}
	sort.Strings(enc)
	for _, e := range enc {
		b = append(append(b, '|'), e...)
	}
	g.buf = b
	return b, true
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
