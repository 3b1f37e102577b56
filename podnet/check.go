package podnet

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Check verifies that the attachment is as Setup left it: host end present
// and up, pod interface present and up with its MAC, address and default
// route through the gateway. It reports the first difference.
//
// What a chained plugin may legitimately change is tolerated (CNI CHECK
// runs after the whole chain's ADD): a lower MTU (tuning's "mtu"; higher
// than cfg.MTU would not fit through the tunnel, so that fails), sysctls,
// and extra addresses or routes besides Cane's own.
func Check(cfg Config) error {
	host, pod, podNS, err := handles(cfg.HostNS, cfg.NetNS)
	if err != nil {
		return err
	}
	defer host.Close()
	defer pod.Close()
	defer podNS.Close()
	hl, err := host.LinkByName(cfg.HostIfName)
	if err != nil {
		return fmt.Errorf("host end %s: %w", cfg.HostIfName, err)
	}
	if hl.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("host end %s is down", cfg.HostIfName)
	}
	l, err := pod.LinkByName(cfg.IfName)
	if err != nil {
		return fmt.Errorf("pod interface %s: %w", cfg.IfName, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("pod interface %s is down", cfg.IfName)
	}
	if l.Attrs().HardwareAddr.String() != cfg.MAC.String() {
		return fmt.Errorf("pod interface %s has MAC %s, want %s", cfg.IfName, l.Attrs().HardwareAddr, cfg.MAC)
	}
	if cfg.MTU != 0 && l.Attrs().MTU > cfg.MTU {
		return fmt.Errorf("pod interface %s has MTU %d, more than the %d the network carries", cfg.IfName, l.Attrs().MTU, cfg.MTU)
	}
	addrs, err := pod.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", cfg.IfName, err)
	}
	found := false
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if a.IP.Equal(cfg.Address.Addr().AsSlice()) && ones == cfg.Address.Bits() {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("pod interface %s lacks address %s", cfg.IfName, cfg.Address)
	}
	routes, err := pod.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", cfg.IfName, err)
	}
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.Equal(cfg.Gateway.AsSlice()) {
			return nil
		}
	}
	return fmt.Errorf("pod has no default route via %s on %s", cfg.Gateway, cfg.IfName)
}
