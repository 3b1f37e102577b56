package daemon

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/netconf"
)

// gc removes every attachment of this network that the runtime does not
// list as valid, then gives back blocks with no address left. Attachments
// of other networks are not touched.
func (d *Daemon) gc(ctx context.Context, nc *netconf.NetConf) *types.Error {
	db, e := d.session()
	if e != nil {
		return e
	}
	valid := map[string]bool{}
	for _, v := range nc.ValidAttachments {
		valid[ipam.Handle(v.ContainerID, v.IfName)] = true
	}
	var errs []error
	for _, a := range d.ipam.List() {
		if valid[a.Handle()] {
			continue
		}
		d.mu.Lock()
		att := d.attachments[a.Handle()]
		d.mu.Unlock()
		if att != nil && att.network != "" && att.network != nc.Name {
			continue
		}
		netns := ""
		if att != nil {
			netns = att.netns
		}
		unlock := d.locks.Lock(a.ContainerID)
		err := d.detach(ctx, db, a.ContainerID, a.IfName, netns)
		unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.log.Info("garbage collected", "container", a.ContainerID, "ifname", a.IfName, "ip", a.IP)
	}
	if _, err := d.ipam.ReleaseEmptyBlocks(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cniError("garbage collection", err)
	}
	return nil
}
