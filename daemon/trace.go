package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// Trace follows a packet from a local pod to an address through the
// pipeline (ofproto/trace) and says in one line what happens to it.
func (i *inspector) Trace(ctx context.Context, req api.TraceRequest) (api.Trace, error) {
	a, err := i.atts.find(req.From, i.cfg.Node)
	if err != nil {
		return api.Trace{}, err
	}
	src := a.alloc.IP
	if req.SrcIP.IsValid() {
		src = req.SrcIP
	}
	proto, packet, err := i.tracePacket(a, src, req)
	if err != nil {
		return api.Trace{}, err
	}
	tr, err := i.traceResolved(ctx, proto, packet)
	if err != nil {
		return api.Trace{}, err
	}
	out := api.Trace{From: apiPod(a), Packet: ovs.PacketString(proto, packet...), DatapathActions: tr.DatapathActions}
	forward := i.traceSteps(&out, tr, a.alloc.Domain, src, req.To)
	i.traceVerdict(&out, tr, forward, req.To)
	return out, nil
}

// tracePacket is the packet the pod would send: its port, MAC and IP; the
// destination's MAC inside its own pool (the ARP responder gives 0a:58 +
// IP), else its gateway's.
func (i *inspector) tracePacket(a *attachment, src netip.Addr, req api.TraceRequest) (of.Protocol, []of.Match, error) {
	if !req.To.Is4() {
		return 0, nil, fmt.Errorf("destination %q is not an IPv4 address", req.To)
	}
	dmac, err := net.ParseMAC(i.cfg.GatewayMAC)
	if err != nil {
		return 0, nil, fmt.Errorf("gateway MAC %q: %w", i.cfg.GatewayMAC, err)
	}
	if p, ok := i.ipam.Pool(a.alloc.Pool); ok && p.CIDR.Contains(req.To) {
		dmac = podnet.MACFor(req.To)
	}
	packet := []of.Match{of.InPort(uint32(a.ofport)), of.EthSrc(a.mac), of.EthDst(dmac), of.IPv4Src(of.Host(src)), of.IPv4Dst(of.Host(req.To)), of.IPTTL(64)}
	switch req.Proto {
	case "tcp", "":
		return of.ProtoTCP, append(packet, of.TCPSrc(40000), of.TCPDst(req.Port)), nil
	case "udp":
		return of.ProtoUDP, append(packet, of.UDPSrc(40000), of.UDPDst(req.Port)), nil
	case "icmp":
		return of.ProtoICMP, append(packet, of.ICMPType(8), of.ICMPCode(0)), nil
	}
	return 0, nil, fmt.Errorf("protocol %q: tcp, udp or icmp", req.Proto)
}

// traceSteps copies the trace's tables into out, with the first drop's
// verdict, and returns the cookie of the Forward flow it met.
func (i *inspector) traceSteps(out *api.Trace, tr ovs.Trace, srcDomain string, src, dst netip.Addr) flows.Cookie {
	var forward flows.Cookie
	for _, s := range tr.Steps {
		out.Steps = append(out.Steps, api.TraceStep{
			Table: uint8(s.Table), TableName: s.Table.String(), Match: s.Match, Priority: s.Priority,
			Cookie: s.Cookie.String(), Reason: reasonOf(s.Cookie), Actions: s.Actions,
		})
		if s.Table == flows.Forward {
			forward = s.Cookie
		}
		if r := s.Cookie.Reason(); r != flows.ReasonNone && out.DropReason == "" {
			out.DropReason = r.String()
			out.Verdict = dropVerdict(i.views.load(), r, s.Table, srcDomain, src, dst)
		}
	}
	return forward
}

// traceVerdict says where the packet went, unless a drop said already.
func (i *inspector) traceVerdict(out *api.Trace, tr ovs.Trace, forward flows.Cookie, dst netip.Addr) {
	switch {
	case out.DropReason != "":
	case strings.Contains(tr.Raw, neighborMiss):
		out.Verdict = fmt.Sprintf("not delivered: the tunnel to %s has no next hop (no ARP answer on the underlay)", i.owners()(forward))
	case tr.DatapathActions == "drop" || tr.DatapathActions == "":
		last := "the pipeline"
		if n := len(tr.Steps); n > 0 {
			last = tr.Steps[n-1].Table.String()
		}
		out.Verdict = "dropped in " + last + ": no flow matched"
	default:
		out.Delivered = true
		out.Verdict = i.deliveredVerdict(forward, dst)
	}
}

// neighborMiss is how ofproto/trace says the tunnel's next hop has no
// MAC yet; the trace itself sends the ARP request.
const neighborMiss = "neighbor cache miss"

// traceResolved traces the packet, again (up to 5 times, 100 ms apart)
// while the tunnel's next hop is still being resolved: the answer wanted
// is where the packet goes, not that OVS had yet to learn a MAC.
func (i *inspector) traceResolved(ctx context.Context, proto of.Protocol, packet []of.Match) (ovs.Trace, error) {
	for try := 0; ; try++ {
		tr, err := i.pipe.of.Trace(ctx, i.cfg.Bridge, proto, packet...)
		if err != nil || !strings.Contains(tr.Raw, neighborMiss) || try == 5 {
			return tr, err
		}
		select {
		case <-ctx.Done():
			return tr, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func dropVerdict(v *view, r flows.Reason, t flows.Table, srcDomain string, src, dst netip.Addr) string {
	switch r {
	case flows.ReasonIsolation:
		return fmt.Sprintf("dropped by %s: isolation: %s → %s", t, srcDomain, v.domainOf(dst))
	case flows.ReasonSpoof:
		return fmt.Sprintf("dropped by %s: spoof: %s is not the pod's own address", t, src)
	case flows.ReasonNoRoute:
		return fmt.Sprintf("dropped by %s: no-route: no pod or node holds %s", t, dst)
	}
	return fmt.Sprintf("dropped by %s: %s", t, r)
}

func (i *inspector) deliveredVerdict(forward flows.Cookie, dst netip.Addr) string {
	switch forward.Kind() {
	case flows.KindPod:
		return fmt.Sprintf("delivered to pod %s (%s) on this node", i.owners()(forward), dst)
	case flows.KindNode:
		return fmt.Sprintf("sent to %s through the tunnel", i.owners()(forward))
	}
	return "forwarded (" + forward.String() + ")"
}

// domainOf is the domain of the pool holding ip, or "outside every pool".
func (v *view) domainOf(ip netip.Addr) string {
	for _, p := range v.Pools {
		if p.CIDR.Contains(ip) {
			return p.Domain
		}
	}
	return "outside every pool"
}
