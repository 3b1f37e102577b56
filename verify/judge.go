package verify

import (
	"fmt"
	"net/netip"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// Kind is what a violation is.
type Kind string

const (
	Isolation  Kind = "isolation"  // a domain reaches a domain its peerings do not allow
	Spoof      Kind = "spoof"      // a pod's packet with a MAC, address or tag not its own gets through
	Admission  Kind = "admission"  // the tunnel or uplink admits a packet it must not (unknown VTEP, VNI or tag)
	Leak       Kind = "leak"       // a packet leaves for the underlay to no node, or untagged or with no domain's tag
	Loop       Kind = "loop"       // a path comes back to where it was, or nests deeper than OVS follows
	BlackHole  Kind = "black-hole" // a class matches no flow of a table, or is sent to a port the node lacks
	Unmodelled Kind = "unmodelled" // a class reaches a flow the verifier cannot interpret
)

// finding is one thing wrong with one class; extra narrows the class to
// the packets it concerns.
type finding struct {
	kind     Kind
	from     string // the source domain (own contexts)
	to       string // the destination, as reports name it
	toDomain string
	toKind   PortKind
	emit     bool // about a packet sent to port (suppressed if port is the class's in_port)
	port     uint32
	extra    term
	detail   string
}

// judge is what is wrong with a leaf of a class of ctx.
func (j *judge) leaf(ctx *context, s *state, l leaf) []finding {
	switch l.kind {
	case leafEmit:
		port := l.port
		if l.inPort {
			v, ok := j.inPort(s)
			if !ok {
				return nil
			}
			port = v
		}
		fs := j.emit(ctx, s, port)
		for i := range fs {
			fs[i].emit, fs[i].port = !l.inPort, port
		}
		return fs
	case leafMiss:
		why := l.why
		if why == "" {
			why = fmt.Sprintf("no flow of table %s matches", tableName(l.table))
		}
		return []finding{j.plain(BlackHole, why)}
	case leafNoTable:
		return []finding{j.plain(BlackHole, fmt.Sprintf("the pipeline goes on in table %s, which has no flows", tableName(l.table)))}
	case leafLoop:
		return []finding{j.plain(Loop, fmt.Sprintf("table %s: %s", tableName(l.table), l.why))}
	case leafUnmodelled:
		return []finding{j.plain(Unmodelled, fmt.Sprintf("%s: %s", l.why, l.e.flow.String()))}
	}
	return nil
}

func (j *judge) plain(k Kind, detail string) finding {
	return finding{kind: k, detail: detail, extra: j.p.universe()}
}

func (p *pipeline) universe() term { return term{c: newCube(p.l.wv)} }

func tableName(t uint8) string { return fmt.Sprintf("%d %s", t, flows.Table(t)) }

// inPort is the class's in_port, if fixed (every source fixes it).
func (j *judge) inPort(s *state) (uint32, bool) {
	sp := j.p.l.span(of.FieldInPort)
	v, ok := s.value(sp.off, sp.width)
	return uint32(v), ok
}

// judgeEmit judges a packet of the class sent to port.
func (j *judge) emit(ctx *context, s *state, port uint32) []finding {
	p := j.in.ports[port]
	if p == nil {
		return []finding{j.plain(BlackHole, fmt.Sprintf("sent to ofport %d, which the node does not have", port))}
	}
	to := j.in.describe[port]
	if ctx.kind == ctxSpoof {
		return []finding{{kind: Spoof, to: to, toKind: p.Kind, extra: j.p.universe(), detail: "a packet with " + ctx.why + " gets through"}}
	}
	if ctx.kind == ctxAdmit {
		return []finding{{kind: Admission, to: to, toKind: p.Kind, extra: j.p.universe(), detail: "a packet with " + ctx.why + " is let in"}}
	}
	iso := func(domain string, extra term, what string) finding {
		return finding{kind: Isolation, from: ctx.domain, to: to + what, toDomain: domain, toKind: p.Kind, extra: extra}
	}
	var fs []finding
	switch p.Kind {
	case PortPod:
		if !j.reaches(ctx, p.Domain) {
			fs = append(fs, iso(p.Domain, j.p.universe(), ""))
		}
	case PortHost:
		if p.Domain != "" && !j.reaches(ctx, p.Domain) {
			fs = append(fs, iso(p.Domain, j.p.universe(), ""))
		}
		fs = append(fs, j.addressFindings(ctx, s, iso)...)
	case PortTunnel, PortUplink:
		if ctx.domain == HostDomain {
			fs = append(fs, iso(HostDomain, j.p.universe(), ": the host domain reaches nothing remote"))
		}
		if p.Kind == PortTunnel {
			fs = append(fs, j.vniFindings(ctx, s, iso)...)
			fs = append(fs, j.vtepFindings(ctx, s, to)...)
		} else {
			fs = append(fs, j.tagFindings(ctx, s, iso, to)...)
		}
		fs = append(fs, j.addressFindings(ctx, s, iso)...)
	}
	return fs
}

func describePort(p *Port) string {
	if p.Kind == PortPod {
		return fmt.Sprintf("pod %s (ofport %d, domain %s)", p.Name, p.OFPort, p.Domain)
	}
	return fmt.Sprintf("%s port %s (ofport %d)", p.Kind, p.Name, p.OFPort)
}

// reaches reports whether the context's packets may reach domain d's.
func (j *judge) reaches(ctx *context, d string) bool {
	return ctx.domain == HostDomain || j.in.allowed(ctx.domain, d)
}

type isoFunc func(domain string, extra term, what string) finding

// where is the part of s meeting every match: its extra constraint, and
// whether any packet of s is in it.
func (j *judge) where(s *state, ms []of.Match, unless ...[]of.Match) (term, bool) {
	t := j.p.universe()
	v, q := s.translate(j.p.put(j.p.newCond(), ms...), nil, j.p.l.wv)
	switch v {
	case never:
		return t, false
	case some:
		t.c = q
	}
	for _, u := range unless {
		uv, uq := s.translate(j.p.put(j.p.newCond(), u...), nil, j.p.l.wv)
		switch uv {
		case always:
			return t, false
		case some:
			t.subs = append(t.subs, uq)
		}
	}
	full, ok := s.t.and(t)
	return t, ok && !full.empty()
}

// vniFindings: the VNI a packet leaves with must be a domain the source may reach.
func (j *judge) vniFindings(ctx *context, s *state, iso isoFunc) []finding {
	if v, ok := s.value(j.vniSpan.off, j.vniSpan.width); ok {
		if d := j.in.byVNI[uint32(v)]; d != nil && uint64(d.VNI) == v && d.VLAN == 0 && j.reaches(ctx, d.Name) {
			return nil
		}
	}
	var fs []finding
	var known [][]of.Match
	for _, d := range j.in.in.Domains {
		m := []of.Match{of.TunID(uint64(d.VNI))}
		known = append(known, m)
		if j.reaches(ctx, d.Name) && d.VLAN == 0 {
			continue
		}
		extra, ok := j.where(s, m)
		switch {
		case !ok:
		case d.VLAN != 0:
			// No node admits a VLAN domain from the tunnel: the packet is
			// lost on the way (a peering of a VLAN and an overlay domain
			// across nodes, which the pipeline does not support).
			f := j.plain(BlackHole, fmt.Sprintf("%s's packets leave through the tunnel with VNI %d, %s's, a VLAN domain's: no node admits them", ctx.domain, d.VNI, d.Name))
			f.extra, f.toKind = extra, PortTunnel
			fs = append(fs, f)
		default:
			fs = append(fs, iso(d.Name, extra, fmt.Sprintf(", VNI %d", d.VNI)))
		}
	}
	if extra, ok := j.where(s, nil, known...); ok {
		fs = append(fs, iso("no domain", extra, ", a VNI of no domain"))
	}
	return fs
}

// vtepFindings: the tunnel must lead to a node.
func (j *judge) vtepFindings(ctx *context, s *state, to string) []finding {
	sp := j.p.l.span(of.FieldTunDst)
	if v, ok := s.value(sp.off, sp.width); ok {
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if j.in.vteps[a] != nil {
			return nil
		}
	}
	var nodes [][]of.Match
	for _, rm := range j.in.in.Remotes {
		if rm.VTEP.Is4() {
			nodes = append(nodes, []of.Match{of.TunDst(of.Host(rm.VTEP))})
		}
	}
	if extra, ok := j.where(s, nil, nodes...); ok {
		return []finding{{kind: Leak, from: ctx.domain, to: to + " to an endpoint that is no node's VTEP", toKind: PortTunnel, extra: extra}}
	}
	return nil
}

// tagFindings: the uplink carries only tags of domains the source may reach.
func (j *judge) tagFindings(ctx *context, s *state, iso isoFunc, to string) []finding {
	var fs []finding
	known := [][]of.Match{}
	for _, d := range j.in.in.Domains {
		if d.VLAN == 0 {
			continue
		}
		m := []of.Match{of.DLVLAN(d.VLAN)}
		known = append(known, m)
		if j.reaches(ctx, d.Name) {
			continue
		}
		if extra, ok := j.where(s, m); ok {
			fs = append(fs, iso(d.Name, extra, fmt.Sprintf(", VLAN %d", d.VLAN)))
		}
	}
	if extra, ok := j.where(s, nil, known...); ok {
		fs = append(fs, finding{kind: Leak, from: ctx.domain, to: to + " untagged or with no domain's tag", toKind: PortUplink, extra: extra})
	}
	return fs
}

// addressFindings: what leaves for the node or another node must not be
// addressed to a domain the source may not reach.
func (j *judge) addressFindings(ctx *context, s *state, iso isoFunc) []finding {
	et, etKnown := s.value(j.etSpan.off, j.etSpan.width)
	var fs []finding
	for _, ac := range j.addrConds {
		if j.reaches(ctx, ac.rg.Domain) || (etKnown && et != uint64(ac.etype)) {
			continue
		}
		switch j.dstAgainst(s, ac) {
		case never:
			continue
		case always:
			if etKnown {
				fs = append(fs, iso(ac.rg.Domain, j.p.universe(), fmt.Sprintf(", addressed to %s", ac.rg.Prefix)))
				continue
			}
		}
		if extra, ok := j.where(s, ac.dst, ac.unless...); ok {
			fs = append(fs, iso(ac.rg.Domain, extra, fmt.Sprintf(", addressed to %s", ac.rg.Prefix)))
		}
	}
	return fs
}

// addrCond is one way of addressing a packet into a range: the matches,
// those of the ranges of other domains inside it, and the field.
type addrCond struct {
	rg     Range
	etype  uint16
	field  of.FieldID
	dst    []of.Match
	unless [][]of.Match
	inner  []netip.Prefix
}

// addrConds are every range's ways of being addressed.
func (j *judge) buildAddrConds() []addrCond {
	var out []addrCond
	for _, rg := range j.in.ranges {
		for _, dst := range dstMatches(rg.Prefix) {
			ac := addrCond{rg: rg, etype: uint16(dst[0].Uint()), field: dst[1].Field, dst: dst}
			for _, q := range j.in.inner(rg) {
				ac.unless = append(ac.unless, []of.Match{dst[0], withPrefix(dst[1], q.Prefix)})
				ac.inner = append(ac.inner, q.Prefix)
			}
			out = append(out, ac)
		}
	}
	return out
}

// dstAgainst compares the class's destination prefix (its known leading
// bits) with a range: never (disjoint), always (inside it and clear of its
// inner ranges), or some.
func (j *judge) dstAgainst(s *state, ac addrCond) verdict {
	sp := j.p.l.span(ac.field)
	p := statePrefix(s, sp)
	rp := ac.rg.Prefix
	l := rp.Bits()
	if p.l < l {
		l = p.l
	}
	if p.cut(l) != prefixOf(rp).cut(l) {
		return never
	}
	if p.l < rp.Bits() {
		return some
	}
	for _, q := range ac.inner {
		ql := q.Bits()
		if p.l < ql || p.cut(ql) == prefixOf(q).cut(ql) {
			return some
		}
	}
	return always
}

// prefixOf is an address prefix as the index's prefix.
func prefixOf(p netip.Prefix) prefix {
	b := p.Addr().AsSlice()
	var x prefix
	for i, c := range b {
		if i < 8 {
			x.hi |= uint64(c) << uint(56-8*i)
		} else {
			x.lo |= uint64(c) << uint(56-8*(i-8))
		}
	}
	x.l = p.Bits() // fields are aligned to the top, as readPrefix reads them
	return x
}

// dstMatches are the ways a packet is addressed into p: IPv4 or ARP, IPv6.
func dstMatches(p netip.Prefix) [][]of.Match {
	if p.Addr().Is4() {
		return [][]of.Match{{ipv4, of.IPv4Dst(p)}, {arp, of.ARPTPA(p)}}
	}
	return [][]of.Match{{ipv6, of.IPv6Dst(p)}}
}

func withPrefix(m of.Match, p netip.Prefix) of.Match {
	switch m.Field {
	case of.FieldIPv4Dst:
		return of.IPv4Dst(p)
	case of.FieldARPTPA:
		return of.ARPTPA(p)
	}
	return of.IPv6Dst(p)
}
