package daemon

import (
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vxlanOverhead is what VXLAN over IPv4 adds to a frame: outer IP 20, UDP
// 8, VXLAN 8, inner Ethernet 14.
const vxlanOverhead = 50

// detectMTU is the pod MTU: the configured one, else the MTU of the link
// holding this node's underlay address (1500 if unknown), less the VXLAN
// overhead when pods may talk through the tunnel.
func (d *Daemon) detectMTU() int {
	if d.cfg.MTU > 0 {
		return d.cfg.MTU
	}
	mtu := 1500
	if vtep := d.view.Load().VTEP; vtep.IsValid() {
		if h, err := netlink.NewHandleAt(netns.NsHandle(d.hostNS.Fd())); err == nil {
			defer h.Close()
			addrs, _ := h.AddrList(nil, netlink.FAMILY_V4)
			for _, a := range addrs {
				if a.IP.Equal(vtep.AsSlice()) {
					if l, err := h.LinkByIndex(a.LinkIndex); err == nil {
						mtu = l.Attrs().MTU
					}
				}
			}
		}
	}
	if d.overlay() {
		mtu -= vxlanOverhead
	}
	return mtu
}
