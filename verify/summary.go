package verify

import (
	"sort"
	"strings"

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
	sum := r.summaryOf(ctx, s, me)
	if sum == nil {
		r.replay(ctx, s, me, col)
		return
	}
	col.classes += sum.classes
	in, _ := r.inPort(s)
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
	in, _ := r.inPort(s)
	for _, f := range r.judge(ctx, s, l) {
		if f.emit && f.port == in {
			continue // OVS does not send a packet out of the port it came in on
		}
		col.add(ctx, f, s, 1)
	}
}

// summaryOf is me's summary for classes like s, built on first use; nil
// if s cannot share one.
func (r *runner) summaryOf(ctx *context, s *state, me *memoEntry) *summary {
	sig, ok := r.destSig(s)
	if !ok {
		return nil
	}
	key := ctx.policy + sig
	if sum, ok := me.sums[key]; ok {
		return sum
	}

	sum := &summary{groups: map[string]*sgroup{}}
	for i := range me.recs {
		rec := &me.recs[i]
		if !r.summarize(ctx, s, rec, sum) {
			return nil
		}
	}
	if me.sums == nil {
		me.sums = map[string]*summary{}
	}
	me.sums[key] = sum
	return sum
}

// summarize adds one record to a summary; false if a child cannot share.
func (r *runner) summarize(ctx *context, s *state, rec *record, sum *summary) bool {
	if rec.child != nil {
		child := r.summaryOf(ctx, compose(s, rec), rec.child)
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
				sum.group(k).add(append(chain{rec}, ex.ch...), ex.f, n, ports)
			}
		}
		for _, ch := range child.inports {
			sum.inports = append(sum.inports, append(chain{rec}, ch...))
		}
		return true
	}
	if rec.lf.ends() {
		sum.classes++
	}
	if rec.lf.kind == leafEmit && rec.lf.inPort {
		sum.inports = append(sum.inports, chain{rec})
		return true
	}
	c := compose(s, rec)
	for _, f := range r.judge(ctx, c, rec.lf) {
		sum.group(f.key(ctx)).add(chain{rec}, f, 1, nil)
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
func (r *runner) destSig(s *state) (string, bool) {
	l := r.p.l
	vars := make([]uint64, l.wv)
	var b strings.Builder
	for _, id := range destFields {
		if !l.tracked(id) {
			continue
		}
		sp := l.span(id)
		for j := 0; j < sp.width; j++ {
			d := s.m.desc(sp.off + j)
			if d.konst {
				writeInts(&b, -1-boolInt(d.val))
				continue
			}
			setBit(vars, d.v, true)
			known, val := s.t.c.get(d.v)
			writeInts(&b, d.v, boolInt(known)*2+boolInt(val))
		}
	}
	var enc []string
	for _, q := range s.t.subs {
		switch mixes(q.mask(), vars) {
		case mixed:
			return "", false
		case inside:
			var e strings.Builder
			writeWords(&e, q...)
			enc = append(enc, e.String())
		}
	}
	for _, x := range s.t.idx {
		if mixes(x.care, vars) != outside {
			return "", false
		}
	}
	sort.Strings(enc)
	b.WriteString(strings.Join(enc, "|"))
	return b.String(), true
}

