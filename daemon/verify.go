package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/nodenet"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/verify"
)

// Verify proves isolation over the flows the bridge has installed (a
// native dump, not the desired set), with the node's sources as caned
// knows them: its pods' attachments, its tunnel, uplink and host ports,
// and the view's domains, remote nodes, pools and lent blocks. Read-only.
//
// The dump and caned's state are read without stopping CNI or syncs, so a
// pod or node that comes or goes in between could be taken for a flow of
// no port: the input is read before and after the dump, and the dump
// retried (three times) until they agree. The verification is bounded
// (verifyLimits, and ctx's deadline): past that, it is not proven and
// says which budget it ran out of.
func (i *inspector) Verify(ctx context.Context) (api.Verify, error) {
	for try := 0; ; try++ {
		in := i.verifyInput()
		installed, err := i.pipe.of.Dump(ctx, i.cfg.Bridge, of.Selector{})
		if err != nil {
			return api.Verify{}, err
		}
		if try == 2 || inputSig(in) == inputSig(i.verifyInput()) {
			return i.verifyFlows(installed, in, limitsFor(ctx))
		}
	}
}

// inputSig stands for what of an input changes with pods and nodes.
func inputSig(in verify.Input) string {
	s := fmt.Sprint(len(in.Remotes), len(in.Addresses), len(in.Domains))
	for _, p := range in.Ports {
		s += fmt.Sprintf("|%d %s %s", p.OFPort, p.Domain, p.IPs)
	}
	return s
}

// verifyLimits bound a verification in caned: a node of 200 pods and
// 10,000 remote nodes takes about a second and 130 MiB of heap (garbage
// included); past these, the report says "not proven: budget exceeded"
// and caned goes on, well inside its 256 MiB (deploy/caned.yaml).
var verifyLimits = verify.Limits{Time: 10 * time.Second, Heap: 160 << 20}

// limitsFor is verifyLimits, with less time if ctx ends sooner.
func limitsFor(ctx context.Context) verify.Limits {
	lim := verifyLimits
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < lim.Time {
			lim.Time = max(left, time.Millisecond)
		}
	}
	return lim
}

// verifyFlows verifies a dump of the bridge, within lim.
func (i *inspector) verifyFlows(installed []ovs.FlowStats, in verify.Input, lim verify.Limits) (api.Verify, error) {
	fs := make([]of.Flow, len(installed))
	for k, f := range installed {
		fs[k] = f.Flow
	}
	start := time.Now()
	rep, err := verify.VerifyWithin(fs, in, lim)
	if err != nil {
		return api.Verify{}, err
	}
	out := api.Verify{Node: i.cfg.Node, Bridge: i.cfg.Bridge, Proven: rep.Proven(), Summary: rep.Summary(), Sources: rep.Sources, Classes: rep.Classes,
		Flows: rep.Flows, Millis: time.Since(start).Milliseconds(), Budget: rep.Budget, Violations: []api.Violation{}, Notes: rep.Notes}
	for _, v := range rep.Violations {
		out.Violations = append(out.Violations, apiViolation(v))
	}
	return out, nil
}

// verifyInput is what the verifier needs besides the flows: the node's
// desired state (attachments and view), with the pods named.
func (i *inspector) verifyInput() verify.Input {
	in := verify.FromNode(i.want.all())
	names := i.atts.podNames()
	for k := range in.Ports {
		if p := &in.Ports[k]; p.Kind == verify.PortPod && names[p.OFPort] != "" {
			p.Name = names[p.OFPort]
		}
	}
	vni := map[string]uint32{}
	for _, d := range in.Domains {
		vni[d.Name] = d.VNI
	}
	for k := range in.Ports {
		switch p := &in.Ports[k]; {
		case p.OFPort == flows.TunnelOFPort:
			p.Name = tunnelPort
		case p.OFPort == flows.UplinkOFPort:
			p.Name = uplinkPort
		case p.Kind == verify.PortHost:
			p.Name = nodenet.HostPortName(vni[p.Domain])
		}
	}
	in.VTEP = i.views.load().VTEP
	return in
}

func apiViolation(v verify.Violation) api.Violation {
	out := api.Violation{Kind: string(v.Kind), Source: v.Source, Sources: v.Sources, From: v.From, To: v.To, ToDomain: v.ToDomain,
		Detail: v.Detail, Classes: v.Classes, Witness: v.Witness.String(), CTNext: v.Witness.CTNext, Line: v.String()}
	for _, h := range v.Path {
		hop := api.Hop{Table: h.Table, TableName: h.TableName, Priority: h.Priority, Flow: h.Flow, Clause: h.Clause, Conntrack: h.Conntrack}
		if h.Conntrack == "" {
			hop.Cookie = flows.Cookie(h.Cookie).String()
		}
		out.Path = append(out.Path, hop)
	}
	return out
}

// checkIsolation is xray's line.
func (i *inspector) checkIsolation(ctx context.Context) ([]string, string) {
	return isolationCheck(i.Verify(ctx))
}

// isolationCheck is xray's isolation line for a verification: its
// problems (the summary, which names an exceeded budget, then each
// violation), or what it proved.
func isolationCheck(v api.Verify, err error) ([]string, string) {
	if err != nil {
		return []string{err.Error()}, ""
	}
	if v.Proven {
		return nil, fmt.Sprintf("%s (%d ms)", v.Summary, v.Millis)
	}
	p := []string{v.Summary}
	for _, x := range v.Violations {
		p = append(p, x.Line)
	}
	return p, ""
}

// TraceWitness traces a whole packet (a verify witness) through the
// pipeline and says in one line what happens to it.
func (i *inspector) TraceWitness(ctx context.Context, req api.TraceRequest) (api.Trace, error) {
	w, err := verify.ParseWitness(req.Witness)
	if err != nil {
		return api.Trace{}, err
	}
	tr, err := i.traceResolved(ctx, w.Protocol, w.Fields)
	if err != nil {
		return api.Trace{}, err
	}
	out := api.Trace{Packet: w.String(), DatapathActions: tr.DatapathActions}
	var domain string
	src, dst := witnessAddrs(w)
	if a := i.atts.byOFPort(witnessPort(w)); a != nil {
		out.From, domain = apiPod(a), a.alloc.Domain
	}
	forward := i.traceSteps(&out, tr, domain, src, dst)
	i.traceVerdict(&out, tr, forward, dst)
	return out, nil
}

func witnessPort(w verify.Witness) uint32 {
	for _, m := range w.Fields {
		if m.Field == of.FieldInPort {
			return uint32(m.Uint())
		}
	}
	return 0
}

// witnessAddrs are the packet's IPv4 (or ARP) source and destination.
func witnessAddrs(w verify.Witness) (src, dst netip.Addr) {
	for _, m := range w.Fields {
		p, _ := m.Prefix()
		switch m.Field {
		case of.FieldIPv4Src, of.FieldARPSPA, of.FieldIPv6Src:
			src = p.Addr()
		case of.FieldIPv4Dst, of.FieldARPTPA, of.FieldIPv6Dst:
			dst = p.Addr()
		}
	}
	return src, dst
}

// byOFPort is the attachment on ofport, or nil.
func (s *attachmentStore) byOFPort(ofport uint32) *attachment {
	for _, a := range s.list() {
		if uint32(a.ofport) == ofport {
			return a
		}
	}
	return nil
}
