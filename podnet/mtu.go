package podnet

import (
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// MTUOfAddress is the MTU of the link in netns n that holds address a.
func MTUOfAddress(n ns.NetNS, a netip.Addr) (int, error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", n.Path(), err)
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if a.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(nil, family)
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for _, ad := range addrs {
		if ad.IP.Equal(a.AsSlice()) {
			l, err := h.LinkByIndex(ad.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("link of %s: %w", a, err)
			}
			return l.Attrs().MTU, nil
		}
	}
	return 0, fmt.Errorf("no link holds %s", a)
}
