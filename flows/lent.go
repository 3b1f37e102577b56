package flows

import (
	"net/netip"

	"github.com/cane-cni/cane/flows/of"
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
	fs := []Flow{
		domainPolicyLentSeal(lb.CIDR),
		arpResponderLentSeal(lb.CIDR),
		withPriority(arpResponderPool(borrower.VNI, Pool{Name: lb.Pool, CIDR: lb.CIDR}), ARPLentAnswer),
		arpResponderGateway(borrower.VNI, pool, n),
	}
	for _, d := range n.Domains {
		if d.Name == borrower.Name || peered(n.Domains, d.Name, borrower.Name) {
			fs = append(fs, withPriority(domainPolicyAllow(d.VNI, Pool{CIDR: lb.CIDR}), PolicyLentAllow))
		}
	}
	return fs
}

// domainPolicyLentSeal drops traffic into a lent block from everyone the
// lent-block allows did not let through (the lender's pods included).
func domainPolicyLentSeal(block netip.Prefix) Flow {
	return drop(DomainPolicy, PolicyLentSeal, ReasonIsolation).Proto(of.ProtoIP).Match(of.IPv4Dst(block))
}

// arpResponderLentSeal drops ARP requests for a lent block's addresses
// that the borrower's answer did not take: the lender cannot resolve them.
func arpResponderLentSeal(block netip.Prefix) Flow {
	return drop(ARPResponder, ARPLentSeal, ReasonIsolation).Proto(of.ProtoARP).Match(of.ARPTPA(block), of.ARPOp(1))
}

func withPriority(f Flow, p Priority) Flow {
	f.Priority = uint16(p)
	return f
}
