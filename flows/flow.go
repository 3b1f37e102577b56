package flows

import (
	"fmt"
	"sort"
	"strings"
)

// Flow is one OpenFlow flow in ovs-ofctl syntax.
type Flow struct {
	Table    Table
	Priority uint16
	Cookie   Cookie
	Match    string // ovs-ofctl match fields, e.g. "ip,in_port=5"; empty matches all
	Actions  string // ovs-ofctl actions, e.g. "goto_table:10" or "drop"
}

// String renders the flow as an ovs-ofctl add-flow line.
func (f Flow) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table=%d,priority=%d,cookie=%s", f.Table, f.Priority, f.Cookie)
	if f.Match != "" {
		b.WriteString(",")
		b.WriteString(f.Match)
	}
	b.WriteString(" actions=")
	b.WriteString(f.Actions)
	return b.String()
}

// Key identifies a flow in OVS: the same key replaces an existing flow.
func (f Flow) Key() string {
	return fmt.Sprintf("table=%d,priority=%d,%s", f.Table, f.Priority, f.Match)
}

// Strings renders a flow set, sorted by table then key, for stable output.
func Strings(fs []Flow) []string {
	sorted := append([]Flow(nil), fs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Table != sorted[j].Table {
			return sorted[i].Table < sorted[j].Table
		}
		return sorted[i].Key() < sorted[j].Key()
	})
	out := make([]string, len(sorted))
	for i, f := range sorted {
		out[i] = f.String()
	}
	return out
}

// WithRound returns the flows with their cookie's round set to round.
func WithRound(fs []Flow, round uint16) []Flow {
	out := make([]Flow, len(fs))
	for i, f := range fs {
		f.Cookie = f.Cookie&^RoundMask | Cookie(round)<<48
		out[i] = f
	}
	return out
}

func drop(t Table, prio uint16, reason Reason, match string) Flow {
	return Flow{Table: t, Priority: prio, Cookie: NewCookie(0, KindBase, reason, 0), Match: match, Actions: "drop"}
}

func gotoTable(t Table) string { return fmt.Sprintf("goto_table:%d", t) }
