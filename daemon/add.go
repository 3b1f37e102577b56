package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/netconf"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// checkRequest validates what every verb about one attachment needs: the
// names (api's pure checks), and the netns if needNetns.
func checkRequest(req api.CNIRequest, needNetns bool) *types.Error {
	if e := req.CheckAttachment(); e != nil {
		return e
	}
	if needNetns {
		if req.Netns == "" {
			return types.NewError(types.ErrInvalidNetNS, "CNI_NETNS is empty", "")
		}
		n, err := ns.GetNS(req.Netns) // checks the file system type too
		if err != nil {
			return types.NewError(types.ErrInvalidNetNS, "CNI_NETNS is not a network namespace", fmt.Sprintf("%.256q: %v", req.Netns, err))
		}
		n.Close()
	}
	return nil
}

// begin starts an operation on one attachment: it validates the request,
// takes the OVSDB session (or answers 11, try again) and locks the
// container. Call the returned unlock when done.
func (d *Daemon) begin(req api.CNIRequest, needNetns bool) (*ovs.DB, func(), *types.Error) {
	if e := checkRequest(req, needNetns); e != nil {
		return nil, nil, e
	}
	db, e := d.session()
	if e != nil {
		return nil, nil, e
	}
	return db, d.locks.Lock(req.ContainerID), nil
}

// session is the OVSDB session, or the CNI error for its absence.
func (d *Daemon) session() (*ovs.DB, *types.Error) {
	db, err := d.ovsdb()
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "Open vSwitch is not reachable", err.Error())
	}
	return db, nil
}

// add attaches a pod. All or nothing: on error every step already done is
// undone in reverse order. Calls for one container are serialized.
func (d *Daemon) add(ctx context.Context, req api.CNIRequest, nc *netconf.NetConf) (json.RawMessage, *types.Error) {
	db, unlock, e := d.begin(req, true)
	if e != nil {
		return nil, e
	}
	defer unlock()
	args, err := netconf.ParseArgs(req.Args)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_ARGS", err.Error())
	}
	pool, err := d.choosePool(ctx, nc, args)
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "choose a pool", err.Error())
	}
	if pool == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "no pool chosen", `set "pool" in the network config, CANE_POOL in CNI_ARGS, the pod's cane.io/pool annotation or its namespace's cane.io/domain label`)
	}
	h := ipam.Handle(req.ContainerID, req.IfName)
	d.mu.Lock()
	existing := d.attachments[h]
	d.mu.Unlock()
	if existing != nil {
		return d.result(nc, existing)
	}
	loan, lendFrom := "", []string(nil)
	if v := d.view.Load(); !v.Usable[pool] && v.vni(poolDomain(v, pool)) != 0 {
		// Not this node's pool: only a loan lets its domain borrow the node.
		d.loanMu.Lock() // admission and the attachment it admits, one at a time
		defer d.loanMu.Unlock()
		l, err := ipam.Admit(v.Loans, poolDomain(v, pool), d.cfg.Node, v.Labels, v.MaxPods, d.borrowed(), time.Now())
		if errors.Is(err, ipam.ErrNotLent) {
			if gone := d.deletedLoans(v); len(gone) > 0 {
				err = fmt.Errorf("%w (loan %s was deleted; its pods here are draining)", err, strings.Join(gone, ", "))
			}
		}
		if err != nil {
			return nil, loanError(pool, d.cfg.Node, err)
		}
		loan = l.Name
		if l.LendBlocks { // the borrower's pools may run dry: lender pools this node uses may lend a block
			for _, p := range v.Pools {
				if v.Usable[p.Name] && slices.Contains(l.Lenders, p.Domain) {
					lendFrom = append(lendFrom, p.Name)
				}
			}
		}
	}

	var undo []func()
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()
	bg := context.WithoutCancel(ctx)

	steps := newStepTimer()
	alloc, err := d.ipam.Allocate(ipam.Request{Pool: pool, ContainerID: req.ContainerID, IfName: req.IfName, PodNamespace: args.PodNamespace, PodName: args.PodName,
		LendFrom: lendFrom, Loan: loan})
	if err != nil {
		return nil, cniError("allocate address", err)
	}
	if p, _ := d.ipam.Pool(alloc.Pool); p.Domain != alloc.Domain {
		// An address of a lent block: its flows (the block sealed to the
		// borrower) go in before the pod's.
		if err := d.syncFlowsLocked(ctx); err != nil {
			_, _, _ = d.ipam.Release(req.ContainerID, req.IfName)
			return nil, cniError("install the lent block's flows", ovsErr(err))
		}
	}
	undo = append(undo, func() { _, _, _ = d.ipam.Release(req.ContainerID, req.IfName) })
	steps.mark("allocated")
	crashPoint("add:allocated")
	p, _ := d.ipam.Pool(alloc.Pool)

	pc := podnet.Config{
		HostNS: d.hostNS, NetNS: req.Netns, IfName: req.IfName, HostIfName: podnet.HostIfName(req.ContainerID, req.IfName),
		MAC: podnet.MACFor(alloc.IP), Address: netip.PrefixFrom(alloc.IP, p.CIDR.Bits()), Gateway: p.Gateway, MTU: int(d.mtu.Load()),
		TxChecksumOff: d.overlay() && d.datapath.Load() == "netdev",
	}
	// On the userspace datapath the chained bandwidth plugin cannot shape
	// a pod's egress (vswitchd reads the host end before tc does); caned
	// shapes it inside the pod instead. Ingress still works there.
	if bw := nc.RuntimeConfig.Bandwidth; bw != nil && bw.EgressRate > 0 && d.datapath.Load() == "netdev" {
		pc.Egress = podnet.Egress{Rate: bw.EgressRate, Burst: bw.EgressBurst}
	}
	// A host end of this name is left from an ADD or DEL of this very
	// attachment that caned did not finish (the name derives from the
	// container ID and ifname): remove it, and its pod end with it.
	if err := podnet.RemoveHostEnd(d.hostNS, pc.HostIfName); err != nil {
		return nil, cniError("remove the veth of an unfinished attempt", err)
	}
	link, err := podnet.Setup(pc)
	if err != nil {
		return nil, cniError("set up pod interface", err)
	}
	undo = append(undo, func() { _ = podnet.Teardown(pc) })
	steps.mark("veth")
	crashPoint("add:veth")

	// The pod's flows go to vswitchd while it attaches the port: they name
	// the ofport Cane requests, which is the one it gets (Cane tracks every
	// ofport on its bridge), so neither step waits for the other.
	want := d.nextOFPort()
	att := &attachment{alloc: alloc, port: link.HostIfName, ofport: want, mac: pc.MAC, netns: req.Netns, network: nc.Name, loan: loan}
	flowsDone := make(chan error, 1)
	go func() { flowsDone <- d.applyPodFlows(ctx, att, 0) }()
	ofport, err := db.AddPort(ctx, ovs.PortConfig{
		Bridge: d.cfg.Bridge, Name: link.HostIfName, OFPortRequest: want,
		ExternalIDs: map[string]string{
			idContainer: req.ContainerID, idIfName: req.IfName, idNetns: req.Netns, idNetwork: nc.Name,
			idPodNS: args.PodNamespace, idPodName: args.PodName, idPool: alloc.Pool, idDomain: alloc.Domain, idIP: alloc.IP.String(),
			idLoan: loan,
		},
	})
	if err != nil {
		<-flowsDone
		_ = d.applyPodFlows(bg, nil, want) // before the ofport can go to another pod
		d.freeOFPort(want)
		return nil, cniError("attach to OVS", ovsErr(err))
	}
	moved := ofport == want // the flows are on the port's ofport
	undo = append(undo, func() {
		_ = db.DeletePort(bg, d.cfg.Bridge, link.HostIfName)
		_ = d.applyPodFlows(bg, nil, ofport)
		d.freeOFPort(ofport)
		if !moved {
			_ = d.applyPodFlows(bg, nil, want)
			d.freeOFPort(want)
		}
	})
	if err := podnet.HostEndUp(d.hostNS, link.HostIfName); err != nil {
		<-flowsDone
		return nil, cniError("set up pod interface", err)
	}
	steps.mark("port")
	crashPoint("add:port")

	flowsErr := <-flowsDone
	if flowsErr == nil && !moved { // OVS chose another ofport: the flows follow it
		d.mu.Lock()
		d.ofports[ofport] = true
		d.mu.Unlock()
		att.ofport = ofport
		if flowsErr = d.applyPodFlows(ctx, att, want); flowsErr == nil {
			moved = true
			d.freeOFPort(want)
		}
	}
	if flowsErr != nil {
		return nil, cniError("install pod flows", ovsErr(flowsErr))
	}
	steps.mark("flows")
	crashPoint("add:flows")
	d.mu.Lock()
	d.attachments[h] = att
	d.mu.Unlock()
	undo = nil
	d.log.Info("added", "container", req.ContainerID, "ifname", req.IfName, "pod", args.PodNamespace+"/"+args.PodName, "ip", alloc.IP, "domain", alloc.Domain, "ofport", ofport, "loan", loan, "took", steps.String())
	return d.result(nc, att)
}

