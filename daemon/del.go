package daemon

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// del detaches a pod. Idempotent: a missing netns, port, veth or address
// is fine. It needs only the container ID and ifname: the port and veth
// names derive from them, so a DEL after a caned restart or crash finds
// everything. The address is released last, so it is never handed out
// while any piece of the old attachment remains.
func (d *Daemon) del(ctx context.Context, req api.CNIRequest) *types.Error {
	db, unlock, e := d.begin(req, false)
	if e != nil {
		return e
	}
	defer unlock()
	a := d.attachment(req.ContainerID, req.IfName)
	if err := d.detach(ctx, db, req.ContainerID, req.IfName, req.Netns); err != nil {
		return cniError("delete attachment", err)
	}
	if a != nil && a.loan != "" {
		go d.tendLoans(context.WithoutCancel(ctx)) // its block may go back now
	}
	return nil
}

// detach removes flows, port, veth and address of one attachment. Call
// with the container's lock held.
func (d *Daemon) detach(ctx context.Context, db *ovs.DB, containerID, ifName, netns string) error {
	h := ipam.Handle(containerID, ifName)
	name := podnet.HostIfName(containerID, ifName)
	if p, err := db.Port(ctx, d.cfg.Bridge, name); err == nil {
		if p.OFPort > 0 {
			var b ovs.Bundle
			b.DeleteCookie(flows.PodCookie(uint32(p.OFPort)))
			if err := d.of.Apply(ctx, d.cfg.Bridge, &b); err != nil {
				return ovsErr(err)
			}
			crashPoint("del:flows")
		}
		if netns == "" {
			netns = p.ExternalIDs[idNetns]
		}
		if err := db.DeletePort(ctx, d.cfg.Bridge, name); err != nil {
			return ovsErr(err)
		}
		d.freeOFPort(p.OFPort)
		crashPoint("del:port")
	}
	if err := podnet.Teardown(podnet.Config{HostNS: d.hostNS, NetNS: netns, IfName: ifName, HostIfName: name}); err != nil {
		return err
	}
	crashPoint("del:veth")
	a, released, err := d.ipam.Release(ctx, containerID, ifName)
	if err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.attachments, h)
	d.mu.Unlock()
	if released {
		d.log.Info("deleted", "container", containerID, "ifname", ifName, "ip", a.IP)
	}
	return nil
}

// check verifies an attachment: allocation, veth, address, route, OVS port
// and the pod's flows.
func (d *Daemon) check(ctx context.Context, req api.CNIRequest) *types.Error {
	db, unlock, e := d.begin(req, true)
	if e != nil {
		return e
	}
	defer unlock()
	a := d.attachment(req.ContainerID, req.IfName)
	if a == nil {
		return types.NewError(types.ErrUnknownContainer, "no attachment for this container", req.ContainerID+"/"+req.IfName)
	}
	p, _ := d.ipam.Pool(a.alloc.Pool)
	pc := podnet.Config{
		HostNS: d.hostNS, NetNS: req.Netns, IfName: req.IfName, HostIfName: a.port,
		MAC: a.mac, Address: netip.PrefixFrom(a.alloc.IP, p.CIDR.Bits()), Gateway: p.Gateway, MTU: int(d.mtu.Load()),
	}
	if err := podnet.Check(pc); err != nil {
		return cniError("check pod interface", err)
	}
	port, err := db.Port(ctx, d.cfg.Bridge, a.port)
	if err != nil || port.OFPort != a.ofport {
		return cniError("check OVS port", ovsErr(fmt.Errorf("port %s: ofport %d, want %d: %v", a.port, port.OFPort, a.ofport, err)))
	}
	installed, err := d.of.Dump(ctx, d.cfg.Bridge, flows.PodCookie(uint32(a.ofport)))
	if err != nil {
		return cniError("check pod flows", ovsErr(err))
	}
	if want := len(flows.PodFlows(d.flowPod(a))); len(installed) != want {
		return cniError("check pod flows", ovsErr(fmt.Errorf("%d of the pod's %d flows installed", len(installed), want)))
	}
	return nil
}

// attachment is the container interface's attachment, nil if none.
func (d *Daemon) attachment(containerID, ifName string) *attachment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attachments[ipam.Handle(containerID, ifName)]
}
