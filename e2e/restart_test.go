package e2e

import (
	"testing"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
)

// TestRestarts: caned restarts (graceful and kill -9) under live traffic
// across nodes lose nothing; an ovs-vswitchd restart is an outage, which
// caned ends by replaying the flows, and its length is measured.
func TestRestarts(t *testing.T) {
	tb, c, _, nodes := startCluster(t, 2)
	prod1 := mustAddPod(t, tb, c, nodes[0], "shop/prod1", "prod")
	prod2 := mustAddPod(t, tb, c, nodes[1], "shop/prod2", "prod")
	expect(t, true, 7800, [2]*testbed.Pod{prod1, prod2}, [2]*testbed.Pod{prod2, prod1})
	status := func(n *testbed.Node) api.Status {
		var s api.Status
		if err := n.Client().Get(c, "/v1/status", &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const interval = 5 * time.Millisecond

	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "caned stopped and started", true: "caned killed with SIGKILL"}[kill]
		t.Run(name, func(t *testing.T) {
			out, err := testbed.StartStream(prod1.NS, prod2.NS, prod2.IP, 7810, interval)
			if err != nil {
				t.Fatal(err)
			}
			back, err := testbed.StartStream(prod2.NS, prod1.NS, prod1.IP, 7811, interval)
			if err != nil {
				t.Fatal(err)
			}
			before := status(nodes[0]).Round
			time.Sleep(100 * time.Millisecond)
			stop := nodes[0].StopCaned
			if kill {
				stop = nodes[0].KillCaned
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := nodes[0].StartCaned(c); err != nil {
				t.Fatal(err)
			}
			t.Logf("caned ready %s after start", time.Since(start).Round(time.Millisecond))
			if r := status(nodes[0]).Round; r != before {
				t.Errorf("round %d after restart, want the bridge's %d (nothing rewritten)", r, before)
			}
			time.Sleep(200 * time.Millisecond)
			for dir, s := range map[string]*testbed.Stream{"node1 -> node2": out, "node2 -> node1": back} {
				sent, lost := s.Stop()
				t.Logf("%s: %d sent, %d lost", dir, sent, len(lost))
				if len(lost) > 0 {
					t.Errorf("%s lost %d of %d datagrams: %v", dir, len(lost), sent, lost)
				}
			}
			if err := tb.Check(c, prod1); err != nil {
				t.Errorf("CHECK after restart: %v", err)
			}
		})
	}

	t.Run("ovs-vswitchd restarted: outage measured", func(t *testing.T) {
		s, err := testbed.StartStream(prod1.NS, prod2.NS, prod2.IP, 7820, interval)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		before := status(nodes[0]).Resyncs
		if err := nodes[0].OVS.StopSwitch(); err != nil {
			t.Fatal(err)
		}
		if err := nodes[0].OVS.StartSwitch(c); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 20*time.Second, "flows replayed", func() bool { return status(nodes[0]).Resyncs > before })
		time.Sleep(300 * time.Millisecond)
		sent, lost := s.Stop()
		t.Logf("vswitchd restart: %d of %d datagrams lost, an outage of about %s", len(lost), sent, time.Duration(len(lost))*interval)
		// The outage must have ended: every datagram of the last 200 ms
		// (sent after the replay) arrived.
		tail := uint32(sent) - uint32(200*time.Millisecond/interval)
		for _, seq := range lost {
			if seq > tail {
				t.Errorf("traffic did not recover after the replay: datagram %d of %d lost", seq, sent)
				break
			}
		}
		expect(t, true, 7830, [2]*testbed.Pod{prod1, prod2})
	})
}
