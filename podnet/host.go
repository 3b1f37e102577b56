package podnet

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SetupHostPort brings the node's host port (an OVS internal port in
// hostNS) up with the pods' MTU and makes its routes exactly want: one per
// pool, on-link (the pipeline answers ARP for every pool address with the
// gateway MAC; the port has no address, the node's own is the source).
// Routes through the port that want does not hold are removed. Idempotent.
func SetupHostPort(hostNS ns.NetNS, name string, mtu int, want []netip.Prefix) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(hostNS.Fd()))
	if err != nil {
		return fmt.Errorf("netlink in host netns: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("host port %s: %w", name, err)
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set MTU of %s: %w", name, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", name, err)
		}
	}
	keep := map[netip.Prefix]bool{}
	for _, p := range want {
		p = p.Masked()
		keep[p] = true
		route := &netlink.Route{
			LinkIndex: l.Attrs().Index,
			Dst:       &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)},
			Scope:     netlink.SCOPE_LINK,
			Protocol:  unix.RTPROT_STATIC,
		}
		if err := h.RouteReplace(route); err != nil {
			return fmt.Errorf("route %s dev %s: %w", p, name, err)
		}
	}
	have, err := linkRoutes(h, l)
	if err != nil {
		return err
	}
	for p, r := range have {
		if !keep[p] {
			if err := h.RouteDel(&r); err != nil {
				return fmt.Errorf("remove route %s dev %s: %w", p, name, err)
			}
		}
	}
	return nil
}

// linkRoutes are the IPv4 routes through l, by destination.
func linkRoutes(h *netlink.Handle, l netlink.Link) (map[netip.Prefix]netlink.Route, error) {
	rs, err := h.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", l.Attrs().Name, err)
	}
	out := make(map[netip.Prefix]netlink.Route, len(rs))
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			ones, _ := r.Dst.Mask.Size()
			out[netip.PrefixFrom(a.Unmap(), ones)] = r
		}
	}
	return out, nil
}

// HostPortRoutes reports whether the host port is up and the prefixes
// routed through it.
func HostPortRoutes(hostNS ns.NetNS, name string) (up bool, routes []netip.Prefix, err error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(hostNS.Fd()))
	if err != nil {
		return false, nil, fmt.Errorf("netlink in host netns: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return false, nil, fmt.Errorf("host port %s: %w", name, err)
	}
	rs, err := linkRoutes(h, l)
	if err != nil {
		return false, nil, err
	}
	for p := range rs {
		routes = append(routes, p)
	}
	return l.Attrs().Flags&net.FlagUp != 0, routes, nil
}
