package ovs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/cane-cni/cane/flows/of"
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

// OpenFlow programs a vswitchd's bridges over each bridge's management
// socket (BRIDGE.mgmt in RunDir), natively in OpenFlow 1.5: bundles of
// typed flow mods, dumps, comparisons. No ovs-ofctl process runs on any of
// these paths. ofproto/trace and fdb/stats-show are ovs-appctl commands
// (Exec), the trace through go-openvswitch's client.
type OpenFlow struct {
	RunDir string   // where vswitchd puts BRIDGE.mgmt and its control socket
	Exec   ExecFunc // runs ovs-appctl; nil means RunCommand
}

// Bundle is a list of typed flow mods applied atomically: all or none, in
// order. Not safe for concurrent use.
type Bundle struct{ ops []op }

// op is one flow mod of a bundle: exactly one of its fields is set.
type op struct {
	add    *of.Flow
	strict *of.Key
	del    *of.Selector
}

// Add adds flows, or replaces the installed flow with the same Key.
func (b *Bundle) Add(fs ...of.Flow) {
	for i := range fs {
		b.ops = append(b.ops, op{add: &fs[i]})
	}
}

// DeleteStrict deletes the one flow with f's Key (table, priority, match).
func (b *Bundle) DeleteStrict(f of.Flow) { b.DeleteStrictKey(f.Key()) }

// DeleteStrictKey deletes the one flow with key k.
func (b *Bundle) DeleteStrictKey(k of.Key) { b.ops = append(b.ops, op{strict: &k}) }

// Delete deletes every flow sel selects (by cookie bits, and table if
// sel names one).
func (b *Bundle) Delete(sel of.Selector) { b.ops = append(b.ops, op{del: &sel}) }

// DeleteCookie deletes every flow, in any table, whose cookie bits under
// mask are cookie's.
func (b *Bundle) DeleteCookie(cookie, mask uint64) { b.Delete(of.CookieSelector(cookie, mask)) }

// Len is the number of flow mods in the bundle.
func (b *Bundle) Len() int { return len(b.ops) }

// encode is the bundle's flow mods as OpenFlow 1.5 messages.
func (b *Bundle) encode() ([][]byte, error) {
	mods := make([][]byte, 0, len(b.ops))
	for _, o := range b.ops {
		switch {
		case o.add != nil:
			m, err := of.AddFlow(*o.add)
			if err != nil {
				return nil, err
			}
			mods = append(mods, m)
		case o.strict != nil:
			mods = append(mods, of.DeleteStrict(*o.strict))
		default:
			mods = append(mods, of.DeleteFlows(*o.del))
		}
	}
	return mods, nil
}

// Apply commits the bundle to the bridge in one OpenFlow 1.5 bundle
// transaction (native.go): all of it, or — if the switch refuses any flow
// mod — none. An empty bundle is a no-op.
func (o *OpenFlow) Apply(ctx context.Context, bridge string, b *Bundle) error {
	if b.Len() == 0 {
		return nil
	}
	mods, err := b.encode()
	if err != nil {
		return fmt.Errorf("apply %d flow mods to %s: %w", b.Len(), bridge, err)
	}
	if err := o.applyNative(ctx, bridge, mods); err != nil {
		return fmt.Errorf("apply %d flow mods to %s: %w", b.Len(), bridge, err)
	}
	return nil
}

// FlowStats is an installed flow with its counters.
type FlowStats = of.FlowStats

// Dump lists the bridge's flows that sel selects (the zero Selector: all),
// with their counters. The switch does the selecting.
func (o *OpenFlow) Dump(ctx context.Context, bridge string, sel of.Selector) ([]FlowStats, error) {
	fs, err := o.dumpNative(ctx, bridge, sel)
	if err != nil {
		return nil, fmt.Errorf("dump flows of %s: %w", bridge, err)
	}
	return fs, nil
}

// Diff compares the bridge's flows with want, as typed values: missing
// are the wanted flows not installed as they are (absent, or with another
// cookie or actions), extra the installed flows not wanted as they are.
// A flow installed differently is in both. String() of each is for humans.
func (o *OpenFlow) Diff(ctx context.Context, bridge string, want []of.Flow) (missing, extra []of.Flow, err error) {
	installed, err := o.Dump(ctx, bridge, of.Selector{})
	if err != nil {
		return nil, nil, fmt.Errorf("compare flows of %s: %w", bridge, err)
	}
	have := make([]of.Flow, len(installed))
	for i, f := range installed {
		have[i] = f.Flow
	}
	missing, extra = DiffFlows(want, have)
	return missing, extra, nil
}

// DiffFlows is Diff of two flow sets: what want has that have lacks, and
// what have has that want lacks, by key and then whole flow.
func DiffFlows(want, have []of.Flow) (missing, extra []of.Flow) {
	byKey := make(map[of.Key]of.Flow, len(have))
	for _, f := range have {
		byKey[f.Key()] = f
	}
	wanted := make(map[of.Key]bool, len(want))
	for _, w := range want {
		k := w.Key()
		wanted[k] = true
		h, ok := byKey[k]
		switch {
		case !ok:
			missing = append(missing, w)
		case !h.Equal(w):
			missing, extra = append(missing, w), append(extra, h)
		}
	}
	for _, h := range have {
		if !wanted[h.Key()] {
			extra = append(extra, h)
		}
	}
	return missing, extra
}
