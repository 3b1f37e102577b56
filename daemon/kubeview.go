package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// ignored is a cluster object left out of the view, and why.
type ignored struct{ Kind, Name, Why string }

func (i ignored) String() string { return fmt.Sprintf("%s %s: %s", i.Kind, i.Name, i.Why) }

// kubeView turns a cluster snapshot into a view for node self. Every
// object is input, checked before it can become a flow or a route; one
// that is invalid, or contradicts an older one (kv lists the oldest
// first), is left out and named, and never breaks the view for the rest:
//   - a Domain needs a VNI and, for a VLAN domain, a VLAN ID no older
//     domain has; a peering counts only when both domains name each other
//     (flows.Base and kernelState apply that);
//   - a Pool needs a valid, unique CIDR of a known domain;
//   - a node is another node as its CaneNode says (its own caned alone may
//     write it); its VTEP must be IPv4, outside every pool and no older
//     CaneNode's; each of its addresses must be outside every pool and no
//     older node's (else that address is left out: pods reach a node's
//     addresses through the tunnel, and the tunnel admits them as that
//     node's sources). This node is as its own Node object says (kv.Self);
//   - a Block must be its pool's size, aligned, inside its pool, named
//     after them, and held by a node that runs Cane (has a VTEP); it may
//     be lent only under a Loan that lends blocks of its pool's domain to
//     its domain on its node, created while the loan was active. A lent
//     block that fails that is sealed from everyone (quarantined): the
//     lender must not reach a borrower's pod in it, and a forged one must
//     not open anything.
func kubeView(kv kube.View, self string, now time.Time) (*view, []ignored) {
	var ign []ignored
	for _, e := range kv.Errors {
		ign = append(ign, ignored{Kind: e.Kind, Name: e.Name, Why: e.Err})
	}
	v := &view{Usable: map[string]bool{}}
	v.Domains, ign = viewDomains(kv.Domains, ign)
	names := map[string]bool{}
	for _, d := range v.Domains {
		names[d.Name] = true
	}
	labels := map[string]map[string]string{}
	for _, n := range kv.Nodes {
		labels[n.Name] = n.Labels
	}
	if s := kv.Self; s != nil {
		v.Labels, v.VTEP, v.MaxPods, v.Addrs = s.Labels, s.VTEP, s.MaxPods, s.Addrs
		labels[self] = s.Labels
	}
	v.Loans, ign = viewLoans(kv.Loans, names, ign)
	var pools []ipam.Pool
	pools, ign = v.addPools(kv.Pools, names, ign)
	nodes, addrs, ign := viewNodes(kv.Nodes, pools, ign)
	if v.VTEP.Is4() {
		nodes[self] = true // this node runs Cane, published or not yet
	}
	blocks, ign := v.viewBlocks(kv.Blocks, pools, nodes, labels, now, ign)
	for _, n := range kv.Nodes {
		if n.Name != self && nodes[n.Name] {
			v.Remotes = append(v.Remotes, flows.RemoteNode{Name: n.Name, VTEP: n.VTEP, Addrs: addrs[n.Name], Blocks: blocks[n.Name]})
		}
	}
	v.Nodes = append(v.Nodes, v.Addrs...)
	for _, r := range v.Remotes {
		v.Nodes = append(v.Nodes, r.Addrs...)
	}
	return v, ign
}

// viewDomains keeps the domains with a VNI and VLAN of their own (the
// older of two keeps it) and a valid egress setting.
func viewDomains(ds []kube.Domain, ign []ignored) ([]DomainConf, []ignored) {
	var out []DomainConf
	vnis, vlans := map[uint32]string{}, map[uint16]string{}
	for _, d := range ds {
		why := ""
		switch other, vlanOther := vnis[d.VNI], vlans[d.VLAN]; {
		case d.VNI == 0 || d.VNI > 1<<24-1:
			why = fmt.Sprintf("vni %d out of range", d.VNI)
		case other != "":
			why = fmt.Sprintf("vni %d already used by %q", d.VNI, other)
		case d.VLAN != 0 && vlanOther != "":
			why = fmt.Sprintf("vlan %d already used by %q", d.VLAN, vlanOther)
		case validEgress(d.Egress) != nil:
			why = validEgress(d.Egress).Error()
		}
		if why != "" {
			ign = append(ign, ignored{"Domain", d.Name, why})
			continue
		}
		vnis[d.VNI] = d.Name
		if d.VLAN != 0 {
			vlans[d.VLAN] = d.Name
		}
		out = append(out, DomainConf{Name: d.Name, VNI: d.VNI, VLAN: d.VLAN, Peers: d.Peers, Egress: d.Egress, Namespaces: d.Namespaces})
	}
	return out, ign
}

