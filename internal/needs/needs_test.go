package needs

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records how a test was ended.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skip(args ...any)             { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

func TestEnd(t *testing.T) {
	tests := []struct {
		env, why        string
		skipped, failed bool
	}{
		{"", "", false, false},
		{"1", "", false, false},
		{"", "needs root", true, false},
		{"0", "needs root", true, false},
		{"1", "needs root", false, true},
	}
	for _, tc := range tests {
		t.Setenv(Env, tc.env)
		r := &recorder{TB: t}
		end(r, tc.why)
		if (r.skipped != "") != tc.skipped || (r.failed != "") != tc.failed {
			t.Errorf("%s=%q, %q: skipped %q, failed %q", Env, tc.env, tc.why, r.skipped, r.failed)
		}
	}
}

func TestMissingTool(t *testing.T) {
	Root(t)
	if got := missing([]Tool{{"sh", "-"}}); got != "" {
		t.Errorf("sh is missing: %q", got)
	}
	if got := missing([]Tool{{"cane-no-such-tool", "apt-get install nothing"}}); got != "needs cane-no-such-tool (apt-get install nothing)" {
		t.Errorf("missing = %q", got)
	}
}
