package daemon

import (
	"context"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// del detaches a pod. Idempotent: a missing netns, port, veth or address
// is fine. It needs only the container ID and ifname: the port and veth
// names derive from them, so a DEL after a caned restart or crash finds
// everything.
func (a *attacher) del(ctx context.Context, req api.CNIRequest) *types.Error {
	o, e := a.begin(req, false)
	if e != nil {
		return e
	}
	defer o.end()
	att := a.atts.get(ipam.Handle(req.ContainerID, req.IfName))
	if err := a.detach(ctx, o.db, req.ContainerID, req.IfName, req.Netns); err != nil {
		return cniError("delete attachment", err)
	}
	if att != nil && att.loan != "" {
		a.loans.poke() // its block may go back now
	}
	return nil
}

// detach removes flows, port, veth and address of one attachment, in that
// order: the address goes last, so it is never handed out while any piece
// of the old attachment remains. Call with the container's lock held.
func (a *attacher) detach(ctx context.Context, db *ovs.DB, containerID, ifName, netns string) error {
	name := podnet.HostIfName(containerID, ifName)
	if p, err := db.Port(ctx, a.cfg.Bridge, name); err == nil {
		if err := a.unport(ctx, db, p); err != nil {
			return err
		}
		if netns == "" {
			netns = p.ExternalIDs[idNetns]
		}
	}
	if err := podnet.Teardown(podnet.Config{HostNS: a.hostNS, NetNS: netns, IfName: ifName, HostIfName: name}); err != nil {
		return err
	}
	crashPoint("del:veth")
	alloc, released, err := a.ipam.Release(containerID, ifName)
	if err != nil {
		return err
	}
	a.atts.remove(ipam.Handle(containerID, ifName))
	if released {
		a.log.Info("deleted", "container", containerID, "ifname", ifName, "ip", alloc.IP)
	}
	return nil
}

// unport removes a pod port's flows (by cookie) and then the port.
func (a *attacher) unport(ctx context.Context, db *ovs.DB, p ovs.PortInfo) error {
	if p.OFPort > 0 {
		if err := a.pipe.deletePod(ctx, p.OFPort); err != nil {
			return ovsErr(err)
		}
		crashPoint("del:flows")
	}
	if err := db.DeletePort(ctx, a.cfg.Bridge, p.Name); err != nil {
		return ovsErr(err)
	}
	a.atts.freeOFPort(p.OFPort)
	crashPoint("del:port")
	return nil
}
