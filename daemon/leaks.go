package daemon

import (
	"context"
	"errors"
	"os"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
)

// Leaks lists what no runtime will ever DEL: addresses allocated to no
// pod on the node (an ADD that never finished), and pods whose netns is
// gone (a DEL that never came).
func (d *Daemon) Leaks() []api.Leak {
	var out []api.Leak
	for _, a := range d.ipam.List() {
		if why := d.leaked(a.Handle()); why != "" {
			out = append(out, api.Leak{ContainerID: a.ContainerID, IfName: a.IfName, Pod: podName(a), IP: a.IP, Why: why})
		}
	}
	return out
}

// leaked says why the allocation with this handle is a leak, or "".
func (d *Daemon) leaked(handle string) string {
	d.mu.Lock()
	att, ok := d.attachments[handle]
	d.mu.Unlock()
	if !ok {
		return "address allocated to no pod on this node"
	}
	if _, err := os.Stat(att.netns); att.netns != "" && err != nil {
		return "the pod's netns " + att.netns + " is gone"
	}
	return ""
}

// CollectLeaks removes every leak (see Leaks) the way DEL would, then
// gives back blocks left empty. With dryRun it only reports.
func (d *Daemon) CollectLeaks(ctx context.Context, dryRun bool) (api.GCReport, error) {
	leaks := d.Leaks()
	r := api.GCReport{DryRun: dryRun, Collected: []api.Leak{}}
	if dryRun {
		r.Collected = leaks
		return r, nil
	}
	db, e := d.session()
	if e != nil {
		return r, e
	}
	d.resync.RLock()
	defer d.resync.RUnlock()
	var errs []error
	for _, l := range leaks {
		// Under the container's lock, and only if it is still a leak: an
		// ADD that was in flight when Leaks looked has finished by now.
		unlock := d.locks.Lock(l.ContainerID)
		still := d.leaked(ipam.Handle(l.ContainerID, l.IfName)) != ""
		var err error
		if still {
			err = d.detach(ctx, db, l.ContainerID, l.IfName, "")
		}
		unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !still {
			continue
		}
		r.Collected = append(r.Collected, l)
		d.log.Info("leak collected", "container", l.ContainerID, "ip", l.IP, "why", l.Why)
	}
	freed, err := d.ipam.ReleaseEmptyBlocks(ctx)
	for _, b := range freed {
		r.Released = append(r.Released, b.CIDR)
	}
	return r, errors.Join(append(errs, err)...)
}
