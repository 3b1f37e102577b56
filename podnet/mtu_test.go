package podnet

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// TestMTUOfAddress: the MTU of the link holding an address, in a throwaway
// netns (not the caller's), and ErrNoAddr for one no link holds.
func TestMTUOfAddress(t *testing.T) {
	needs.Root(t)
	n := podnettest.NewNS(t)
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "under", MTU: 1400}, PeerName: "other", PeerMTU: 9000}); err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"under": "198.18.0.1/24", "other": "198.18.1.1/24"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		ipn, err := netlink.ParseIPNet(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
			t.Fatal(err)
		}
	}
	for ip, want := range map[string]int{"198.18.0.1": 1400, "198.18.1.1": 9000} {
		if mtu, err := MTUOfAddress(n, netip.MustParseAddr(ip)); err != nil || mtu != want {
			t.Errorf("MTUOfAddress(%s) = %d, %v; want %d", ip, mtu, err, want)
		}
	}
	if _, err := MTUOfAddress(n, netip.MustParseAddr("198.18.2.1")); !errors.Is(err, ErrNoAddr) {
		t.Errorf("an address no link holds: %v", err)
	}
}
