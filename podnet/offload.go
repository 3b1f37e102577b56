package podnet

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// txChecksumOff turns TX checksum offload (and with it TSO and scatter-
// gather, which depend on it) off for ifName in the current netns.
//
// Why: OVS's userspace datapath drops offloaded packets at a tunnel
// ("Tunneling packets with HW offload flags is not supported"), so TCP
// across a netdev VXLAN tunnel hangs unless the pod's kernel computes
// checksums itself. This is the legacy ETHTOOL_STXCSUM ioctl, the stable
// ABI `ethtool -K IF tx off` falls back to; the generic netlink
// FEATURES_SET needs named bitsets for the same effect.
func txChecksumOff(ifName string) error {
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
		return fmt.Errorf("ethtool: tx checksum off on %s: %w", ifName, errno)
	}
	return nil
}
