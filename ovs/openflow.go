package ovs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cane-cni/cane/flows"
)

// ExecFunc runs a command with stdin and returns its stdout; on failure the
// error carries stderr. A seam for tests.
type ExecFunc func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// RunCommand is the ExecFunc that runs real processes.
func RunCommand(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// OpenFlow programs a vswitchd's bridges on the bridge's management socket
// in RunDir: pod flows and deletes by cookie as a native OpenFlow 1.5
// bundle (native.go: no process on the ADD and DEL paths), everything else
// through ovs-ofctl.
//
// Why ovs-ofctl and not go-openvswitch's Flow type: that type cannot express
// register matches, goto_table or ARP field moves, which every Cane table
// uses; go-openvswitch itself execs ovs-ofctl for bundles in the same way.
type OpenFlow struct {
	RunDir string   // where vswitchd puts BRIDGE.mgmt
	Exec   ExecFunc // nil means RunCommand
}

func (o *OpenFlow) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	ex := o.Exec
	if ex == nil {
		ex = RunCommand
	}
	return ex(ctx, stdin, "ovs-ofctl", append([]string{"-O", "OpenFlow15"}, args...)...)
}

func (o *OpenFlow) target(bridge string) string {
	return "unix:" + filepath.Join(o.RunDir, bridge+".mgmt")
}

// Bundle is a list of flow mods applied atomically: all or none.
type Bundle struct{ lines []string }

// Add adds (or replaces: same table, priority and match) flows.
func (b *Bundle) Add(fs ...flows.Flow) {
	for _, f := range fs {
		b.lines = append(b.lines, "add "+f.String())
	}
}

// DeleteStrict deletes the one flow with f's table, priority and match.
func (b *Bundle) DeleteStrict(f flows.Flow) { b.DeleteStrictKey(f.Key()) }

// DeleteStrictKey is DeleteStrict by the flow's Key.
func (b *Bundle) DeleteStrictKey(key string) {
	b.lines = append(b.lines, "delete_strict "+strings.TrimSuffix(key, ","))
}

// DeleteCookie deletes every flow whose cookie matches sel, as made by
// flows.Cookie.Match or flows.PodCookie.
func (b *Bundle) DeleteCookie(sel string) { b.lines = append(b.lines, "delete "+sel) }

// Len is the number of flow mods in the bundle.
func (b *Bundle) Len() int { return len(b.lines) }

// Apply commits the bundle to the bridge in one OpenFlow bundle
// transaction: natively if every line is one native.go speaks, else with
// ovs-ofctl.
func (o *OpenFlow) Apply(ctx context.Context, bridge string, b *Bundle) error {
	if len(b.lines) == 0 {
		return nil
	}
	if mods, ok := encodeAll(b.lines); ok {
		if err := o.applyNative(ctx, bridge, mods); err != nil {
			return fmt.Errorf("apply %d flow mods to %s: %w", len(b.lines), bridge, err)
		}
		return nil
	}
	in := []byte(strings.Join(b.lines, "\n") + "\n")
	if _, err := o.run(ctx, in, "--bundle", "add-flows", o.target(bridge), "-"); err != nil {
		return fmt.Errorf("apply %d flow mods to %s: %w", len(b.lines), bridge, err)
	}
	return nil
}

// encodeAll encodes every line natively, or says it cannot.
func encodeAll(lines []string) ([][]byte, bool) {
	mods := make([][]byte, 0, len(lines))
	for _, l := range lines {
		m, ok := encodeLine(l)
		if !ok {
			return nil, false
		}
		mods = append(mods, m)
	}
	return mods, true
}

// FlowStats is an installed flow with its counters.
type FlowStats struct {
	flows.Flow
	Packets uint64
	Bytes   uint64
}

// Dump lists the bridge's flows, optionally only those matching a cookie
// selector ("" for all).
func (o *OpenFlow) Dump(ctx context.Context, bridge, cookieSel string) ([]FlowStats, error) {
	args := []string{"dump-flows", o.target(bridge)}
	if cookieSel != "" {
		args = append(args, cookieSel)
	}
	out, err := o.run(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("dump flows of %s: %w", bridge, err)
	}
	return ParseDump(string(out))
}

// ParseDump reads ovs-ofctl dump-flows output.
func ParseDump(out string) ([]FlowStats, error) {
	var fs []FlowStats
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, " actions=") {
			continue
		}
		f, err := flows.Parse(line)
		if err != nil {
			return nil, err
		}
		fs = append(fs, FlowStats{Flow: f, Packets: dumpCounter(line, "n_packets="), Bytes: dumpCounter(line, "n_bytes=")})
	}
	return fs, nil
}

func dumpCounter(line, key string) uint64 {
	i := strings.Index(line, key)
	if i < 0 {
		return 0
	}
	v := line[i+len(key):]
	if j := strings.IndexAny(v, ", "); j >= 0 {
		v = v[:j]
	}
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

// Diff compares the bridge's flows with want by match and actions, as OVS
// itself parses them (ovs-ofctl diff-flows), so spelling differences do
// not count. It returns the flows that are missing and those that are
// installed but not wanted, in OVS's notation.
func (o *OpenFlow) Diff(ctx context.Context, bridge string, want []flows.Flow) (missing, extra []string, err error) {
	f, err := os.CreateTemp("", "cane-desired-*.flows")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	for _, fl := range want {
		fmt.Fprintln(f, fl.String())
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	out, err := o.run(ctx, nil, "diff-flows", o.target(bridge), f.Name())
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 2) { // 2: they differ
		return nil, nil, fmt.Errorf("compare flows of %s: %w", bridge, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "+"):
			missing = append(missing, line[1:])
		case strings.HasPrefix(line, "-"):
			extra = append(extra, line[1:])
		}
	}
	return missing, extra, nil
}
