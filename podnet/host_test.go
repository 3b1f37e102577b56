package podnet

import (
	"net"
	"net/netip"
	"sort"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// TestSetupHostPort: routes per pool through the host port follow the
// pools (added, kept, removed), other routes are untouched, MTU and state
// set. A veth stands in for OVS's internal port.
func TestSetupHostPort(t *testing.T) {
	needs.Root(t)
	host := podnettest.NewNS(t)
	h, err := netlink.NewHandleAt(netns.NsHandle(host.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cane-host"}, PeerName: "other"}); err != nil {
		t.Fatal(err)
	}
	other, _ := h.LinkByName("other")
	_ = h.LinkSetUp(other)
	otherRoute := &netlink.Route{LinkIndex: other.Attrs().Index, Dst: mustNet("198.18.5.0/24")}
	if err := h.RouteAdd(otherRoute); err != nil {
		t.Fatal(err)
	}
	prod, test := netip.MustParsePrefix("198.19.0.0/24"), netip.MustParsePrefix("198.19.1.0/24")
	routes := func() []string {
		l, _ := h.LinkByName("cane-host")
		rs, err := h.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Dst.String())
		}
		sort.Strings(out)
		return out
	}
	for _, step := range []struct {
		name string
		want []netip.Prefix
		got  []string
	}{
		{"two pools", []netip.Prefix{prod, test}, []string{"198.19.0.0/24", "198.19.1.0/24"}},
		{"again: idempotent", []netip.Prefix{prod, test}, []string{"198.19.0.0/24", "198.19.1.0/24"}},
		{"test pool removed", []netip.Prefix{prod}, []string{"198.19.0.0/24"}},
		{"no pools", nil, nil},
	} {
		if err := SetupHostPort(host, "cane-host", 1450, step.want); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := routes(); len(got) != len(step.got) || (len(got) > 0 && !equal(got, step.got)) {
			t.Errorf("%s: routes %v, want %v", step.name, got, step.got)
		}
	}
	if err := SetupHostPort(host, "cane-host", 1450, []netip.Prefix{prod}); err != nil {
		t.Fatal(err)
	}
	up, rs, err := HostPortRoutes(host, "cane-host")
	if err != nil || !up || len(rs) != 1 || rs[0] != prod {
		t.Errorf("HostPortRoutes = %v %v %v, want up and [%s]", up, rs, err, prod)
	}
	l, _ := h.LinkByName("cane-host")
	if l.Attrs().MTU != 1450 || l.Attrs().Flags&1 == 0 {
		t.Errorf("host port MTU %d flags %v, want 1450 and up", l.Attrs().MTU, l.Attrs().Flags)
	}
	otherRoutes, _ := h.RouteList(other, netlink.FAMILY_V4)
	if len(otherRoutes) != 1 {
		t.Errorf("a route of another link was touched: %v", otherRoutes)
	}
	if err := SetupHostPort(host, "missing", 1450, nil); err == nil {
		t.Error("no error for a missing host port")
	}
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func mustNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}
