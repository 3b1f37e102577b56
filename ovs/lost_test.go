package ovs_test

import (
	"testing"
	"time"

	"github.com/cane-cni/cane/ovs/ovstest"
)

// TestLost: when ovsdb-server goes away, the DB says so.
func TestLost(t *testing.T) {
	o := ovstest.Start(t)
	if !o.DB.Connected() {
		t.Fatal("not connected")
	}
	if err := o.StopDB(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.DB.Lost():
	case <-time.After(10 * time.Second):
		t.Fatalf("Lost not closed 10s after ovsdb-server stopped; Connected() = %v", o.DB.Connected())
	}
	if o.DB.Connected() {
		t.Fatal("still Connected() after the server went away")
	}
}

// TestWatchSwitch: the watch ends when vswitchd stops, not before.
func TestWatchSwitch(t *testing.T) {
	o, c := newBridge(t)
	gone, err := o.OpenFlow().Watch(c, "br-int")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
		t.Fatal("watch ended while vswitchd runs")
	case <-time.After(6 * time.Second): // past OVS's 5s inactivity probe: echoes are answered
	}
	if err := o.StopSwitch(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not notice vswitchd stopping")
	}
}
