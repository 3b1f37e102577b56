package testbed

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Underlay is the fabric's subnet; members get .1, .2, ... and the
// control plane ControlPlaneIP.
var (
	Underlay       = netip.MustParsePrefix("198.18.0.0/24")
	ControlPlaneIP = netip.MustParseAddr("198.18.0.254")
)

// Fabric is the underlay network: a Linux bridge in its own netns that
// every member joins with a veth. A plain Linux bridge forwards 802.1Q
// frames unchanged, so it is also the trunk for VLAN domains.
type Fabric struct {
	NS ns.NetNS
	tb *Testbed
	n  int // members so far
}

// Fabric returns the testbed's fabric, creating it on first use.
func (tb *Testbed) Fabric() (*Fabric, error) {
	tb.mu.Lock()
	f := tb.fabric
	tb.mu.Unlock()
	if f != nil {
		return f, nil
	}
	fns, err := tb.NewNetNS()
	if err != nil {
		return nil, err
	}
	h, err := handleIn(fns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "fabric"}}
	if err := h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("fabric bridge: %w", err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return nil, err
	}
	if err := sysctlIn(fns, "net/ipv6/conf/all/disable_ipv6", "1"); err != nil {
		return nil, err
	}
	f = &Fabric{NS: fns, tb: tb}
	tb.mu.Lock()
	tb.fabric = f
	tb.mu.Unlock()
	return f, nil
}

// Attach connects member to the fabric with a veth whose member end is
// ifName; the caller gives that an address (SetAddr).
func (f *Fabric) Attach(member ns.NetNS, ifName string) error {
	h, err := handleIn(f.NS)
	if err != nil {
		return err
	}
	defer h.Close()
	f.n++
	port := fmt.Sprintf("port%d", f.n)
	mfd, err := netns.GetFromPath(member.Path())
	if err != nil {
		return err
	}
	defer mfd.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port, MTU: 1500}, PeerName: ifName, PeerNamespace: netlink.NsFd(int(mfd))}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("fabric port %s: %w", port, err)
	}
	br, err := h.LinkByName("fabric")
	if err != nil {
		return err
	}
	l, err := h.LinkByName(port)
	if err != nil {
		return err
	}
	if err := h.LinkSetMaster(l, br); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// SetAddr puts addr on ifName in n, sets it and lo up, and turns IPv6 off.
func SetAddr(n ns.NetNS, ifName string, addr netip.Prefix) error {
	h, err := handleIn(n)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := sysctlIn(n, "net/ipv6/conf/all/disable_ipv6", "1"); err != nil {
		return err
	}
	for _, name := range []string{"lo", ifName} {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == ifName {
			a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)}}
			if err := h.AddrAdd(l, a); err != nil {
				return fmt.Errorf("address %s on %s: %w", addr, name, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
	}
	return nil
}

func handleIn(n ns.NetNS) (*netlink.Handle, error) {
	return netlink.NewHandleAt(netns.NsHandle(n.Fd()))
}

func sysctlIn(n ns.NetNS, key, value string) error {
	return n.Do(func(ns.NetNS) error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
}
