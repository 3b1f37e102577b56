package verify

import (
	"fmt"
	"hash/maphash"

	"github.com/cane-cni/cane/flows/of"
)

// runner is one verification's traversal: the compiled pipeline, the
// node's policy, how leaves are judged, the memo. The work is split over
// small types: pipeline (compiled flows, and the state operations of
// actions), sources (the contexts a node's ports make), judge (what a
// leaf of a context's class is worth), sigs (summary keys), layout (bits,
// and witnesses).
type runner struct {
	p        *pipeline
	in       *policy
	j        *judge
	sig      *sigs
	memo     map[string]*memoEntry
	seen     map[uint64]bool // keys met once, not recorded (by hash)
	seed     maphash.Seed
	noMemo   bool
	lazyMin  int  // options.lazyMin
	scratch  cube // coveredBy's
	computed int
	idxIDs   map[*subIndex]int
	k        keyScratch
	b        *budget
	ints     [][]int // candidate lists, for reuse
}

// judge judges the leaves of classes: a pipeline and a node's policy.
type judge struct {
	p         *pipeline
	in        *policy
	addrConds []addrCond
	etSpan    span
	vniSpan   span // tun_id's low 64 bits
}

// sources makes a node's contexts.
type sources struct {
	p  *pipeline
	in *policy
}

// sigs computes summary keys, in scratch space of its own.
type sigs struct {
	destMask    []uint64 // the header bits of destFields
	buf         []byte
	vars        []uint64
	cmask, cval []uint64 // a composed class's cube
	enc         []string
	idxID       func(*subIndex) int
}

// Verify follows every packet each source of the node can send through
// flows (as installed: ovs.OpenFlow.Dump's) and reports what reaches
// where it must not, what passes as someone it is not, and every loop,
// black hole and flow it cannot interpret, each with a packet that shows
// it. Pure: safe for concurrent use on different inputs. No limits: see
// VerifyWithin.
func Verify(fs []of.Flow, in Input) (Report, error) { return VerifyWithin(fs, in, Limits{}) }

// VerifyWithin is Verify within limits: past any of them it stops and
// returns what it found so far in a report that is not proven and says
// which limit (Report.Budget). A fault of the verifier itself (a panic)
// is an error, never a crash of the caller.
func VerifyWithin(fs []of.Flow, in Input, lim Limits) (Report, error) {
	return verify(fs, in, lim, options{memo: true, lazyMin: lazyMin})
}

// options are how a verification shares work: with the memo or without,
// and how many records make an entry lazy (tests compare them).
type options struct {
	memo    bool
	lazyMin int
}

// verify is VerifyWithin with options.
func verify(fs []of.Flow, in Input, lim Limits, o options) (rep Report, err error) {
	if err := in.validate(); err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}
	b := newBudget(lim)
	defer b.recover(&rep, &err)
	p, pol := compile(fs, in.fields()), newPolicy(&in)
	r := &runner{p: p, in: pol, memo: map[string]*memoEntry{}, seen: map[uint64]bool{}, idxIDs: map[*subIndex]int{}, noMemo: !o.memo, lazyMin: o.lazyMin,
		seed: maphash.MakeSeed(), k: newKeyScratch(p.l.w, p.l.wv), b: b,
		j:   &judge{p: p, in: pol, etSpan: p.l.span(of.FieldEthType), vniSpan: p.l.span(of.FieldTunID)},
		sig: &sigs{destMask: p.l.fieldsMask(destFields), vars: make([]uint64, p.l.wv), cmask: make([]uint64, p.l.wv), cval: make([]uint64, p.l.wv)}}
	r.j.addrConds = r.j.buildAddrConds()
	r.sig.idxID = r.idxID
	col := &collector{r: r, byKey: map[string]*Violation{}, sources: map[string]map[string]bool{}}
	ctxs := (&sources{p: p, in: pol}).contexts()
	rep = Report{Sources: len(in.Ports), Contexts: len(ctxs), Flows: len(fs), Notes: r.p.notes}
	b.partial = func() Report { // what a report says when the budget runs out
		rep.Classes, rep.Computed, rep.Violations = col.classes, r.computed, col.violations()
		return rep
	}
	for _, ctx := range ctxs {
		for _, t := range ctx.starts {
			s := r.start(t)
			if s.t.empty() {
				continue
			}
			r.table(s, 0, evaluator{r: r, ctx: ctx, col: col})
		}
	}
	return b.partial(), nil
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
