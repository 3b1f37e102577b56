package daemon

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/nodenet"
	"github.com/cane-cni/cane/ovs"
)

// TestPodsFollowDomainVNI: production is deleted and made again with
// another VNI while a pod runs. The cluster sync moves the pod's flows to
// the new VNI (and its domain's host port with it); CHECK, which compares
// the installed flows with the desired, passes after; a restart finds
// nothing to change.
func TestPodsFollowDomainVNI(t *testing.T) {
	n := newNode(t)
	pod := n.addPod("ctr-a", "prod")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	att := n.d.atts.list()[0]
	if att.flowVNI.Load() != 100 {
		t.Fatalf("flows built with VNI %d, want production's 100", att.flowVNI.Load())
	}

	v := *n.d.views.load()
	v.Domains = slices.Clone(v.Domains)
	v.Domains[0].VNI = 300 // production, made again
	n.d.views.v.Store(&v)
	if _, err := n.cni("CHECK", "ctr-a", pod.Path(), "prod"); err == nil {
		t.Fatal("CHECK passed with the pod's flows on the old VNI: the test would prove nothing")
	}
	if err := n.d.syncHost(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.d.syncFlows(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.d.syncPodVNIs(ctx); err != nil {
		t.Fatal(err)
	}
	if att.flowVNI.Load() != 300 {
		t.Errorf("flows recorded on VNI %d, want 300", att.flowVNI.Load())
	}
	if _, err := n.cni("CHECK", "ctr-a", pod.Path(), "prod"); err != nil {
		t.Errorf("CHECK after the sync: %v", err)
	}
	installed := n.dump(flows.PodCookie(uint32(att.ofport)))
	want := n.d.pipe.withRound(flows.PodFlows(flows.Pod{OFPort: uint32(att.ofport), MAC: att.mac, IP: att.alloc.IP, VNI: 300}))
	if len(installed) != len(want) {
		t.Fatalf("%d pod flows installed, want %d", len(installed), len(want))
	}
	for _, w := range want {
		if !slices.ContainsFunc(installed, w.Equal) {
			t.Errorf("missing %s", w)
		}
	}
	if !n.hasPort(nodenet.HostPortName(300)) || n.hasPort(nodenet.HostPortName(100)) {
		t.Errorf("production's host port did not follow its VNI")
	}
}

// dump is the installed flows sel selects.
func (n *node) dump(sel of.Selector) []flows.Flow {
	n.t.Helper()
	fs, err := n.d.pipe.of.Dump(context.Background(), "br-int", sel)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []flows.Flow
	for _, f := range fs {
		out = append(out, f.Flow)
	}
	return out
}

// hasPort reports whether the bridge has a port of that name.
func (n *node) hasPort(name string) bool {
	ps, _ := must(n.d.sess.current()).Ports(context.Background(), "br-int")
	return slices.ContainsFunc(ps, func(p ovs.PortInfo) bool { return p.Name == name })
}
