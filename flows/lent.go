package flows

import (
	"fmt"
	"net/netip"
)

// LentBlock is a block of a lender's pool lent to another domain for a
// loan: its addresses belong to Domain, whatever their pool says.
type LentBlock struct {
	CIDR   netip.Prefix
	Pool   string // the lender pool it comes from
	Domain string // the borrower
}

// lentFlows seal a lent block to its borrower: the borrower (and domains
// peered with it) may reach and resolve its addresses, the lender's pods
// may not — though they share a subnet — and the borrower's pods in it
// resolve the pool's gateway. All outrank the pool's own flows.
func lentFlows(n Node, lb LentBlock) []Flow {
	var borrower Domain
	for _, d := range n.Domains {
		if d.Name == lb.Domain {
			borrower = d
		}
	}
	var pool Pool
	for _, p := range n.Pools {
		if p.Name == lb.Pool {
			pool = p
		}
	}
	if borrower.VNI == 0 || !pool.CIDR.IsValid() || borrower.VLAN != 0 {
		return nil // unknown borrower or pool, or a VLAN domain: no lending
	}
	block := Pool{Name: lb.Pool, CIDR: lb.CIDR}
	fs := []Flow{
		drop(DomainPolicy, 240, ReasonIsolation, fmt.Sprintf("ip,nw_dst=%s", lb.CIDR)),
		drop(ARPResponder, 140, ReasonIsolation, fmt.Sprintf("arp,arp_tpa=%s,arp_op=1", lb.CIDR)),
		withPriority(arpResponderPool(borrower.VNI, block), 150),
		arpResponderGateway(borrower.VNI, pool, n),
	}
	for _, d := range n.Domains {
		if d.Name == borrower.Name || peered(n.Domains, d.Name, borrower.Name) {
			fs = append(fs, withPriority(domainPolicyAllow(d.VNI, block), 250))
		}
	}
	if n.Host {
		fs = append(fs, hostLent(n, borrower, block)...)
	}
	return fs
}

func withPriority(f Flow, p uint16) Flow {
	f.Priority = p
	return f
}
