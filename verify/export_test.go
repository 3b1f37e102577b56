package verify

import (
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// For the real-OVS tests (package verify_test): the sale-night node and
// its mutations as data.

func SaleNightForTest(remotes int) flows.Node { return saleNight(remotes) }

// TestMutation is a mutation as a flow change: remove these, add those.
type TestMutation struct {
	Name        string
	Remove, Add []of.Flow
	Want        Kind
	Detail      string
}

func MutationsForTest(n flows.Node) []TestMutation {
	var out []TestMutation
	all := n.All()
	for _, m := range mutations(n) {
		tm := TestMutation{Name: m.name, Add: m.add, Want: m.want, Detail: m.detail}
		for _, f := range all {
			if m.replace != nil && m.replace(f) {
				tm.Remove = append(tm.Remove, f)
			}
		}
		out = append(out, tm)
	}
	return out
}

// CTForTest is the ct table test's pipeline and node (ports 10-12).
func CTForTest() ([]of.Flow, Input) { return ctPipeline(0), tiny() }
