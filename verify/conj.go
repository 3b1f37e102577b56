package verify

import (
	"fmt"
	"sort"

	"github.com/cane-cni/cane/flows/of"
)

// Conjunctive matches (ovs-fields(7), "Conjunctive Match Fields"): the
// flows with conjunction(id, k/n) actions at one priority P make up a
// conjunction that matches a packet when, for every clause k, one of
// clause k's flows does. A match does not run their actions (they have
// none): OVS looks the table up again with conj_id=id (ordinary flows
// only) and runs what it finds; an ordinary flow of priority >= P wins
// over the conjunction. The verifier turns each conjunction into entries
// at P, one per cube of the product of its clauses (each clause a union of
// flow matches, the conjunction their intersection), whose action is that
// second lookup.

// maxConjCubes bounds one conjunction's product. Past it the conjunction
// is over-approximated by its smallest clause and takes nothing from the
// entries below it: sound (both sides see more packets), less precise.
const maxConjCubes = 4096

type conjKey struct {
	table uint8
	prio  uint16
	id    uint32
}

type clauseFlow struct {
	e *entry
	k int
}

// conjunctions builds the conjunctions' entries, by table.
func (p *pipeline) conjunctions(soft []*entry) map[uint8][]*entry {
	groups := map[conjKey][]clauseFlow{}
	n := map[conjKey]int{}
	var keys []conjKey
	for _, e := range soft {
		for _, a := range e.flow.Actions {
			c, ok := a.(of.Conjunction)
			if !ok {
				continue
			}
			k := conjKey{e.flow.Table, e.prio, c.ID}
			if _, seen := groups[k]; !seen {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], clauseFlow{e, int(c.Clause)})
			if n[k] != 0 && n[k] != int(c.NClauses) {
				p.notes = append(p.notes, fmt.Sprintf("table %d: conjunction %d has flows of %d and %d clauses; the verifier uses %d", k.table, k.id, n[k], c.NClauses, n[k]))
				continue
			}
			n[k] = int(c.NClauses)
		}
	}
	out := map[uint8][]*entry{}
	for _, k := range keys {
		out[k.table] = append(out[k.table], p.conjEntries(k, n[k], groups[k])...)
	}
	return out
}

// conjEntries is one conjunction as entries: the product of its clauses,
// or (past maxConjCubes) its smallest clause, taking nothing below it.
func (p *pipeline) conjEntries(k conjKey, n int, fs []clauseFlow) []*entry {
	clauses := make([][]*entry, n)
	for _, cf := range fs {
		if cf.k >= 1 && cf.k <= n {
			clauses[cf.k-1] = append(clauses[cf.k-1], cf.e)
		}
	}
	for _, c := range clauses {
		if len(c) == 0 {
			return nil // a clause no flow fills: the conjunction never matches
		}
	}
	prod, ok := product(p, clauses)
	exact := true
	if !ok {
		sort.SliceStable(clauses, func(i, j int) bool { return len(clauses[i]) < len(clauses[j]) })
		prod, exact = nil, false
		for _, e := range clauses[0] {
			prod = append(prod, conjCube{c: e.c, from: []*entry{e}})
		}
		p.notes = append(p.notes, fmt.Sprintf("table %d: conjunction %d (priority %d) has more than %d cubes: over-approximated by its smallest clause", k.table, k.id, k.prio, maxConjCubes))
	}
	var es []*entry
	for _, pc := range prod {
		e := &entry{flow: pc.from[0].flow, prio: k.prio, c: pc.c, conj: true, conjID: k.id, lowerShadow: exact, rare: &entryRare{}}
		for _, f := range pc.from {
			e.rare.clauses = append(e.rare.clauses, f.flow)
		}
		es = append(es, e)
	}
	return es
}

// conjCube is one cube of a conjunction's product and the flows behind it.
type conjCube struct {
	c    cond
	from []*entry
}

// product intersects the clauses; false if it grows past maxConjCubes.
func product(p *pipeline, clauses [][]*entry) ([]conjCube, bool) {
	cur := []conjCube{{c: p.newCond()}}
	for _, clause := range clauses {
		var next []conjCube
		for _, a := range cur {
			for _, e := range clause {
				c, ok := p.andCond(a.c, e.c)
				if !ok {
					continue
				}
				next = append(next, conjCube{c: c, from: append(append([]*entry(nil), a.from...), e)})
				if len(next) > maxConjCubes {
					return nil, false
				}
			}
		}
		cur = next
	}
	return cur, true
}

// andCond is both conditions; false if they contradict.
func (p *pipeline) andCond(a, b cond) (cond, bool) {
	if !condsOverlap(a, b) {
		return cond{}, false
	}
	c := p.newCond()
	for i := range a.mask {
		c.mask[i] = a.mask[i] | b.mask[i]
		c.val[i] = a.val[i] | b.val[i]
	}
	return c, true
}
