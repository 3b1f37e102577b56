package flows

import (
	"sort"

	"github.com/cane-cni/cane/flows/of"
)

// Flow is one OpenFlow flow as a typed value (flows/of): table, priority,
// cookie, protocol, matches, actions. Its String() is what ovs-ofctl
// dump-flows prints.
type Flow = of.Flow

// Key is a flow's identity in OVS (table, priority, match).
type Key = of.Key

// flow starts a flow of table t at priority p with cookie c.
func flow(t Table, p Priority, c Cookie) Flow { return of.NewFlow(uint8(t), uint16(p), uint64(c)) }

// drop starts a drop flow: it has no actions, and its cookie names why.
func drop(t Table, p Priority, reason Reason) Flow {
	return flow(t, p, NewCookie(0, KindBase, reason, 0))
}

// base starts a base-pipeline flow that drops nothing.
func base(t Table, p Priority) Flow { return flow(t, p, NewCookie(0, KindBase, 0, 0)) }

func gotoTable(t Table) of.Action { return of.Goto{Table: uint8(t)} }

// TableOf is the flow's table.
func TableOf(f Flow) Table { return Table(f.Table) }

// CookieOf is the flow's cookie, with its layout.
func CookieOf(f Flow) Cookie { return Cookie(f.Cookie) }

// Strings renders a flow set, one flow a line as OVS prints it, sorted.
func Strings(fs []Flow) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	sort.Strings(out)
	return out
}

// WithRound returns the flows with their cookie's round set to round.
func WithRound(fs []Flow, round uint16) []Flow {
	out := make([]Flow, len(fs))
	for i, f := range fs {
		f.Cookie = uint64(Cookie(f.Cookie)&^RoundMask | Cookie(round)<<48)
		out[i] = f
	}
	return out
}
