package ovs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	goovs "github.com/digitalocean/go-openvswitch/ovs"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// TraceStep is one table a traced packet went through.
type TraceStep struct {
	Table    flows.Table
	Match    string // of the flow that matched; "" if none did
	Priority uint16
	Cookie   flows.Cookie
	Actions  []string
}

// Trace is what ofproto/trace says of one packet.
type Trace struct {
	Steps           []TraceStep
	DatapathActions string // "drop", or datapath ports and actions
	Raw             string
}

// Trace runs ofproto/trace through the bridge's pipeline for a packet of
// protocol proto with the given fields, through go-openvswitch's client
// (its App.ProtoTrace takes typed matches; flows/of's are ovs.Match), and
// reads the per-table steps with ParseTrace.
func (o *OpenFlow) Trace(ctx context.Context, bridge string, proto of.Protocol, packet ...of.Match) (Trace, error) {
	ms := make([]goovs.Match, len(packet))
	for i, m := range packet {
		ms[i] = packetMatch{m}
	}
	pt, err := o.client(ctx).App.ProtoTrace(bridge, goovs.Protocol(proto.String()), ms)
	if err != nil {
		return Trace{}, fmt.Errorf("trace %s: %w", PacketString(proto, packet...), err)
	}
	return ParseTrace(string(pt.RawOutput))
}

// PacketString is a traced packet as ofproto/trace is given it.
func PacketString(proto of.Protocol, packet ...of.Match) string {
	parts := []string{}
	if proto != of.ProtoAny {
		parts = append(parts, proto.String())
	}
	for _, m := range packet {
		parts = append(parts, m.PacketText())
	}
	return strings.Join(parts, ",")
}

// packetMatch renders a match the way ofproto/trace parses it.
type packetMatch struct{ of.Match }

func (p packetMatch) MarshalText() ([]byte, error) { return []byte(p.PacketText()), nil }

// client is go-openvswitch's client, running ovs-appctl through Exec
// against this vswitchd's control socket (its ExecFunc seam adds -t).
func (o *OpenFlow) client(ctx context.Context) *goovs.Client {
	return goovs.New(goovs.Exec(func(cmd string, args ...string) ([]byte, error) {
		if cmd == "ovs-appctl" {
			args = append([]string{"-t", o.vswitchdCtl()}, args...)
		}
		return o.exec()(ctx, nil, cmd, args...)
	}))
}

func (o *OpenFlow) exec() ExecFunc {
	if o.Exec == nil {
		return RunCommand
	}
	return o.Exec
}

// FDBStats is `fdb/stats-show BRIDGE`: the bridge's MAC-table statistics
// (go-openvswitch has no call for it: a plain ovs-appctl).
func (o *OpenFlow) FDBStats(ctx context.Context, bridge string) (string, error) {
	return o.appctl(ctx, "fdb/stats-show", bridge)
}

// appctl runs an ovs-appctl command against ovs-vswitchd.
func (o *OpenFlow) appctl(ctx context.Context, args ...string) (string, error) {
	out, err := o.exec()(ctx, nil, "ovs-appctl", append([]string{"-t", o.vswitchdCtl()}, args...)...)
	return string(out), err
}

// vswitchdCtl is ovs-vswitchd's control socket in RunDir: the name given
// with --unixctl, else OVS's default ovs-vswitchd.PID.ctl.
func (o *OpenFlow) vswitchdCtl() string {
	plain := filepath.Join(o.RunDir, "ovs-vswitchd.ctl")
	if _, err := os.Stat(plain); err == nil {
		return plain
	}
	pid, _ := os.ReadFile(filepath.Join(o.RunDir, "ovs-vswitchd.pid"))
	return filepath.Join(o.RunDir, "ovs-vswitchd."+strings.TrimSpace(string(pid))+".ctl")
}

// " 0. in_port=10, priority 200, cookie 0x102000000000a" or "30. No match."
var traceStep = regexp.MustCompile(`^\s{0,2}(\d+)\. (.*?)(?:, priority (\d+))?(?:, cookie (0x[0-9a-f]+))?$`)

// ParseTrace reads ofproto/trace output: the tables of the first bridge,
// in order, with their actions, and the datapath actions.
func ParseTrace(out string) (Trace, error) {
	t := Trace{Raw: out}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Datapath actions: "); ok {
			t.DatapathActions = strings.TrimSpace(v)
			continue
		}
		if strings.HasPrefix(line, "Final flow:") {
			continue
		}
		if m := traceStep.FindStringSubmatch(line); m != nil {
			table, _ := strconv.ParseUint(m[1], 10, 8)
			s := TraceStep{Table: flows.Table(table)}
			if m[2] != "No match." {
				s.Match = m[2]
				if m[2] == "priority 0" { // a flow with no match fields
					s.Match = ""
				}
			}
			p, _ := strconv.ParseUint(m[3], 10, 16)
			c, _ := strconv.ParseUint(m[4], 0, 64)
			s.Priority, s.Cookie = uint16(p), flows.Cookie(c)
			t.Steps = append(t.Steps, s)
			continue
		}
		if a := strings.TrimSpace(line); a != "" && len(t.Steps) > 0 && strings.HasPrefix(line, "    ") && t.DatapathActions == "" {
			last := &t.Steps[len(t.Steps)-1]
			last.Actions = append(last.Actions, a)
		}
	}
	if t.DatapathActions == "" {
		return t, fmt.Errorf("ofproto/trace output has no datapath actions: %.300q", out)
	}
	return t, nil
}
