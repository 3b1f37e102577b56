// Package podnettest has helpers for tests that need network namespaces:
// throwaway ones, and ways to break a pod's plumbing on purpose.
package podnettest

import (
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// NewNS creates a throwaway netns, removed when the test ends. Its name for
// `ip netns exec` is filepath.Base(n.Path()).
func NewNS(t testing.TB) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		n.Close()
		_ = testutils.UnmountNS(n)
	})
	return n
}

// DeleteDefaultRoute removes every route through a gateway on ifName
// inside n, as an operator's mistake or a rogue process might.
func DeleteDefaultRoute(t testing.TB, n ns.NetNS, ifName string) {
	t.Helper()
	err := n.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(ifName)
		if err != nil {
			return err
		}
		rs, err := netlink.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Gw != nil {
				if err := netlink.RouteDel(&r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("delete default route on %s: %v", ifName, err)
	}
}
