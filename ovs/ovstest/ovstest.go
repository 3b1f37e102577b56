// Package ovstest runs private Open vSwitch instances: Server (one
// instance with its own run dir, for tests, the e2e testbed and the
// sandbox) and Start (one for a test, inside a throwaway network
// namespace, torn down when the test ends, failed or not). It lives
// outside package ovs so that caned does not link it.
package ovstest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/internal/needs"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet/podnettest"
)

// Skip skips the test unless it runs as root with OVS installed; with
// CANE_REQUIRE_ROOT=1 (make test) it fails instead (internal/needs).
func Skip(t testing.TB) {
	t.Helper()
	needs.RootAnd(t, needs.OVS)
}

// Instance is a running OVS for one test.
type Instance struct {
	*Server
	NS ns.NetNS
	DB *ovs.DB
}

// Start runs ovsdb-server and ovs-vswitchd in a new netns and connects to
// the database.
func Start(t testing.TB) *Instance {
	t.Helper()
	Skip(t)
	n := podnettest.NewNS(t)
	dir, err := os.MkdirTemp("", "cane-ovs-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, NetNS: filepath.Base(n.Path())}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "ovs-vswitchd.log")); err == nil {
				t.Logf("ovs-vswitchd.log:\n%s", tail(string(log), 3000))
			}
		}
		os.RemoveAll(dir)
	})
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start OVS: %v", err)
	}
	db, err := ovs.Connect(ctx, s.DBEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &Instance{Server: s, NS: n, DB: db}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
