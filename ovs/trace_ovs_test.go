package ovs_test

import (
	"net/netip"
	"testing"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ovs"
)

// TestTrace: ofproto/trace through go-openvswitch's client, with a typed
// packet, walks the real pipeline: a pod's packet to a same-domain pod is
// delivered by that pod's Forward flow, one to another domain's pod is
// dropped by isolation, and the steps carry the cookies that say so.
func TestTrace(t *testing.T) {
	o, c := newBridge(t)
	for _, p := range []ovs.PortConfig{
		{Bridge: "br-int", Name: "p10", Type: "internal", OFPortRequest: 10},
		{Bridge: "br-int", Name: "p11", Type: "internal", OFPortRequest: 11},
		{Bridge: "br-int", Name: "p12", Type: "internal", OFPortRequest: 12},
	} {
		if _, err := o.DB.AddPort(c, p); err != nil {
			t.Fatal(err)
		}
	}
	n := node
	peer := flows.Pod{OFPort: 12, MAC: []byte{0x0a, 0x58, 198, 19, 0, 3}, IP: netip.MustParseAddr("198.19.0.3"), VNI: 100}
	n.Pods = append(append([]flows.Pod(nil), node.Pods...), peer)
	var b ovs.Bundle
	b.Add(n.All()...)
	if err := o.OpenFlow().Apply(c, "br-int", &b); err != nil {
		t.Fatal(err)
	}
	pod := node.Pods[0]
	packet := func(dst string, mac []byte) []of.Match {
		return []of.Match{of.InPort(pod.OFPort), of.EthSrc(pod.MAC), of.EthDst(mac),
			of.IPv4Src(of.Host(pod.IP)), of.IPv4Dst(of.Host(netip.MustParseAddr(dst))), of.IPTTL(64), of.TCPSrc(40000), of.TCPDst(80)}
	}
	tr, err := o.OpenFlow().Trace(c, "br-int", of.ProtoTCP, packet("198.19.0.3", []byte{0x0a, 0x58, 198, 19, 0, 3})...)
	if err != nil {
		t.Fatal(err)
	}
	var fwd *ovs.TraceStep
	for i, s := range tr.Steps {
		if s.Table == flows.Forward {
			fwd = &tr.Steps[i]
		}
	}
	if fwd == nil || fwd.Cookie.Kind() != flows.KindPod || fwd.Cookie.Object() != 12 || tr.DatapathActions == "drop" {
		t.Fatalf("production pod to a production pod: Forward step %+v, datapath %q\n%s", fwd, tr.DatapathActions, tr.Raw)
	}
	tr, err = o.OpenFlow().Trace(c, "br-int", of.ProtoTCP, packet("198.19.1.2", []byte{0x0a, 0x58, 0, 0, 0, 1})...)
	if err != nil {
		t.Fatal(err)
	}
	var reason flows.Reason
	for _, s := range tr.Steps {
		if r := s.Cookie.Reason(); r != flows.ReasonNone {
			reason = r
		}
	}
	if reason != flows.ReasonIsolation || tr.DatapathActions != "drop" {
		t.Fatalf("production pod to a test pod: reason %s, datapath %q\n%s", reason, tr.DatapathActions, tr.Raw)
	}
}
