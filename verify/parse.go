package verify

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cane-cni/cane/flows/of"
)

// ParseWitness reads a packet in the syntax Witness.String writes (and
// ofproto/trace takes): a protocol name, then name=value fields with exact
// values ("tcp,in_port=10,dl_src=0a:58:c6:13:00:02,nw_dst=198.19.1.2").
// It is the inverse of String for every witness the verifier makes; it
// reads packets, never flows (no masks, no actions).
func ParseWitness(s string) (Witness, error) {
	w := Witness{Protocol: of.ProtoAny}
	var vid, pcp *uint64
	at := -1 // where the VLAN fields were
	for _, tok := range strings.Split(strings.TrimSpace(s), ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		name, val, ok := strings.Cut(tok, "=")
		if !ok {
			p, known := protocolNamed(tok)
			if !known || w.Protocol != of.ProtoAny {
				return Witness{}, fmt.Errorf("witness %q: %q is no protocol (or a second one)", s, tok)
			}
			w.Protocol = p
			continue
		}
		switch name {
		case "dl_vlan", "dl_vlan_pcp":
			x, err := strconv.ParseUint(val, 0, 16)
			if err != nil {
				return Witness{}, fmt.Errorf("witness %q: %s: %w", s, name, err)
			}
			if at < 0 {
				at = len(w.Fields)
			}
			if name == "dl_vlan" {
				vid = &x
			} else {
				pcp = &x
			}
			continue
		}
		m, err := parseField(w.Protocol, name, val)
		if err != nil {
			return Witness{}, fmt.Errorf("witness %q: %w", s, err)
		}
		w.Fields = append(w.Fields, m)
	}
	if vid != nil || pcp != nil {
		var tci uint64 = 0x1000
		if vid != nil {
			tci |= *vid & 0xfff
		}
		if pcp != nil {
			tci |= *pcp << 13
		}
		fs := append(append([]of.Match(nil), w.Fields[:at]...), of.VLANTCI(uint16(tci), 0xffff))
		w.Fields = append(fs, w.Fields[at:]...)
	}
	return w, nil
}

func protocolNamed(name string) (of.Protocol, bool) {
	for p := of.ProtoIP; p <= of.ProtoICMP6; p++ {
		if p.String() == name {
			return p, true
		}
	}
	return of.ProtoAny, false
}

// parseField is one name=value of a packet of protocol p. Names OVS
// shares between fields (tp_src for TCP, UDP and SCTP; icmp_type for
// ICMP and ICMPv6) are resolved by the protocol.
func parseField(p of.Protocol, name, val string) (of.Match, error) {
	if strings.Contains(val, "/") {
		return of.Match{}, fmt.Errorf("%s=%s: a witness has exact values only", name, val)
	}
	var cands []of.FieldID
	for id := of.FieldID(1); int(id) < maxField; id++ {
		if id.Valid() && id.Def().Name == name && id != of.FieldVLANVID {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return of.Match{}, fmt.Errorf("unknown field %q", name)
	}
	id := cands[0]
	if len(cands) > 1 {
		id = byProtocol(p, cands)
	}
	v, err := parseValue(id, val)
	if err != nil {
		return of.Match{}, fmt.Errorf("%s=%s: %w", name, val, err)
	}
	return of.Exact(id, v), nil
}

// byProtocol picks, among fields OVS prints under one name, the one of p.
func byProtocol(p of.Protocol, cands []of.FieldID) of.FieldID {
	want := map[of.Protocol][]of.FieldID{
		of.ProtoUDP: {of.FieldUDPSrc, of.FieldUDPDst}, of.ProtoUDP6: {of.FieldUDPSrc, of.FieldUDPDst},
		of.ProtoSCTP: {of.FieldSCTPSrc, of.FieldSCTPDst}, of.ProtoSCTP6: {of.FieldSCTPSrc, of.FieldSCTPDst},
		of.ProtoICMP6: {of.FieldICMPv6Type, of.FieldICMPv6Code},
	}[p]
	for _, c := range cands {
		for _, w := range want {
			if c == w {
				return c
			}
		}
	}
	return cands[0] // TCP's ports, ICMP's type and code
}

// parseValue reads a field's exact value as OVS prints it.
func parseValue(id of.FieldID, s string) (of.Value, error) {
	d := id.Def()
	switch d.Match {
	case of.TextMAC:
		mac, err := net.ParseMAC(s)
		if err != nil || len(mac) != 6 {
			return of.Value{}, fmt.Errorf("not a MAC")
		}
		return of.Exact(id, macValue(mac)).Value, nil
	case of.TextIPv4, of.TextIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil || (a.Is4() != (d.Bytes == 4)) {
			return of.Value{}, fmt.Errorf("not an IPv%d address", map[bool]int{true: 4, false: 6}[d.Bytes == 4])
		}
		if a.Is4() {
			b := a.As4()
			return valueOf(b[:]), nil
		}
		b := a.As16()
		return valueOf(b[:]), nil
	case of.TextPort:
		if s == "IN_PORT" {
			return of.ExactUint(id, uint64(of.PortInPort)).Value, nil
		}
	}
	x, err := strconv.ParseUint(s, 0, int(d.Bytes)*8)
	if err != nil {
		return of.Value{}, err
	}
	return of.ExactUint(id, x).Value, nil
}

func macValue(mac net.HardwareAddr) of.Value { return valueOf(mac) }

func valueOf(b []byte) of.Value {
	var v of.Value
	copy(v[:], b)
	return v
}
