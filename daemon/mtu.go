package daemon

import "github.com/cane-cni/cane/podnet"

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
		m, err := podnet.AddrMTU(d.hostNS, vtep)
		if err != nil {
			d.log.Warn("pod MTU: cannot read the underlay link's MTU, assuming 1500", "vtep", vtep, "err", err)
		} else {
			mtu = m
		}
	}
	if d.overlay() {
		mtu -= vxlanOverhead
	}
	return mtu
}
