package daemon

import (
	"errors"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/podnet"
)

// cniError maps an internal error to the CNI error the runtime sees.
func cniError(msg string, err error) *types.Error {
	var code uint
	switch {
	case errors.Is(err, ipam.ErrPoolExhausted):
		code = api.CodePoolExhausted
	case errors.Is(err, ipam.ErrUnknownPool), errors.Is(err, ipam.ErrNoSubnet):
		code = api.CodeUnknownPool
	case errors.Is(err, ipam.ErrReservationBusy):
		code = api.CodeReservationBusy
	case errors.Is(err, podnet.ErrNoNetNS):
		code = types.ErrInvalidNetNS
	case errors.Is(err, errOVS):
		code = api.CodeOVS
	default:
		code = types.ErrInternal
	}
	return types.NewError(code, msg, err.Error())
}

// loanError is the CNI error for a borrower pod a lent node refuses.
func loanError(pool, node string, err error) *types.Error {
	code := uint(api.CodeNotLent)
	if errors.Is(err, ipam.ErrLoanFull) {
		code = api.CodeLoanFull
	}
	return types.NewError(code, fmt.Sprintf("pool %q is not available on node %s", pool, node), err.Error())
}

// errOVS marks failures of Open vSwitch operations.
var errOVS = errors.New("open vswitch")

type ovsError struct{ err error }

func (e ovsError) Error() string        { return e.err.Error() }
func (e ovsError) Is(target error) bool { return target == errOVS }
func (e ovsError) Unwrap() error        { return e.err }

func ovsErr(err error) error {
	if err == nil {
		return nil
	}
	return ovsError{err}
}
