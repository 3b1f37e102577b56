package podnet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

func setup(t *testing.T) Config {
	t.Helper()
	needs.Root(t)
	host, pod := podnettest.NewNS(t), podnettest.NewNS(t)
	ip := netip.MustParseAddr("198.19.0.10")
	return Config{
		HostNS: host, NetNS: pod.Path(), IfName: "eth0", HostIfName: HostIfName("c1", "eth0"),
		MAC: MACFor(ip), Address: netip.PrefixFrom(ip, 24), Gateway: netip.MustParseAddr("198.19.0.1"), MTU: 1450,
	}
}

func TestHostIfName(t *testing.T) {
	n := HostIfName("0123456789abcdef0123456789abcdef", "eth0")
	if len(n) != 15 || !strings.HasPrefix(n, "cane") {
		t.Fatalf("HostIfName = %q", n)
	}
	if HostIfName("a", "eth0") == HostIfName("a", "eth1") {
		t.Fatal("two interfaces of one container share a host name")
	}
	if got := MACFor(netip.MustParseAddr("198.19.0.10")).String(); got != "0a:58:c6:13:00:0a" {
		t.Fatalf("MACFor = %s", got)
	}
}

func TestSetupCheckTeardown(t *testing.T) {
	cfg := setup(t)
	l, err := Setup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.HostIfName != cfg.HostIfName || l.PodIfIndex == 0 {
		t.Fatalf("link = %+v", l)
	}
	if err := Check(cfg); err != nil {
		t.Fatalf("Check after Setup: %v", err)
	}
	// The host end is in the host netns, not the caller's.
	if _, err := netlink.LinkByName(cfg.HostIfName); err == nil {
		t.Fatal("host end created in the test's own netns")
	}
	// A second Setup for the same interface fails and leaves the first intact.
	if _, err := Setup(cfg); err == nil {
		t.Fatal("second Setup succeeded")
	}
	if err := Check(cfg); err != nil {
		t.Fatalf("Check after failed second Setup: %v", err)
	}
	// Check notices a deleted route.
	podNS, _ := ns.GetNS(cfg.NetNS)
	defer podNS.Close()
	podnettest.DeleteDefaultRoute(t, podNS, "eth0")
	if err := Check(cfg); err == nil || !strings.Contains(err.Error(), "default route") {
		t.Fatalf("Check with route deleted = %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := Teardown(cfg); err != nil {
			t.Fatalf("Teardown #%d: %v", i+1, err)
		}
	}
	_ = podNS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName("eth0"); err == nil {
			t.Error("eth0 still in pod after Teardown")
		}
		return nil
	})
}

func TestTeardownNetNSGone(t *testing.T) {
	cfg := setup(t)
	cfg.NetNS = "/var/run/netns/does-not-exist"
	if err := Teardown(cfg); err != nil {
		t.Fatalf("Teardown with netns gone: %v", err)
	}
	if _, err := Setup(cfg); !errors.Is(err, ErrNoNetNS) {
		t.Fatalf("Setup with missing netns: %v, want ErrNoNetNS", err)
	}
}

func TestSetupRollsBack(t *testing.T) {
	cfg := setup(t)
	cfg.Gateway = netip.MustParseAddr("198.18.99.1") // not on the pod's subnet: route add fails
	if _, err := Setup(cfg); err == nil {
		t.Fatal("Setup with unreachable gateway succeeded")
	}
	_ = cfg.HostNS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName(cfg.HostIfName); err == nil {
			t.Error("failed Setup left the host end")
		}
		return nil
	})
}

// TestSetupShapesEgress: an egress limit becomes a token-bucket shaper on
// the pod's interface, inside the pod, with the burst capped at 100 ms.
func TestSetupShapesEgress(t *testing.T) {
	cfg := setup(t)
	cfg.Egress = Egress{Rate: 10_000_000, Burst: 1 << 40}
	if _, err := Setup(cfg); err != nil {
		t.Fatal(err)
	}
	pod, err := ns.GetNS(cfg.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	var tbf *netlink.Tbf
	_ = pod.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		qs, err := netlink.QdiscList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q, ok := q.(*netlink.Tbf); ok {
				tbf = q
			}
		}
		return nil
	})
	if tbf == nil {
		t.Fatal("no tbf on the pod's eth0")
	}
	if tbf.Rate != 10_000_000/8 {
		t.Errorf("tbf rate %d bytes/s, want %d", tbf.Rate, 10_000_000/8)
	}
	if tbf.Limit > 10_000_000/8 {
		t.Errorf("tbf limit %d bytes: the runtime's huge burst was not capped", tbf.Limit)
	}
	cfg.Egress = Egress{Rate: 7}
	cfg.IfName, cfg.HostIfName = "eth1", HostIfName("c1", "eth1")
	if _, err := Setup(cfg); err == nil {
		t.Error("a rate below 8 bit/s was accepted")
	}
}
