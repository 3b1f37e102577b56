// Package ethtool speaks the kernel's ethtool generic netlink family (and
// its legacy ioctl) for what Cane needs of it: turning TX checksum
// offload off on a pod's interface or a host port.
package ethtool

import (
	"errors"
	"fmt"
	"os"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// errNoEthtoolFamily: the kernel has no ethtool generic netlink family
// (before Linux 5.6, or built without CONFIG_ETHTOOL_NETLINK).
var errNoEthtoolFamily = errors.New("kernel has no ethtool generic netlink family")

// ethtoolConn speaks the kernel's ethtool generic netlink family
// (Documentation/networking/ethtool-netlink.rst) in the netns of the
// thread that dialed it: the features calls Cane needs, which
// mdlayher/ethtool v0.7.0 does not have. Not safe for concurrent use.
type ethtoolConn struct {
	c      *genetlink.Conn
	family genetlink.Family
}

// dialEthtool connects to the generic netlink family of that name
// (unix.ETHTOOL_GENL_NAME; a test names one the kernel lacks, of at most
// 15 bytes, or the kernel refuses the name as invalid) in the
// current thread's netns. A missing family is errNoEthtoolFamily.
func dialEthtool(family string) (*ethtoolConn, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("generic netlink: %w", err)
	}
	f, err := c.GetFamily(family)
	if err != nil {
		c.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (family %q)", errNoEthtoolFamily, family)
		}
		return nil, fmt.Errorf("generic netlink family %q: %w", family, err)
	}
	return &ethtoolConn{c: c, family: f}, nil
}

func (e *ethtoolConn) Close() error { return e.c.Close() }

// setFeatures sets the named features of ifName (ETHTOOL_MSG_FEATURES_SET)
// to the given values; features not named keep their wanted state. The
// kernel silently leaves features the device cannot change, and those
// that others depend on may change with them (TSO goes with TX checksums):
// read activeFeatures to see the outcome.
func (e *ethtoolConn) setFeatures(ifName string, want map[string]bool) error {
	ae := netlink.NewAttributeEncoder()
	header(ae, ifName, unix.ETHTOOL_FLAG_OMIT_REPLY)
	ae.Nested(unix.ETHTOOL_A_FEATURES_WANTED, func(bs *netlink.AttributeEncoder) error {
		// A bitset without NOMASK: the bits listed are the mask, each on
		// if it carries the VALUE flag.
		bs.Nested(unix.ETHTOOL_A_BITSET_BITS, func(bits *netlink.AttributeEncoder) error {
			for name, on := range want {
				bits.Nested(unix.ETHTOOL_A_BITSET_BITS_BIT, func(bit *netlink.AttributeEncoder) error {
					bit.String(unix.ETHTOOL_A_BITSET_BIT_NAME, name)
					bit.Flag(unix.ETHTOOL_A_BITSET_BIT_VALUE, on)
					return nil
				})
			}
			return nil
		})
		return nil
	})
	_, err := e.execute(unix.ETHTOOL_MSG_FEATURES_SET, netlink.Acknowledge, ae)
	if err != nil {
		return fmt.Errorf("ethtool features set on %s: %w", ifName, err)
	}
	return nil
}

// activeFeatures are ifName's active features (ETHTOOL_MSG_FEATURES_GET),
// by the kernel's names (tx-checksum-ip-generic, ...): true for on.
func (e *ethtoolConn) activeFeatures(ifName string) (map[string]bool, error) {
	ae := netlink.NewAttributeEncoder()
	header(ae, ifName, 0)
	msgs, err := e.execute(unix.ETHTOOL_MSG_FEATURES_GET, 0, ae)
	if err != nil {
		return nil, fmt.Errorf("ethtool features of %s: %w", ifName, err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("ethtool features of %s: %d replies", ifName, len(msgs))
	}
	ad, err := netlink.NewAttributeDecoder(msgs[0].Data)
	if err != nil {
		return nil, fmt.Errorf("ethtool features of %s: %w", ifName, err)
	}
	var active map[string]bool
	for ad.Next() {
		if ad.Type() == unix.ETHTOOL_A_FEATURES_ACTIVE {
			ad.Nested(func(nad *netlink.AttributeDecoder) (err error) {
				active, err = decodeBitset(nad)
				return err
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("ethtool features of %s: %w", ifName, err)
	}
	if active == nil {
		return nil, fmt.Errorf("ethtool features of %s: no active set in the reply", ifName)
	}
	return active, nil
}

func (e *ethtoolConn) execute(cmd uint8, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	data, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return e.c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: e.family.Version},
		Data:   data,
	}, e.family.ID, netlink.Request|flags)
}

// header is the request header naming the device (ETHTOOL_A_*_HEADER is
// attribute 1 of every ethtool message).
func header(ae *netlink.AttributeEncoder, ifName string, flags uint32) {
	ae.Nested(unix.ETHTOOL_A_FEATURES_HEADER, func(h *netlink.AttributeEncoder) error {
		h.String(unix.ETHTOOL_A_HEADER_DEV_NAME, ifName)
		if flags != 0 {
			h.Uint32(unix.ETHTOOL_A_HEADER_FLAGS, flags)
		}
		return nil
	})
}

// decodeBitset reads a verbose (non-compact) ethtool bitset: each bit by
// name, on if it carries the VALUE flag — or, in a NOMASK bitset, every
// bit listed is on.
func decodeBitset(ad *netlink.AttributeDecoder) (map[string]bool, error) {
	noMask := false
	listed := map[string]bool{}
	for ad.Next() {
		switch ad.Type() {
		case unix.ETHTOOL_A_BITSET_NOMASK:
			noMask = true
		case unix.ETHTOOL_A_BITSET_VALUE:
			return nil, errors.New("compact bitset in a verbose reply")
		case unix.ETHTOOL_A_BITSET_BITS:
			ad.Nested(func(bits *netlink.AttributeDecoder) error {
				for bits.Next() {
					if bits.Type() != unix.ETHTOOL_A_BITSET_BITS_BIT {
						continue
					}
					bits.Nested(func(bit *netlink.AttributeDecoder) error {
						name, on := "", false
						for bit.Next() {
							switch bit.Type() {
							case unix.ETHTOOL_A_BITSET_BIT_NAME:
								name = bit.String()
							case unix.ETHTOOL_A_BITSET_BIT_VALUE:
								on = true
							}
						}
						listed[name] = on
						return nil
					})
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, err
	}
	for name := range listed {
		listed[name] = listed[name] || noMask
	}
	return listed, nil
}
