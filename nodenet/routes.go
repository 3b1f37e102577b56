package nodenet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cane-cni/cane/internal/ethtool"
)

// portSysctls are set on every host port:
//   - rp_filter loose: a packet the tunnel brings from another node's
//     address (a NodePort it masqueraded) arrives here, while the route
//     back to that address is the underlay's;
//   - no ICMP redirects to pods: a packet the node DNATs back out of the
//     port it came in would otherwise make the kernel suggest a shortcut;
//   - no IPv6 (the pipeline is IPv4).
var portSysctls = []struct{ key, value string }{
	{"net/ipv4/conf/%s/rp_filter", "2"},
	{"net/ipv4/conf/%s/send_redirects", "0"},
	{"net/ipv6/conf/%s/disable_ipv6", "1"},
}

// applyRoutes brings up the host ports and converges the main table's
// routes through them, each domain's table and the iif rules.
func applyRoutes(hostNS ns.NetNS, s State) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(hostNS.Fd()))
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", hostNS.Path(), err)
	}
	defer h.Close()
	ports := map[string]netlink.Link{}
	for _, d := range s.Domains {
		l, err := setUpPort(h, hostNS, d.Port, s)
		if err != nil {
			return err
		}
		ports[d.Port] = l
	}
	want := wantRoutes(s, ports)
	if err := convergeRoutes(h, want); err != nil {
		return err
	}
	return convergeRules(h, s)
}

// setUpPort brings a host port up with the MTU, sysctls and offloads.
func setUpPort(h *netlink.Handle, hostNS ns.NetNS, name string, s State) (netlink.Link, error) {
	mtu := s.MTU
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("host port %s: %w", name, err)
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return nil, fmt.Errorf("set MTU of %s: %w", name, err)
		}
	}
	for _, sc := range portSysctls {
		if err := setSysctl(hostNS, fmt.Sprintf(sc.key, name), sc.value); err != nil {
			return nil, err
		}
	}
	if s.TxChecksumOff {
		if err := hostNS.Do(func(ns.NetNS) error { return ethtool.TxChecksumOff(name) }); err != nil {
			return nil, err
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return l, nil
}

// routeKey identifies a route Cane owns: table and destination.
type routeKey struct {
	table int
	dst   netip.Prefix
}

// wantRoutes are Cane's routes: in main, every domain's own prefixes
// through its port; in each domain's table, its own and its peers'
// through its port and every other pool prohibited.
func wantRoutes(s State, ports map[string]netlink.Link) map[routeKey]netlink.Route {
	want := map[routeKey]netlink.Route{}
	all := s.allPrefixes()
	for _, d := range s.Domains {
		idx := ports[d.Port].Attrs().Index
		for _, p := range d.Own {
			want[routeKey{unix.RT_TABLE_MAIN, p.Masked()}] = linkRoute(unix.RT_TABLE_MAIN, p, idx)
		}
		t := Table(d.VNI)
		reach := map[netip.Prefix]bool{}
		for _, p := range append(append([]netip.Prefix(nil), d.Own...), d.Reach...) {
			reach[p.Masked()] = true
			want[routeKey{t, p.Masked()}] = linkRoute(t, p, idx)
		}
		for _, p := range all {
			if !reach[p.Masked()] {
				want[routeKey{t, p.Masked()}] = prohibitRoute(t, p)
			}
		}
		for _, p := range s.Sealed {
			want[routeKey{t, p.Masked()}] = prohibitRoute(t, p)
		}
	}
	for _, p := range s.Sealed {
		want[routeKey{unix.RT_TABLE_MAIN, p.Masked()}] = prohibitRoute(unix.RT_TABLE_MAIN, p)
	}
	return want
}

// routeProto marks Cane's routes (rtnetlink's protocol field; 0xca is
// unassigned in /etc/iproute2/rt_protos), so Cane finds its own and only
// its own, in any table.
const routeProto = 0xca

func linkRoute(table int, p netip.Prefix, linkIndex int) netlink.Route {
	return netlink.Route{Table: table, LinkIndex: linkIndex, Dst: ipNet(p), Scope: netlink.SCOPE_LINK, Protocol: routeProto}
}

func prohibitRoute(table int, p netip.Prefix) netlink.Route {
	return netlink.Route{Table: table, Dst: ipNet(p), Type: unix.RTN_PROHIBIT, Protocol: routeProto}
}

func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// convergeRoutes replaces every wanted route and deletes Cane's others:
// routes in Cane's tables, and routes in main through a host port.
func convergeRoutes(h *netlink.Handle, want map[routeKey]netlink.Route) error {
	for _, r := range want {
		if err := h.RouteReplace(&r); err != nil {
			return fmt.Errorf("route %s table %#x: %w", r.Dst, r.Table, err)
		}
	}
	have, err := caneRoutes(h)
	if err != nil {
		return err
	}
	for k, r := range have {
		if _, ok := want[k]; !ok {
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("remove route %s table %#x: %w", r.Dst, r.Table, err)
			}
		}
	}
	return nil
}

// caneRoutes lists the IPv4 routes Cane owns, by key: those it marked,
// and, left by an older caned, any in its tables or through a host port.
func caneRoutes(h *netlink.Handle) (map[routeKey]netlink.Route, error) {
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	ports, err := hostPortIndexes(h)
	if err != nil {
		return nil, err
	}
	out := map[routeKey]netlink.Route{}
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		ours := r.Protocol == routeProto || r.Table&^0xffffff == tableBase || (r.Table == unix.RT_TABLE_MAIN && ports[r.LinkIndex])
		if !ours {
			continue
		}
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		out[routeKey{r.Table, netip.PrefixFrom(a.Unmap(), ones)}] = r
	}
	return out, nil
}

// hostPortIndexes are the link indexes of the host ports.
func hostPortIndexes(h *netlink.Handle) (map[int]bool, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := map[int]bool{}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, HostPortPrefix) {
			out[l.Attrs().Index] = true
		}
	}
	return out, nil
}

// convergeRules makes the iif rules exactly one per domain.
func convergeRules(h *netlink.Handle, s State) error {
	want := map[string]int{}
	for _, d := range s.Domains {
		want[d.Port] = Table(d.VNI)
	}
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	for _, r := range rules {
		if r.Priority != rulePriority || r.Table&^0xffffff != tableBase {
			continue // not Cane's
		}
		if t, ok := want[r.IifName]; ok && t == r.Table {
			delete(want, r.IifName) // already there
			continue
		}
		if err := h.RuleDel(&r); err != nil {
			return fmt.Errorf("remove rule iif %s table %#x: %w", r.IifName, r.Table, err)
		}
	}
	for port, table := range want {
		r := netlink.NewRule()
		r.Family, r.Priority, r.IifName, r.Table = netlink.FAMILY_V4, rulePriority, port, table
		if err := h.RuleAdd(r); err != nil {
			return fmt.Errorf("rule iif %s lookup %#x: %w", port, table, err)
		}
	}
	return nil
}

// setSysctl writes a per-netns sysctl inside n. A kernel without IPv6 (no
// such file) is fine for IPv6 keys.
func setSysctl(n ns.NetNS, key, value string) error {
	return n.Do(func(ns.NetNS) error {
		err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && strings.HasPrefix(key, "net/ipv6")) {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
		return nil
	})
}
