package verify

import (
	"fmt"
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
)

// A context is one source as the verifier follows it: the packets a port
// can send (starts) and how what arrives anywhere is judged — as the
// domain's own (peerings decide), or as foreign packets that must not get
// anywhere (a pod's packet with another MAC or address, a tunnel packet
// from an unknown VTEP): any packet of those that leaves is a violation.
type context struct {
	kind   ctxKind
	source string // how reports name it
	port   *Port
	domain string // ctxOwn: the domain its packets are judged as (HostDomain: the host domain)
	why    string // ctxSpoof, ctxAdmit: what is foreign about its packets
	policy string // contexts with one policy judge alike (memo summaries are shared by it)
	starts []term
}

type ctxKind uint8

const (
	ctxOwn ctxKind = iota + 1
	ctxSpoof
	ctxAdmit
)

func own(source string, p *Port, domain string, starts ...term) *context {
	return &context{kind: ctxOwn, source: source, port: p, domain: domain, policy: "own:" + domain, starts: starts}
}

func foreign(k ctxKind, source string, p *Port, why string, starts ...term) *context {
	return &context{kind: k, source: source, port: p, why: why, policy: fmt.Sprint("foreign", k), starts: starts}
}

// metadata are the fields a packet enters the pipeline with all zero.
var metadata = func() []of.FieldID {
	ids := []of.FieldID{of.FieldPktMark, of.FieldConjID, of.FieldCTState, of.FieldCTZone, of.FieldCTMark, of.FieldCTLabel}
	for i := uint8(0); i < 16; i++ {
		ids = append(ids, of.Reg(i))
	}
	return ids
}()

// contexts are every source of the node.
func (sb *sources) contexts() []*context {
	var out []*context
	for i := range sb.in.in.Ports {
		p := &sb.in.in.Ports[i]
		switch p.Kind {
		case PortPod:
			out = append(out, sb.podContexts(p)...)
		case PortTunnel:
			out = append(out, sb.tunnelContexts(p)...)
		case PortUplink:
			out = append(out, sb.uplinkContexts(p)...)
		case PortHost:
			out = append(out, sb.hostContexts(p)...)
		}
	}
	return out
}

// ingress is a port's packets: in_port, and metadata zero (tunnel
// metadata too, but on the tunnel port).
func (sb *sources) ingress(p *Port) cond {
	c := sb.p.newCond()
	sb.p.put(c, of.InPort(p.OFPort))
	for _, id := range metadata {
		sb.p.zeroCond(c, id)
	}
	if p.Kind != PortTunnel {
		sb.p.zeroCond(c, of.FieldTunID)
		sb.p.zeroCond(c, of.FieldTunSrc)
		sb.p.zeroCond(c, of.FieldTunDst)
		return c
	}
	sb.p.put(c, of.TunIDMasked(0, 0xffffffffff000000)) // a VNI is 24 bits
	if sb.in.in.VTEP.Is4() {
		sb.p.put(c, of.TunDst(of.Host(sb.in.in.VTEP)))
	}
	return c
}

// put adds matches to c (tracked fields only).
func (p *pipeline) put(c cond, ms ...of.Match) cond {
	for _, m := range ms {
		if p.l.tracked(m.Field) {
			p.addMatch(c, m.Field, m.Value, m.Mask)
		}
	}
	return c
}

func (p *pipeline) zeroCond(c cond, id of.FieldID) {
	if p.l.tracked(id) {
		sp := p.l.span(id)
		setRange(c.mask, sp.off, sp.width)
	}
}

// with is a copy of c with ms added.
func (p *pipeline) with(c cond, ms ...of.Match) cond {
	d := p.newCond()
	copy(d.mask, c.mask)
	copy(d.val, c.val)
	return p.put(d, ms...)
}

// minus is the term c less the cubes of each match list.
func (p *pipeline) minus(c cond, subs ...[]of.Match) term {
	t := term{c: p.sharedCube(c)}
	for _, ms := range subs {
		t.subs = append(t.subs, p.sharedCube(p.put(p.newCond(), ms...)))
	}
	return t
}

