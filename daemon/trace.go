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
func (d *Daemon) Trace(ctx context.Context, req api.TraceRequest) (api.Trace, error) {
	a, err := d.findPod(req.From)
	if err != nil {
		return api.Trace{}, err
	}
	if !req.To.Is4() {
		return api.Trace{}, fmt.Errorf("destination %q is not an IPv4 address", req.To)
	}
	v := d.view.Load()
	src := a.alloc.IP
	if req.SrcIP.IsValid() {
		src = req.SrcIP
	}
	// The pod sends to the destination's MAC inside its own pool (the
	// ARP responder gives 0a:58+IP), else to its gateway.
	dstMAC := d.cfg.GatewayMAC
	if p, ok := d.ipam.Pool(a.alloc.Pool); ok && p.CIDR.Contains(req.To) {
		dstMAC = podnet.MACFor(req.To).String()
	}
	dmac, err := net.ParseMAC(dstMAC)
	if err != nil {
		return api.Trace{}, fmt.Errorf("destination MAC %q: %w", dstMAC, err)
	}
	packet := []of.Match{of.InPort(uint32(a.ofport)), of.EthSrc(a.mac), of.EthDst(dmac), of.IPv4Src(of.Host(src)), of.IPv4Dst(of.Host(req.To)), of.IPTTL(64)}
	var proto of.Protocol
	switch req.Proto {
	case "tcp", "":
		proto, packet = of.ProtoTCP, append(packet, of.TCPSrc(40000), of.TCPDst(uint16(req.Port)))
	case "udp":
		proto, packet = of.ProtoUDP, append(packet, of.UDPSrc(40000), of.UDPDst(uint16(req.Port)))
	case "icmp":
		proto, packet = of.ProtoICMP, append(packet, of.ICMPType(8), of.ICMPCode(0))
	default:
		return api.Trace{}, fmt.Errorf("protocol %q: tcp, udp or icmp", req.Proto)
	}
	tr, err := d.traceResolved(ctx, proto, packet)
	if err != nil {
		return api.Trace{}, err
	}
	out := api.Trace{From: d.apiPod(a), Packet: ovs.PacketString(proto, packet...), DatapathActions: tr.DatapathActions}
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
			out.Verdict = d.dropVerdict(v, r, s.Table, a.alloc.Domain, src, req.To)
		}
	}
	switch {
	case out.DropReason != "":
	case strings.Contains(tr.Raw, neighborMiss):
		out.Verdict = fmt.Sprintf("not delivered: the tunnel to %s has no next hop (no ARP answer on the underlay)", d.owner(forward))
	case tr.DatapathActions == "drop" || tr.DatapathActions == "":
		last := "the pipeline"
		if n := len(tr.Steps); n > 0 {
			last = tr.Steps[n-1].Table.String()
		}
		out.Verdict = "dropped in " + last + ": no flow matched"
	default:
		out.Delivered = true
		out.Verdict = d.deliveredVerdict(forward, req.To)
	}
	return out, nil
}

// neighborMiss is how ofproto/trace says the tunnel's next hop has no
// MAC yet; the trace itself sends the ARP request.
const neighborMiss = "neighbor cache miss"

// traceResolved traces the packet, again (up to 5 times, 100 ms apart)
// while the tunnel's next hop is still being resolved: the answer wanted
// is where the packet goes, not that OVS had yet to learn a MAC.
func (d *Daemon) traceResolved(ctx context.Context, proto of.Protocol, packet []of.Match) (ovs.Trace, error) {
	for i := 0; ; i++ {
		tr, err := d.of.Trace(ctx, d.cfg.Bridge, proto, packet...)
		if err != nil || !strings.Contains(tr.Raw, neighborMiss) || i == 5 {
			return tr, err
		}
		select {
		case <-ctx.Done():
			return tr, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *Daemon) dropVerdict(v *view, r flows.Reason, t flows.Table, srcDomain string, src, dst netip.Addr) string {
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

func (d *Daemon) deliveredVerdict(forward flows.Cookie, dst netip.Addr) string {
	switch forward.Kind() {
	case flows.KindPod:
		return fmt.Sprintf("delivered to pod %s (%s) on this node", d.owner(forward), dst)
	case flows.KindNode:
		return fmt.Sprintf("sent to %s through the tunnel", d.owner(forward))
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

// apiPod is an attachment as the API shows it.
func (d *Daemon) apiPod(a *attachment) api.Pod {
	return api.Pod{
		ContainerID: a.alloc.ContainerID, IfName: a.alloc.IfName, PodNamespace: a.alloc.PodNamespace, PodName: a.alloc.PodName,
		Pool: a.alloc.Pool, Domain: a.alloc.Domain, IP: a.alloc.IP, MAC: a.mac.String(), Port: a.port, OFPort: a.ofport, Netns: a.netns,
	}
}
