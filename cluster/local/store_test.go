package local

import (
	"path/filepath"
	"testing"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ipam/ipamtest"
)

func TestStoreContract(t *testing.T) {
	var path string
	var cur *Store
	open := func(t *testing.T) ipam.Store {
		path = filepath.Join(t.TempDir(), "cane.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cur = s
		t.Cleanup(func() { s.Close() })
		return s
	}
	reopen := func(t *testing.T) ipam.Store {
		cur.Close()
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ipamtest.StoreContract(t, open, reopen)
}
