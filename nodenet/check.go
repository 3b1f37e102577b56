package nodenet

import (
	"fmt"
	"net"
	"sort"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cane-cni/cane/internal/ethtool"
)

// Check compares the node's kernel with s and lists every difference: a
// host port missing or down, a route or rule missing or extra, Cane's
// nftables table or one of its chains missing, a TX checksum offload
// left on. Read-only.
func Check(hostNS ns.NetNS, s State) []string {
	h, err := netlink.NewHandleAt(netns.NsHandle(hostNS.Fd()))
	if err != nil {
		return []string{fmt.Sprintf("netlink in %s: %v", hostNS.Path(), err)}
	}
	defer h.Close()
	var p []string
	ports := map[string]netlink.Link{}
	for _, d := range s.Domains {
		l, err := h.LinkByName(d.Port)
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("host port %s of domain %d missing: %v", d.Port, d.VNI, err))
		case l.Attrs().Flags&net.FlagUp == 0:
			p = append(p, fmt.Sprintf("host port %s of domain %d is down", d.Port, d.VNI))
			ports[d.Port] = l
		default:
			ports[d.Port] = l
		}
		p = append(p, checkOffload(hostNS, d.Port, s)...)
	}
	if len(ports) < len(s.Domains) {
		return p // routes through a missing port cannot be compared
	}
	p = append(p, checkRoutes(h, wantRoutes(s, ports))...)
	p = append(p, checkRules(h, s)...)
	p = append(p, checkTable(hostNS)...)
	sort.Strings(p)
	return p
}

// checkOffload: a port whose TX checksum offload should be off has it off.
func checkOffload(hostNS ns.NetNS, port string, s State) []string {
	if !s.TxChecksumOff {
		return nil
	}
	var on []string
	err := hostNS.Do(func(ns.NetNS) (err error) {
		on, err = ethtool.TxChecksumsOn(port)
		return err
	})
	switch {
	case err != nil:
		return []string{fmt.Sprintf("host port %s: read its offloads: %v", port, err)}
	case len(on) > 0:
		return []string{fmt.Sprintf("host port %s has TX checksum offload on (%v): TCP from the node into the tunnel would drop", port, on)}
	}
	return nil
}

func checkRoutes(h *netlink.Handle, want map[routeKey]netlink.Route) []string {
	have, err := caneRoutes(h)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	for k, w := range want {
		got, ok := have[k]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("route %s missing from %s", k.dst, tableLabel(k.table)))
		case routeType(got) != routeType(w) || got.LinkIndex != w.LinkIndex:
			p = append(p, fmt.Sprintf("route %s in %s goes elsewhere", k.dst, tableLabel(k.table)))
		}
		delete(have, k)
	}
	for k := range have {
		p = append(p, fmt.Sprintf("route %s in %s is not wanted", k.dst, tableLabel(k.table)))
	}
	return p
}

func checkRules(h *netlink.Handle, s State) []string {
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return []string{err.Error()}
	}
	have := map[string]int{}
	for _, r := range rules {
		if r.Priority == rulePriority && r.Table&^0xffffff == tableBase {
			have[r.IifName] = r.Table
		}
	}
	var p []string
	for _, d := range s.Domains {
		if have[d.Port] != Table(d.VNI) {
			p = append(p, fmt.Sprintf("no rule sends what arrives on %s to table %#x", d.Port, Table(d.VNI)))
		}
		delete(have, d.Port)
	}
	for port := range have {
		p = append(p, fmt.Sprintf("a rule for %s, which no domain has", port))
	}
	return p
}

func checkTable(hostNS ns.NetNS) []string {
	c, err := nftables.New(nftables.WithNetNSFd(int(hostNS.Fd())))
	if err != nil {
		return []string{err.Error()}
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return []string{fmt.Sprintf("list nftables chains: %v", err)}
	}
	have := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name == tableName {
			have[ch.Name] = true
		}
	}
	var p []string
	for _, want := range []string{"prerouting", "input", "forward", "postrouting"} {
		if !have[want] {
			p = append(p, fmt.Sprintf("nftables chain %s %s missing", tableName, want))
		}
	}
	return p
}

func tableLabel(t int) string {
	if t == unix.RT_TABLE_MAIN {
		return "main"
	}
	return fmt.Sprintf("table %#x", t)
}

// routeType is a route's type, unicast when unset (as netlink reads it).
func routeType(r netlink.Route) int {
	if r.Type == 0 {
		return unix.RTN_UNICAST
	}
	return r.Type
}