// viewLoans keeps the valid loans of known borrowers.
func viewLoans(ls []kube.Loan, domains map[string]bool, ign []ignored) ([]ipam.Loan, []ignored) {
	var out []ipam.Loan
	for _, l := range ls {
		il := ipamLoan(l)
		err := il.Validate()
		if err == nil && !domains[l.Borrower] {
			err = fmt.Errorf("unknown borrower domain %q", l.Borrower)
		}
		if err != nil {
			ign = append(ign, ignored{"Loan", l.Name, err.Error()})
			continue
		}
		out = append(out, il)
	}
	return out, ign
}

// addPools keeps the valid pools of known domains that overlap no older
// pool, and says which this node may use (node selector).
func (v *view) addPools(ps []kube.Pool, domains map[string]bool, ign []ignored) ([]ipam.Pool, []ignored) {
	var accepted []ipam.Pool
	for _, p := range ps {
		ip := ipam.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockBits: p.BlockSize}
		err := ipam.ValidatePools(append(accepted, ip))
		if err == nil && !domains[p.Domain] {
			err = fmt.Errorf("unknown domain %q", p.Domain)
		}
		if err != nil {
			ign = append(ign, ignored{"Pool", p.Name, err.Error()})
			continue
		}
		accepted = append(accepted, ip)
		v.Pools = append(v.Pools, PoolConf{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockSize: p.BlockSize})
		v.Usable[p.Name] = selects(p.NodeSelector, v.Labels)
	}
	return accepted, ign
}

// viewNodes says which nodes run Cane with a valid tunnel endpoint: IPv4,
// inside no pool (a pod's address, borrowed or not, is never a VTEP: a
// pod could forge that node's tunnel traffic), and no older node's. It
// returns each such node's addresses that are its own: outside every pool
// and claimed by no older node (as VTEP or address), so a node cannot
// draw pods' traffic for another node's address, nor have a pod's
// address admitted as its own source.
func viewNodes(ns []kube.Node, pools []ipam.Pool, ign []ignored) (map[string]bool, map[string][]netip.Addr, []ignored) {
	byAge := slices.Clone(ns)
	slices.SortStableFunc(byAge, func(a, b kube.Node) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return compareStrings(a.Name, b.Name)
	})
	ok, owner := map[string]bool{}, map[netip.Addr]string{} // each address to the oldest node claiming it
	addrs := map[string][]netip.Addr{}
	for _, n := range byAge {
		why := ""
		pool, inPool := poolHolding(pools, n.VTEP)
		switch other := owner[n.VTEP]; {
		case !n.VTEP.Is4():
			continue // not (yet) running Cane: its blocks, if any, are named below
		case inPool:
			why = fmt.Sprintf("tunnel endpoint %s is inside pool %s", n.VTEP, pool)
		case other != "":
			why = fmt.Sprintf("tunnel endpoint %s is already node %s's", n.VTEP, other)
		}
		if why != "" {
			ign = append(ign, ignored{"CaneNode", n.Name, why})
			continue
		}
		ok[n.Name], owner[n.VTEP] = true, n.Name
		addrs[n.Name], ign = ownAddrs(n, pools, owner, ign)
	}
	return ok, addrs, ign
}