var (
	untagged = of.VLANTCI(0, 0x1000) // no 802.1Q header (as OVS matches it: vlan_tci=0x0000/0x1000)
	tagged   = of.VLANTCI(0x1000, 0x1000)
	ipv4     = of.EthType(0x0800)
	arp      = of.EthType(0x0806)
	ipv6     = of.EthType(0x86dd)
)

// podContexts: the pod's own packets (its MAC, untagged, with its own
// addresses) and the foreign ones: tagged, another MAC, another address.
func (sb *sources) podContexts(p *Port) []*context {
	name := fmt.Sprintf("pod %s (ofport %d)", p.Name, p.OFPort)
	base := sb.ingress(p)
	mine := sb.p.with(base, untagged, of.EthSrc(p.MAC))
	var owns []term
	var v4, v6, arps [][]of.Match
	for _, a := range p.IPs {
		if a.Is4() {
			owns = append(owns, sb.p.minus(sb.p.with(mine, ipv4, of.IPv4Src(of.Host(a)))), sb.p.minus(sb.p.with(mine, arp, of.ARPSPA(of.Host(a)), of.ARPSHA(p.MAC))))
			v4 = append(v4, []of.Match{of.IPv4Src(of.Host(a))})
			arps = append(arps, []of.Match{of.ARPSPA(of.Host(a)), of.ARPSHA(p.MAC)})
		} else {
			owns = append(owns, sb.p.minus(sb.p.with(mine, ipv6, of.IPv6Src(of.Host(a)))))
			v6 = append(v6, []of.Match{of.IPv6Src(of.Host(a))})
		}
	}
	owns = append(owns, sb.p.minus(mine, []of.Match{ipv4}, []of.Match{arp}, []of.Match{ipv6}))
	return []*context{
		own(name, p, p.Domain, owns...),
		foreign(ctxSpoof, name, p, "an 802.1Q tag", sb.p.minus(sb.p.with(base, tagged))),
		foreign(ctxSpoof, name, p, "another MAC than its own", sb.p.minus(sb.p.with(base, untagged), []of.Match{of.EthSrc(p.MAC)})),
		foreign(ctxSpoof, name, p, "an IPv4 source not its own", sb.p.minus(sb.p.with(mine, ipv4), v4...)),
		foreign(ctxSpoof, name, p, "an ARP sender not its own", sb.p.minus(sb.p.with(mine, arp), arps...)),
		foreign(ctxSpoof, name, p, "an IPv6 source not its own", sb.p.minus(sb.p.with(mine, ipv6), v6...)),
	}
}

// tunnelContexts: each overlay domain's VNI (any inner headers), and the
// packets the tunnel must not admit: from an unknown VTEP, with an unknown
// VNI, and (when the node binds them) with an inner source not the VTEP's.
func (sb *sources) tunnelContexts(p *Port) []*context {
	base := sb.ingress(p)
	var out []*context
	var vnis [][]of.Match
	for _, d := range sb.in.in.Domains {
		if d.VLAN == 0 {
			out = append(out, own(fmt.Sprintf("tunnel (ofport %d), VNI %d", p.OFPort, d.VNI), p, d.Name, sb.p.minus(sb.p.with(base, of.TunID(uint64(d.VNI))))))
			vnis = append(vnis, []of.Match{of.TunID(uint64(d.VNI))})
		}
	}
	src := fmt.Sprintf("tunnel (ofport %d)", p.OFPort)
	unknownVTEP := sb.p.minus(base)
	unknownVTEP.idx = []*subIndex{sb.vtepIndex(nil)}
	out = append(out,
		foreign(ctxAdmit, src, p, "an outer source that is no node's VTEP", unknownVTEP),
		foreign(ctxAdmit, src, p, "a VNI of no overlay domain", sb.p.minus(base, vnis...)))
	if sb.in.in.BindTunnelSource {
		bound := sb.p.minus(sb.p.with(base, ipv4))
		bound.idx = []*subIndex{sb.vtepIndex(func(rm *Remote) [][]of.Match {
			var ms [][]of.Match
			for _, b := range rm.Blocks {
				if b.Addr().Is4() {
					ms = append(ms, []of.Match{of.IPv4Src(b)})
				}
			}
			for _, a := range rm.Addrs {
				if a.Is4() {
					ms = append(ms, []of.Match{of.IPv4Src(of.Host(a))})
				}
			}
			return ms
		})}
		out = append(out, foreign(ctxAdmit, src, p, "an inner source neither in the sending node's blocks nor its own address", bound))
	}
	return out
}

