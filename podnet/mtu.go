package podnet

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ErrNoAddr: no link in the netns holds the address.
var ErrNoAddr = errors.New("no link holds the address")

// MTUOfAddress is the MTU of the link in netns n that holds address a
// (caned asks for its underlay address: the pods' MTU follows from it). An
// address that no link holds is ErrNoAddr.
func MTUOfAddress(n ns.NetNS, a netip.Addr) (int, error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", n.Path(), err)
	}
	defer h.Close()
	a = a.Unmap()
	family := netlink.FAMILY_V4
	if a.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(nil, family)
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for _, ad := range addrs {
		if got, ok := netip.AddrFromSlice(ad.IP); ok && got.Unmap() == a {
			l, err := h.LinkByIndex(ad.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("link of %s: %w", a, err)
			}
			return l.Attrs().MTU, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrNoAddr, a)
}
