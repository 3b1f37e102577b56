package verify

import (
	"fmt"

	"github.com/cane-cni/cane/flows/of"
)

// runner is one verification: the compiled pipeline, the node's policy,
// the memo.
type runner struct {
	p         *pipeline
	in        *policy
	memo      map[string]*memoEntry
	seen      map[string]bool // keys met once, not recorded
	noMemo    bool
	computed  int
	idxIDs    map[*subIndex]int
	buf       []byte   // scratch for keys
	ints      [][]int  // candidate lists, for reuse
	vbuf      []uint64 // scratch variable mask (destSig)
	kvars     []uint64 // scratch variable mask (key)
	destMask  []uint64 // the header bits of destFields
	addrConds []addrCond
	etSpan    span
	vniSpan   span // tun_id's low 64 bits
}

// Verify follows every packet each source of the node can send through
// flows (as installed: ovs.OpenFlow.Dump's) and reports what reaches
// where it must not, what passes as someone it is not, and every loop,
// black hole and flow it cannot interpret, each with a packet that shows
// it. Pure: safe for concurrent use on different inputs.
func Verify(fs []of.Flow, in Input) (Report, error) { return verify(fs, in, true) }

// verify is Verify, with or without the memo (tests compare the two).
func verify(fs []of.Flow, in Input, memo bool) (Report, error) {
	if err := in.validate(); err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}
	r := &runner{p: compile(fs, in.fields()), in: newPolicy(&in), memo: map[string]*memoEntry{}, seen: map[string]bool{}, idxIDs: map[*subIndex]int{}, noMemo: !memo}
	r.destMask = r.p.l.fieldsMask(destFields)
	r.vbuf = make([]uint64, r.p.l.wv)
	r.kvars = make([]uint64, r.p.l.wv)
	r.addrConds = r.buildAddrConds()
	r.etSpan = r.p.l.span(of.FieldEthType)
	r.vniSpan = r.p.l.span(of.FieldTunID)
	col := &collector{r: r, byKey: map[string]*Violation{}, sources: map[string]map[string]bool{}}
	ctxs := r.contexts()
	for _, ctx := range ctxs {
		for _, t := range ctx.starts {
			s := r.start(t)
			if s.t.empty() {
				continue
			}
			r.table(s, 0, evaluator{r: r, ctx: ctx, col: col})
		}
	}
	rep := Report{Sources: len(in.Ports), Contexts: len(ctxs), Classes: col.classes, Computed: r.computed, Flows: len(fs),
		Violations: col.violations(), Notes: r.p.notes}
	return rep, nil
}

// start is a source's class at the bridge: every header bit its own variable.
func (r *runner) start(t term) *state {
	return &state{m: newMapping(r.p.l.w), t: t.clone(), wr: make([]uint64, r.p.l.w)}
}

// fields are the fields the input needs tracked beyond the flows'.
func (in *Input) fields() []of.FieldID {
	var out []of.FieldID
	for _, p := range in.Ports {
		for _, a := range p.IPs {
			if a.Is6() {
				out = append(out, of.FieldIPv6Src)
			}
		}
	}
	for _, r := range in.Addresses {
		if r.Prefix.Addr().Is6() {
			out = append(out, of.FieldIPv6Src, of.FieldIPv6Dst)
		}
	}
	return out
}

func (r *runner) idxID(x *subIndex) int {
	id, ok := r.idxIDs[x]
	if !ok {
		id = len(r.idxIDs)
		r.idxIDs[x] = id
	}
	return id
}

// ofports are the node's ports.
func (p *policy) ofportList() []uint32 { return p.ofports }

// evaluator is the sink that judges a context's classes as they end.
type evaluator struct {
	r   *runner
	ctx *context
	col *collector
}

func (ev evaluator) leaf(s *state, l leaf) { ev.r.judgeLeaf(ev.ctx, s, l, ev.col) }
func (ev evaluator) reuse(s *state, me *memoEntry) {
	ev.r.apply(ev.ctx, s, me, ev.col)
}
