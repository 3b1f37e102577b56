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
