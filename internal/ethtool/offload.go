package ethtool

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// txChecksumFeatures are what `ethtool -K IF tx off` turns off: the
// kernel's NETIF_F_CSUM_MASK, FCOE_CRC and SCTP_CRC (ethtool_get_feature_mask
// for ETHTOOL_STXCSUM), by their names in net/ethtool/common.c.
var txChecksumFeatures = []string{"tx-checksum-ipv4", "tx-checksum-ip-generic", "tx-checksum-ipv6", "tx-checksum-fcoe-crc", "tx-checksum-sctp"}

// TxChecksumOff turns TX checksum offload off for ifName in the current
// thread's netns (call it inside the pod's or the node's netns, with the
// thread locked, as ns.NetNS.Do does), and with it TSO, which the
// kernel drops once the checksums are off. It fails if any TX checksum
// feature stays on.
//
// Why: OVS's userspace datapath drops offloaded packets at a tunnel
// ("Tunneling packets with HW offload flags is not supported"), so TCP
// across a netdev VXLAN tunnel hangs unless the pod's kernel computes
// checksums itself.
//
// How: ethtool's generic netlink family (ETHTOOL_MSG_FEATURES_SET, then a
// FEATURES_GET to confirm); on a kernel without that family (before 5.6)
// the legacy ETHTOOL_STXCSUM ioctl, which is what ethtool itself falls
// back to.
func TxChecksumOff(ifName string) error {
	_, err := txChecksumOffVia(unix.ETHTOOL_GENL_NAME, ifName)
	return err
}

// txChecksumOffVia is TxChecksumOff through the generic netlink family of
// that name (a test names one the kernel lacks to take the fallback); it
// says which way it went: "netlink" or "ioctl".
func txChecksumOffVia(family, ifName string) (string, error) {
	e, err := dialEthtool(family)
	if errors.Is(err, errNoEthtoolFamily) {
		return "ioctl", ioctlTxChecksumOff(ifName)
	}
	if err != nil {
		return "netlink", err
	}
	defer e.Close()
	off := map[string]bool{}
	for _, f := range txChecksumFeatures {
		off[f] = false
	}
	if err := e.setFeatures(ifName, off); err != nil {
		return "netlink", err
	}
	on, err := e.txChecksumsOn(ifName)
	if err != nil {
		return "netlink", err
	}
	if len(on) > 0 {
		return "netlink", fmt.Errorf("ethtool: %v of %s stay on (fixed by the driver?)", on, ifName)
	}
	return "netlink", nil
}

// TxChecksumsOn are the TX checksum features active on ifName in the
// current thread's netns, sorted: none once TxChecksumOff took.
func TxChecksumsOn(ifName string) ([]string, error) {
	e, err := dialEthtool(unix.ETHTOOL_GENL_NAME)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return e.txChecksumsOn(ifName)
}

func (e *ethtoolConn) txChecksumsOn(ifName string) ([]string, error) {
	active, err := e.activeFeatures(ifName)
	if err != nil {
		return nil, err
	}
	var on []string
	for _, f := range txChecksumFeatures {
		if active[f] {
			on = append(on, f)
		}
	}
	slices.Sort(on)
	return on, nil
}

// ioctlTxChecksumOff is the legacy ETHTOOL_STXCSUM ioctl (`ethtool -K IF
// tx off` on a kernel without ethtool netlink): the fallback of
// TxChecksumOff. The kernel answers EOPNOTSUPP if the device can change
// none of the features.
func ioctlTxChecksumOff(ifName string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	value := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_STXCSUM, data: 0}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], ifName)
	ifr.data = uintptr(unsafe.Pointer(&value))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&value)
	if errno != 0 {
		return fmt.Errorf("ethtool ioctl: tx checksum off on %s: %w", ifName, errno)
	}
	return nil
}
