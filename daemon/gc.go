package daemon

import (
	"context"
	"errors"
	"os"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/netconf"
	"github.com/cane-cni/cane/ovs"
)

// gc (CNI GC) removes every attachment of this network that the runtime
// does not list as valid, then gives back blocks with no address left.
// Attachments of other networks are not touched.
func (a *attacher) gc(ctx context.Context, nc *netconf.NetConf) *types.Error {
	db, e := a.sess.forCNI()
	if e != nil {
		return e
	}
	valid := map[string]bool{}
	for _, v := range nc.ValidAttachments {
		valid[ipam.Handle(v.ContainerID, v.IfName)] = true
	}
	var errs []error
	for _, alloc := range a.ipam.List() {
		att := a.atts.get(alloc.Handle())
		if valid[alloc.Handle()] || (att != nil && att.network != "" && att.network != nc.Name) {
			continue
		}
		netns := ""
		if att != nil {
			netns = att.netns
		}
		unlock := a.locks.Lock(alloc.ContainerID)
		err := a.detach(ctx, db, alloc.ContainerID, alloc.IfName, netns)
		unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.log.Info("garbage collected", "container", alloc.ContainerID, "ifname", alloc.IfName, "ip", alloc.IP)
	}
	if _, err := a.ipam.ReleaseEmptyBlocks(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cniError("garbage collection", err)
	}
	return nil
}

// Leaks lists what no runtime will ever DEL: addresses allocated to no
// pod on the node (an ADD that never finished), and pods whose netns is
// gone (a DEL that never came).
func (a *attacher) Leaks() []api.Leak {
	var out []api.Leak
	for _, alloc := range a.ipam.List() {
		if why := a.leaked(alloc.Handle()); why != "" {
			out = append(out, api.Leak{ContainerID: alloc.ContainerID, IfName: alloc.IfName, Pod: podName(alloc), IP: alloc.IP, Why: why})
		}
	}
	return out
}

// leaked says why the allocation with this handle is a leak, or "".
func (a *attacher) leaked(handle string) string {
	att := a.atts.get(handle)
	if att == nil {
		return "address allocated to no pod on this node"
	}
	if _, err := os.Stat(att.netns); att.netns != "" && err != nil {
		return "the pod's netns " + att.netns + " is gone"
	}
	return ""
}

// CollectLeaks removes every leak (see Leaks) the way DEL would, then
// gives back blocks left empty. With dryRun it only reports.
func (a *attacher) CollectLeaks(ctx context.Context, dryRun bool) (api.GCReport, error) {
	leaks := a.Leaks()
	r := api.GCReport{DryRun: dryRun, Collected: []api.Leak{}}
	if dryRun {
		r.Collected = leaks
		return r, nil
	}
	db, e := a.sess.forCNI()
	if e != nil {
		return r, e
	}
	defer a.pipe.shared()()
	var errs []error
	for _, l := range leaks {
		collected, err := a.collect(ctx, db, l)
		if err != nil {
			errs = append(errs, err)
		}
		if collected {
			r.Collected = append(r.Collected, l)
			a.log.Info("leak collected", "container", l.ContainerID, "ip", l.IP, "why", l.Why)
		}
	}
	freed, err := a.ipam.ReleaseEmptyBlocks(ctx)
	for _, b := range freed {
		r.Released = append(r.Released, b.CIDR)
	}
	return r, errors.Join(append(errs, err)...)
}

// collect detaches one leak under the container's lock, and only if it is
// still a leak: an ADD that was in flight when Leaks looked has finished.
func (a *attacher) collect(ctx context.Context, db *ovs.DB, l api.Leak) (bool, error) {
	unlock := a.locks.Lock(l.ContainerID)
	defer unlock()
	if a.leaked(ipam.Handle(l.ContainerID, l.IfName)) == "" {
		return false, nil
	}
	if err := a.detach(ctx, db, l.ContainerID, l.IfName, ""); err != nil {
		return false, err
	}
	return true, nil
}
