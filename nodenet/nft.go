package nodenet

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// tableName is Cane's nftables table (family ip). It is Cane's alone:
// kube-proxy's and portmap's rules live in their own (iptables) tables,
// and a packet must pass every base chain of its hook.
const tableName = "cane"

// applyTable replaces Cane's table with the one s needs, atomically: one
// netlink transaction that adds the table (a no-op if it exists), deletes
// it and adds it again whole.
func applyTable(hostNS ns.NetNS, s State) error {
	c, err := nftables.New(nftables.WithNetNSFd(int(hostNS.Fd())))
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	nodes, err := nodeSet(c, t, s.Nodes)
	if err != nil {
		return err
	}
	pools := s.allPrefixes()
	prerouting(c, t, s, pools)
	input(c, t, s.Guarded)
	forward(c, t)
	postrouting(c, t, nodes, pools)
	return c.Flush()
}

// nodeSet is the set of the cluster's node addresses.
func nodeSet(c *nftables.Conn, t *nftables.Table, nodes []netip.Addr) (*nftables.Set, error) {
	set := &nftables.Set{Table: t, Name: "nodes", KeyType: nftables.TypeIPAddr}
	var elems []nftables.SetElement
	for _, a := range nodes {
		if a.Is4() {
			b := a.As4()
			elems = append(elems, nftables.SetElement{Key: b[:]})
		}
	}
	if err := c.AddSet(set, elems); err != nil {
		return nil, fmt.Errorf("set of node addresses: %w", err)
	}
	return set, nil
}

// prerouting (mangle priority): a pool source address arriving anywhere
// but a host port is a forgery (an underlay host entering a domain), and
// what a domain with egress SNAT sends through the node gets EgressMark.
func prerouting(c *nftables.Conn, t *nftables.Table, s State, pools []netip.Prefix) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: "prerouting", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle})
	for _, p := range pools {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(
			ifnamePrefix(expr.MetaKeyIIFNAME, HostPortPrefix, expr.CmpOpNeq),
			addrIn(ipv4SrcOffset, p),
			counted(expr.VerdictDrop),
		)})
	}
	for _, d := range s.Domains {
		if d.EgressSNAT {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(ifname(expr.MetaKeyIIFNAME, d.Port), setMark(EgressMark))})
		}
	}
}

// input: what arrives on a host port for a guarded port of the node (a
// pod scraping caned's metrics, which name every domain's pods) drops and
// is counted, unless its host port is one the port allows.
func input(c *nftables.Conn, t *nftables.Table, guarded []GuardedPort) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: "input", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	for _, g := range guarded {
		for _, port := range g.Allow {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(ifname(expr.MetaKeyIIFNAME, port), tcpDport(g.Port), verdict(expr.VerdictAccept))})
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(
			ifnamePrefix(expr.MetaKeyIIFNAME, HostPortPrefix, expr.CmpOpEq), tcpDport(g.Port), counted(expr.VerdictDrop))})
	}
}

// tcpDport matches TCP to port.
func tcpDport(port uint16) []expr.Any {
	p := make([]byte, 2)
	binary.BigEndian.PutUint16(p, port)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
	}
}

// forward: the node forwards into the host ports only what it translated
// (a Service's or hostPort's DNAT), replies of connections pods opened,
// and their related ICMP; anything else routed at the pools (an underlay
// host using the node as a router) is dropped and counted.
func forward(c *nftables.Conn, t *nftables.Table) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: "forward", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	toPods := ifnamePrefix(expr.MetaKeyOIFNAME, HostPortPrefix, expr.CmpOpEq)
	accepts := [][]expr.Any{
		ctBits(expr.CtKeySTATUS, ctStatusDNAT),
		ctDirectionReply(),
		ctBits(expr.CtKeySTATE, expr.CtStateBitRELATED),
	}
	for _, a := range accepts {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(toPods, a, verdict(expr.VerdictAccept))})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(toPods, counted(expr.VerdictDrop))})
}

// postrouting (source NAT): what carries EgressMark and goes to neither a
// pool nor a node is masqueraded to the node's address.
func postrouting(c *nftables.Conn, t *nftables.Table, nodes *nftables.Set, pools []netip.Prefix) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: "postrouting", Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(markClear(EgressMark), verdict(expr.VerdictReturn))})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(
		[]expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: ipv4DstOffset, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: nodes.Name, SetID: nodes.ID}},
		verdict(expr.VerdictReturn))})
	for _, p := range pools {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(addrIn(ipv4DstOffset, p), verdict(expr.VerdictReturn))})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Counter{}, &expr.Masq{}}})
}

// Conntrack constants (linux/netfilter/nf_conntrack_common.h).
const (
	ctStatusDNAT = 1 << 5 // IPS_DST_NAT: the destination was translated
	ctDirReply   = 1      // IP_CT_DIR_REPLY
)

// Offsets of the IPv4 header's addresses.
const (
	ipv4SrcOffset = 12
	ipv4DstOffset = 16
)

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ifname matches an interface name exactly (the kernel's names are
// NUL-padded to IFNAMSIZ).
func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b}}
}

// ifnamePrefix matches (or, with CmpOpNeq, excludes) names that start
// with prefix: the comparison covers only the prefix's bytes, as nft's
// "name*" does.
func ifnamePrefix(key expr.MetaKey, prefix string, op expr.CmpOp) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: []byte(prefix)}}
}

// addrIn matches the IPv4 address at offset inside prefix p.
func addrIn(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	net := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// ctBits matches a conntrack key (status, state) with any of bits set.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(bits), Xor: native32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(0)},
	}
}

// ctDirectionReply matches packets of a connection's reply direction.
func ctDirectionReply() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{ctDirReply}},
	}
}

// setMark sets bit in the packet mark, keeping the other bits.
func setMark(bit uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(^bit), Xor: native32(bit)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// markClear matches packets whose mark lacks bit.
func markClear(bit uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(bit), Xor: native32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(0)},
	}
}

func counted(v expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: v}}
}

func verdict(v expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: v}} }

// native32 is a 32-bit value in host byte order: how the kernel holds
// marks, ct status and ct state in registers.
func native32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}
