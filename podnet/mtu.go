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

// AddrMTU is the MTU of the link that holds ip in the netns n (caned asks
// for its underlay address: the pods' MTU follows from it). An address
// that no link holds is ErrNoAddr.
func AddrMTU(n ns.NetNS, ip netip.Addr) (int, error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", n.Path(), err)
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if !ip.Unmap().Is4() {
		family = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(nil, family)
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip.Unmap() {
			l, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("link %d holding %s: %w", a.LinkIndex, ip, err)
			}
			return l.Attrs().MTU, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrNoAddr, ip)
}