// applyPodFlows installs the flows of att (nil: none) and deletes those
// of the pod on ofport old (0: none), in one bundle.
func (d *Daemon) applyPodFlows(ctx context.Context, att *attachment, old int) error {
	var b ovs.Bundle
	if old != 0 {
		b.DeleteCookie(flows.PodCookie(uint32(old)))
	}
	if att != nil {
		b.Add(flows.WithRound(flows.PodFlows(d.flowPod(att)), uint16(d.round.Load()))...)
	}
	return d.podFlows.Apply(ctx, &b)
}

// result is the CNI result for an attachment, in the netconf's version.
func (d *Daemon) result(nc *netconf.NetConf, a *attachment) (json.RawMessage, *types.Error) {
	p, _ := d.ipam.Pool(a.alloc.Pool)
	r := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: a.port},
			{Name: a.alloc.IfName, Mac: a.mac.String(), Sandbox: a.netns, Mtu: int(d.mtu.Load())},
		},
		IPs: []*current.IPConfig{{
			Interface: current.Int(1),
			Address:   net.IPNet{IP: a.alloc.IP.AsSlice(), Mask: net.CIDRMask(p.CIDR.Bits(), 32)},
			Gateway:   p.Gateway.AsSlice(),
		}},
		Routes: []*types.Route{{Dst: net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, GW: p.Gateway.AsSlice()}},
		DNS:    nc.DNS,
	}
	vr, err := r.GetAsVersion(nc.CNIVersion)
	if err != nil {
		return nil, types.NewError(types.ErrIncompatibleCNIVersion, "cannot express result in cniVersion "+nc.CNIVersion, err.Error())
	}
	data, err := json.Marshal(vr)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "encode result", err.Error())
	}
	return data, nil
}
