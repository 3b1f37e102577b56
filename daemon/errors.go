package daemon

import (
	"errors"

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
	case errors.Is(err, ipam.ErrUnknownPool):
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
