package ovs_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// TestNative: flows go in, come out and go by cookie without any process
// (an Exec that fails the test), and a bad flow mod fails the whole bundle.
func TestNative(t *testing.T) {
	o, c := newBridge(t)
	var fail ovs.ExecFunc = func(_ context.Context, _ []byte, name string, args ...string) ([]byte, error) {
		t.Fatalf("%s %v ran: the native path should have done this", name, args)
		return nil, nil
	}
	native := &ovs.OpenFlow{RunDir: o.Dir, Exec: fail}
	mac, _ := net.ParseMAC("0a:58:c6:13:00:05")
	var want []of.Flow
	for i, ip := range []string{"198.19.0.5", "198.19.0.6"} {
		p := flows.Pod{OFPort: uint32(10 + i), MAC: mac, IP: netip.MustParseAddr(ip), VNI: 100}
		want = append(want, flows.WithRound(flows.PodFlows(p), 3)...)
	}
	var b ovs.Bundle
	b.Add(want...)
	if err := native.Apply(c, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	missing, extra, err := native.Diff(c, "br-int", want)
	if err != nil || len(missing)+len(extra) != 0 {
		t.Fatalf("after the native bundle: missing %v, extra %v, %v", missing, extra, err)
	}
	var del ovs.Bundle
	del.Delete(flows.PodCookie(10))
	if err := native.Apply(c, "br-int", &del); err != nil {
		t.Fatal(err)
	}
	left, err := native.Dump(c, "br-int", of.Selector{})
	if err != nil || len(left) != len(want)/2 {
		t.Fatalf("%d flows left after deleting one pod's, want %d (%v)", len(left), len(want)/2, err)
	}
	// Strict deletes by key remove exactly one flow each.
	var strict ovs.Bundle
	strict.DeleteStrictKey(left[0].Key())
	strict.DeleteStrict(left[1].Flow)
	if err := native.Apply(c, "br-int", &strict); err != nil {
		t.Fatal(err)
	}
	if now, _ := native.Dump(c, "br-int", of.Selector{}); len(now) != len(left)-2 {
		t.Fatalf("%d flows after two strict deletes, want %d", len(now), len(left)-2)
	}
	// A bad flow mod fails the whole bundle: nothing of it is installed.
	var bad ovs.Bundle
	p := flows.Pod{OFPort: 99, MAC: mac, IP: netip.MustParseAddr("198.19.0.9"), VNI: 100}
	bad.Add(flows.PodFlows(p)...)
	bad.Add(backwards(99))
	if err := native.Apply(c, "br-int", &bad); err == nil {
		t.Fatal("a bundle with a bad flow was applied")
	}
	if fs, _ := native.Dump(c, "br-int", flows.PodCookie(99)); len(fs) != 0 {
		t.Fatalf("%d flows of a failed bundle installed", len(fs))
	}
}
