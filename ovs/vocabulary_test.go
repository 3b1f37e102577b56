package ovs_test

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/flows/of/oftest"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
)

// TestVocabulary: every flow of the vocabulary is accepted by a real OVS
// through the native bundle, dumps natively as exactly the typed value it
// was built as (so the decoder inverts the encoder through OVS), and
// prints exactly as ovs-ofctl prints what OVS holds.
func TestVocabulary(t *testing.T) {
	o, c := newBridge(t)
	want := oftest.Vocabulary()
	var b ovs.Bundle
	b.Add(want...)
	if err := o.OpenFlow().Apply(c, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	assertInstalled(t, o, want)
}

// assertInstalled checks that the bridge holds exactly want: natively
// dumped flows equal to want as typed values, and printed as ovs-ofctl
// (the oracle, in this test only) prints them.
func assertInstalled(t *testing.T, o *ovstest.Instance, want []of.Flow) {
	t.Helper()
	missing, extra, err := o.OpenFlow().Diff(ctx(t), "br-int", want)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range missing {
		t.Errorf("missing: %s", f)
	}
	for _, f := range extra {
		t.Errorf("extra:   %s", f)
	}
	out, err := exec.Command("ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "--no-stats", "unix:"+filepath.Join(o.Dir, "br-int.mgmt")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var printed, ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			printed = append(printed, l)
		}
	}
	for _, f := range want {
		ours = append(ours, f.String())
	}
	sort.Strings(printed)
	sort.Strings(ours)
	for i := 0; i < len(printed) || i < len(ours); i++ {
		var p, w string
		if i < len(printed) {
			p = printed[i]
		}
		if i < len(ours) {
			w = ours[i]
		}
		if p != w {
			t.Errorf("ovs-ofctl prints\n  %s\nString() is\n  %s", p, w)
		}
	}
}
