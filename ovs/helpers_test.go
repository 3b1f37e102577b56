package ovs_test

import (
	"context"
	"testing"
	"time"

	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/ovs/ovstest"
)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func newBridge(t testing.TB) (*ovstest.Instance, context.Context) {
	o := ovstest.Start(t)
	c := ctx(t)
	if err := o.DB.EnsureBridge(c, ovs.BridgeConfig{Name: "br-int", DatapathType: "netdev", ExternalIDs: map[string]string{"cane": "1"}}); err != nil {
		t.Fatal(err)
	}
	return o, c
}