// vtepIndex indexes, by tun_src, one cube per remote VTEP (more: one per
// list of matches extra gives for it).
func (sb *sources) vtepIndex(extra func(*Remote) [][]of.Match) *subIndex {
	var cubes []cube
	for i := range sb.in.in.Remotes {
		rm := &sb.in.in.Remotes[i]
		if !rm.VTEP.Is4() {
			continue
		}
		lists := [][]of.Match{nil}
		if extra != nil {
			lists = extra(rm)
		}
		for _, ms := range lists {
			c := sb.p.put(sb.p.newCond(), append([]of.Match{of.TunSrc(of.Host(rm.VTEP))}, ms...)...)
			cubes = append(cubes, sb.p.sharedCube(c))
		}
	}
	return newSubIndex(sb.p.l.span(of.FieldTunSrc), cubes, sb.p.l.wv)
}

// uplinkContexts: each VLAN domain's tag, and frames with any other tag
// or none.
func (sb *sources) uplinkContexts(p *Port) []*context {
	base := sb.ingress(p)
	var out []*context
	var tags [][]of.Match
	for _, d := range sb.in.in.Domains {
		if d.VLAN != 0 {
			out = append(out, own(fmt.Sprintf("uplink (ofport %d), VLAN %d", p.OFPort, d.VLAN), p, d.Name, sb.p.minus(sb.p.with(base, of.DLVLAN(d.VLAN)))))
			tags = append(tags, []of.Match{of.DLVLAN(d.VLAN)})
		}
	}
	return append(out, foreign(ctxAdmit, fmt.Sprintf("uplink (ofport %d)", p.OFPort), p, "no VLAN domain's tag", sb.p.minus(base, tags...)))
}

// hostContexts: a domain's host port speaks for its domain; the shared
// host port is the host domain, except that what it sends from a pool's
// address it forwards for a pod of that pool's domain (hostPort, Service
// DNAT), and is judged as that domain.
func (sb *sources) hostContexts(p *Port) []*context {
	base := sb.ingress(p)
	name := fmt.Sprintf("host port %s (ofport %d)", p.Name, p.OFPort)
	if p.Domain != "" {
		return []*context{own(name, p, p.Domain, sb.p.minus(base))}
	}
	var out []*context
	var pools [][]of.Match
	for _, rg := range sb.in.ranges {
		src, et := srcMatch(rg.Prefix)
		inner := [][]of.Match{}
		for _, q := range sb.in.inner(rg) {
			m, _ := srcMatch(q.Prefix)
			inner = append(inner, []of.Match{m})
		}
		out = append(out, own(fmt.Sprintf("%s, forwarding from %s", name, rg.Prefix), p, rg.Domain, sb.p.minus(sb.p.with(base, et, src), inner...)))
		pools = append(pools, []of.Match{et, src})
	}
	return append([]*context{own(name, p, HostDomain, sb.p.minus(base, pools...))}, out...)
}

// srcMatch is the source-address match of a prefix and its ethertype.
func srcMatch(p netip.Prefix) (of.Match, of.Match) {
	if p.Addr().Is4() {
		return of.IPv4Src(p), ipv4
	}
	return of.IPv6Src(p), ipv6
}