// ownAddrs are n's addresses outside every pool and claimed by no older
// node (owner), which it then claims.
func ownAddrs(n kube.Node, pools []ipam.Pool, owner map[netip.Addr]string, ign []ignored) ([]netip.Addr, []ignored) {
	var out []netip.Addr
	for _, a := range n.Addrs {
		why := ""
		pool, inPool := poolHolding(pools, a)
		switch other, claimed := owner[a]; {
		case inPool:
			why = fmt.Sprintf("address %s is inside pool %s; the address is left out", a, pool)
		case claimed && other != n.Name:
			why = fmt.Sprintf("address %s is already node %s's; the address is left out", a, other)
		}
		if why != "" {
			ign = append(ign, ignored{"CaneNode", n.Name, why})
			continue
		}
		owner[a] = n.Name
		out = append(out, a)
	}
	return out, ign
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// poolHolding names the pool containing ip, if any.
func poolHolding(pools []ipam.Pool, ip netip.Addr) (string, bool) {
	for _, p := range pools {
		if p.CIDR.Contains(ip) {
			return p.Name, true
		}
	}
	return "", false
}

// viewBlocks checks every Block and returns the valid ones by node; lent
// blocks go to v.Lent, or to v.Quarantined if their lending is not.
func (v *view) viewBlocks(bs []kube.Block, pools []ipam.Pool, nodes map[string]bool, labels map[string]map[string]string,
	now time.Time, ign []ignored) (map[string][]flows.RemoteBlock, []ignored) {
	byName := map[string]ipam.Pool{}
	for _, p := range pools {
		byName[p.Name] = p
	}
	out := map[string][]flows.RemoteBlock{}
	for _, b := range bs {
		p, ok := byName[b.Pool]
		if err := checkBlock(b, p, ok, nodes); err != nil {
			ign = append(ign, ignored{"Block", b.Name, err.Error()})
			continue
		}
		if b.Domain != "" {
			if err := v.checkLending(b, p, labels[b.Node], now); err != nil {
				ign = append(ign, ignored{"Block", b.Name, "lending refused, block sealed: " + err.Error()})
				v.Quarantined = append(v.Quarantined, b.CIDR)
				continue
			}
			v.Lent = append(v.Lent, flows.LentBlock{CIDR: b.CIDR, Pool: b.Pool, Domain: b.Domain})
		}
		out[b.Node] = append(out[b.Node], flows.RemoteBlock{CIDR: b.CIDR, Pool: b.Pool})
	}
	return out, ign
}

// checkBlock checks a block against its pool and node.
func checkBlock(b kube.Block, p ipam.Pool, poolKnown bool, nodes map[string]bool) error {
	switch {
	case !poolKnown:
		return fmt.Errorf("unknown pool %q", b.Pool)
	case !b.CIDR.Addr().Is4():
		return fmt.Errorf("cidr %s is not IPv4", b.CIDR)
	case b.CIDR.Masked() != b.CIDR:
		return fmt.Errorf("cidr %s is not aligned (%s)", b.CIDR, b.CIDR.Masked())
	case b.CIDR.Bits() != p.BlockBits:
		return fmt.Errorf("cidr %s is not a /%d block of pool %s", b.CIDR, p.BlockBits, p.Name)
	case !p.CIDR.Contains(b.CIDR.Addr()):
		return fmt.Errorf("cidr %s is outside pool %s (%s)", b.CIDR, p.Name, p.CIDR)
	case b.Name != kube.BlockName(b.Pool, b.CIDR):
		return fmt.Errorf("name is not %s", kube.BlockName(b.Pool, b.CIDR))
	case !nodes[b.Node]:
		return fmt.Errorf("node %q does not run Cane (no CaneNode with a valid tunnel endpoint)", b.Node)
	}
	return nil
}

// checkLending checks a lent block against its loan: the loan exists,
// lends blocks, lends the block's node from the pool's domain to the
// block's domain, and was active when the block was created.
func (v *view) checkLending(b kube.Block, p ipam.Pool, nodeLabels map[string]string, now time.Time) error {
	for _, l := range v.Loans {
		if l.Name != b.Loan {
			continue
		}
		switch {
		case !l.LendBlocks:
			return fmt.Errorf("loan %s does not lend blocks", l.Name)
		case l.Borrower != b.Domain:
			return fmt.Errorf("loan %s lends to %s, not %s", l.Name, l.Borrower, b.Domain)
		case !slices.Contains(l.Lenders, p.Domain):
			return fmt.Errorf("loan %s does not lend from domain %s", l.Name, p.Domain)
		case !l.Lends(b.Node, nodeLabels):
			return fmt.Errorf("loan %s does not lend node %s", l.Name, b.Node)
		case b.Created.Before(l.Start.Truncate(time.Second)) || !b.Created.Before(l.End):
			return fmt.Errorf("block created %s, outside loan %s's window", b.Created.Format(time.RFC3339), l.Name)
		}
		return nil
	}
	return fmt.Errorf("no loan %q", b.Loan)
}
