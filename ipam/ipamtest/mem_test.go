package ipamtest

import (
	"testing"

	"github.com/cane-cni/cane/ipam"
)

func TestMemStoreContract(t *testing.T) {
	StoreContract(t, func(*testing.T) ipam.Store { return NewMemStore() }, nil)
}
