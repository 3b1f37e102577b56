package ethtool

import (
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// TestTxChecksumOff: in a throwaway netns with a veth pair, TX checksum
// offload goes off through ethtool's generic netlink family — read back
// through the same family, every tx-checksum-* feature is off and TSO
// went with them, while the peer keeps its own — and through the ioctl
// when the family is missing. A device that does not exist is an error.
func TestTxChecksumOff(t *testing.T) {
	needs.Root(t)
	n := podnettest.NewNS(t)
	err := n.Do(func(ns.NetNS) error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "a"}, PeerName: "b"}); err != nil {
			return err
		}
		e, err := dialEthtool(unix.ETHTOOL_GENL_NAME)
		if err != nil {
			return err
		}
		defer e.Close()
		for _, dev := range []string{"a", "b"} { // the test can fail: the offloads start on
			if on := txChecksumOn(t, e, dev); len(on) == 0 {
				t.Fatalf("%s starts with every TX checksum offload off", dev)
			}
		}

		if how, err := txChecksumOffVia(unix.ETHTOOL_GENL_NAME, "a"); err != nil || how != "netlink" {
			t.Fatalf("through netlink: %s, %v", how, err)
		}
		if on := txChecksumOn(t, e, "a"); len(on) > 0 {
			t.Errorf("a: %v still on", on)
		}
		if active := features(t, e, "a"); active["tx-tcp-segmentation"] {
			t.Error("a: TSO stayed on without TX checksums")
		}
		if on := txChecksumOn(t, e, "b"); len(on) == 0 {
			t.Error("b's offloads went off with a's")
		}

		if how, err := txChecksumOffVia("cane-nofamily", "b"); err != nil || how != "ioctl" {
			t.Fatalf("fallback: %s, %v", how, err)
		}
		if on := txChecksumOn(t, e, "b"); len(on) > 0 {
			t.Errorf("b after the ioctl: %v still on", on)
		}

		if err := TxChecksumOff("nosuchdev"); err == nil {
			t.Error("no error for a device that does not exist")
		}
		if err := ioctlTxChecksumOff("nosuchdev"); err == nil {
			t.Error("the ioctl: no error for a device that does not exist")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func features(t *testing.T, e *ethtoolConn, dev string) map[string]bool {
	t.Helper()
	active, err := e.activeFeatures(dev)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) == 0 {
		t.Fatalf("%s: no active features read", dev)
	}
	return active
}

// txChecksumOn are dev's TX checksum features that are on.
func txChecksumOn(t *testing.T, e *ethtoolConn, dev string) []string {
	t.Helper()
	var on []string
	for name, v := range features(t, e, dev) {
		if v && strings.HasPrefix(name, "tx-checksum-") {
			on = append(on, name)
		}
	}
	return on
}
