package daemon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/netconf"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// addReq is one ADD as its steps see it.
type addReq struct {
	api.CNIRequest
	nc   *netconf.NetConf
	args netconf.Args
	pool string
	adm  admission
}

func (r *addReq) handle() string { return ipam.Handle(r.ContainerID, r.IfName) }

// add attaches a pod: address, veth, OVS port and flows. All or nothing:
// on error every step already done is undone in reverse order (undo.go).
// Idempotent: an attachment that exists is returned as is. Calls for one
// container are serialized.
func (a *attacher) add(ctx context.Context, creq api.CNIRequest, nc *netconf.NetConf) (json.RawMessage, *types.Error) {
	o, e := a.begin(creq, true)
	if e != nil {
		return nil, e
	}
	defer o.end()
	req := &addReq{CNIRequest: creq, nc: nc}
	if e := a.resolve(ctx, req); e != nil {
		return nil, e
	}
	if att := a.atts.get(req.handle()); att != nil {
		return a.result(nc, att)
	}
	if req.adm, e = a.loans.admit(req.pool); e != nil {
		return nil, e
	}
	defer req.adm.done()
	u := newUndo(a.log, "add", req.ContainerID)
	defer u.run()
	att, e := a.attach(ctx, o.db, req, u)
	if e != nil {
		return nil, e
	}
	u.disarm()
	return a.result(nc, att)
}

// resolve reads CNI_ARGS and chooses the pod's pool.
func (a *attacher) resolve(ctx context.Context, req *addReq) *types.Error {
	args, err := netconf.ParseArgs(req.Args)
	if err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_ARGS", err.Error())
	}
	req.args = args
	pool, e := a.pools.choose(ctx, req.nc, args)
	req.pool = pool
	return e
}

// attach runs the steps that make the attachment, each pushing its undo.
func (a *attacher) attach(ctx context.Context, db *ovs.DB, req *addReq, u *undo) (*attachment, *types.Error) {
	steps := newStepTimer()
	alloc, e := a.allocate(ctx, req, u)
	if e != nil {
		return nil, e
	}
	steps.mark("allocated")
	crashPoint("add:allocated")
	link, e := a.createVeth(req, alloc, u)
	if e != nil {
		return nil, e
	}
	steps.mark("veth")
	crashPoint("add:veth")
	att, e := a.plug(ctx, db, req, alloc, link, u, steps)
	if e != nil {
		return nil, e
	}
	a.atts.put(req.handle(), att)
	if err := a.refreshVNI(ctx, att); err != nil { // the domain's VNI changed while it attached
		a.log.Warn("pod flows on an old VNI; the cluster sync retries", "err", err)
	}
	a.log.Info("added", "container", req.ContainerID, "ifname", req.IfName, "pod", req.args.PodNamespace+"/"+req.args.PodName,
		"ip", alloc.IP, "domain", alloc.Domain, "ofport", att.ofport, "loan", req.adm.loan, "took", steps.String())
	return att, nil
}

// allocate takes the pod's address. An address of a lent block has its
// flows (the block sealed to the borrower) installed before the pod's.
func (a *attacher) allocate(ctx context.Context, req *addReq, u *undo) (ipam.Allocation, *types.Error) {
	alloc, err := a.ipam.Allocate(ctx, ipam.Request{Pool: req.pool, ContainerID: req.ContainerID, IfName: req.IfName,
		PodNamespace: req.args.PodNamespace, PodName: req.args.PodName, LendFrom: req.adm.lendFrom, Loan: req.adm.loan})
	if err != nil {
		return alloc, cniError("allocate address", err)
	}
	u.push("release address", func() error {
		_, _, err := a.ipam.Release(context.WithoutCancel(ctx), req.ContainerID, req.IfName)
		return err
	})
	if pool, _ := a.ipam.Pool(alloc.Pool); pool.Domain != alloc.Domain {
		if err := a.pipe.sync(ctx, a.want.base()); err != nil {
			return alloc, cniError("install the lent block's flows", ovsErr(err))
		}
	}
	return alloc, nil
}

// createVeth makes the veth with its peer in the pod, configured.
func (a *attacher) createVeth(req *addReq, alloc ipam.Allocation, u *undo) (podnet.Link, *types.Error) {
	addr, err := alloc.Address()
	if err != nil {
		return podnet.Link{}, cniError("set up pod interface", err)
	}
	pc := podnet.Config{
		HostNS: a.hostNS, NetNS: req.Netns, IfName: req.IfName, HostIfName: podnet.HostIfName(req.ContainerID, req.IfName),
		MAC: podnet.MACFor(alloc.IP), Address: addr, Gateway: alloc.Gateway, MTU: a.bridge.podMTUInForce(),
		TxChecksumOff: a.bridge.txChecksumOff(),
	}
	// On the userspace datapath the chained bandwidth plugin cannot shape
	// a pod's egress (vswitchd reads the host end before tc does); caned
	// shapes it inside the pod instead. Ingress still works there.
	if bw := req.nc.RuntimeConfig.Bandwidth; bw != nil && bw.EgressRate > 0 && a.sess.dp() == "netdev" {
		pc.Egress = podnet.Egress{Rate: bw.EgressRate, Burst: bw.EgressBurst}
	}
	// A host end of this name is left from an ADD or DEL of this very
	// attachment that caned did not finish (the name derives from the
	// container ID and ifname): remove it, and its pod end with it.
	if err := podnet.RemoveHostEnd(a.hostNS, pc.HostIfName); err != nil {
		return podnet.Link{}, cniError("remove the veth of an unfinished attempt", err)
	}
	link, err := podnet.Setup(pc)
	if err != nil {
		return link, cniError("set up pod interface", err)
	}
	u.push("remove veth", func() error { return podnet.Teardown(pc) })
	return link, nil
}

// plug attaches the host end to OVS and installs the pod's flows. The
// flows go to vswitchd while it attaches the port: they name the ofport
// Cane requests, which is the one it gets (Cane tracks every ofport on its
// bridge), so neither step waits for the other. If OVS hands out another
// ofport after all, the flows follow it in one bundle.
func (a *attacher) plug(ctx context.Context, db *ovs.DB, req *addReq, alloc ipam.Allocation, link podnet.Link, u *undo, steps *stepTimer) (*attachment, *types.Error) {
	want := a.atts.reserveOFPort()
	att := &attachment{alloc: alloc, port: link.HostIfName, ofport: want, mac: podnet.MACFor(alloc.IP), netns: req.Netns, network: req.nc.Name, loan: req.adm.loan}
	pod := a.want.pod(att)
	att.flowVNI.Store(pod.VNI)
	flowsDone := make(chan error, 1)
	go func() { flowsDone <- a.pipe.applyPod(ctx, &pod, 0) }()
	bg := context.WithoutCancel(ctx) // undo runs even when the runtime gave up
	ofport, err := db.AddPort(ctx, a.portConfig(req, alloc, link, want))
	if err != nil {
		flowsErr := <-flowsDone
		a.dropFlows(bg, want, flowsErr) // before the ofport can go to another pod
		return nil, cniError("attach to OVS", ovsErr(err))
	}
	u.push("detach from OVS", func() error { return a.unplug(bg, db, link.HostIfName, att.ofport, want) })
	if err := podnet.HostEndUp(a.hostNS, link.HostIfName); err != nil {
		<-flowsDone
		return nil, cniError("set up pod interface", err)
	}
	steps.mark("port")
	crashPoint("add:port")
	if err := a.followOFPort(ctx, att, ofport, <-flowsDone); err != nil {
		return nil, cniError("install pod flows", ovsErr(err))
	}
	steps.mark("flows")
	crashPoint("add:flows")
	return att, nil
}

// followOFPort moves the pod's flows to the ofport OVS gave, if that is
// not the one requested (flowsErr: how installing them went).
func (a *attacher) followOFPort(ctx context.Context, att *attachment, ofport int, flowsErr error) error {
	if flowsErr != nil || ofport == att.ofport {
		return flowsErr
	}
	requested := att.ofport
	a.atts.holdOFPort(ofport)
	att.ofport = ofport
	pod := a.want.pod(att)
	att.flowVNI.Store(pod.VNI)
	if err := a.pipe.applyPod(ctx, &pod, requested); err != nil {
		return err
	}
	a.atts.freeOFPort(requested)
	return nil
}

// dropFlows removes the flows installed for ofport of a pod whose port
// could not be attached, and frees the ofport.
func (a *attacher) dropFlows(ctx context.Context, ofport int, installErr error) {
	if err := a.pipe.applyPod(ctx, nil, ofport); err != nil {
		a.log.Error("rollback: remove the flows of a pod whose port failed", "ofport", ofport, "installErr", installErr, "err", err)
		return // the ofport stays reserved: its flows may still be there
	}
	a.atts.freeOFPort(ofport)
}

// unplug undoes plug: the port, the flows on the ofport the pod got and
// on the one it asked for.
func (a *attacher) unplug(ctx context.Context, db *ovs.DB, port string, got, requested int) error {
	if err := db.DeletePort(ctx, a.cfg.Bridge, port); err != nil {
		return fmt.Errorf("delete port %s: %w", port, err)
	}
	for _, p := range uniq(got, requested) {
		if err := a.pipe.applyPod(ctx, nil, p); err != nil {
			return fmt.Errorf("delete flows on ofport %d: %w", p, err)
		}
		a.atts.freeOFPort(p)
	}
	return nil
}

func uniq(a, b int) []int {
	if a == b {
		return []int{a}
	}
	return []int{a, b}
}

// portConfig is the pod's OVS port: named after its host end, with the
// ofport Cane requests and external_ids a restarted caned rebuilds the
// attachment from.
func (a *attacher) portConfig(req *addReq, alloc ipam.Allocation, link podnet.Link, ofport int) ovs.PortConfig {
	return ovs.PortConfig{
		Bridge: a.cfg.Bridge, Name: link.HostIfName, OFPortRequest: ofport,
		ExternalIDs: map[string]string{
			idContainer: req.ContainerID, idIfName: req.IfName, idNetns: req.Netns, idNetwork: req.nc.Name,
			idPodNS: req.args.PodNamespace, idPodName: req.args.PodName, idPool: alloc.Pool, idDomain: alloc.Domain,
			idIP: alloc.IP.String(), idLoan: req.adm.loan,
		},
	}
}

// External IDs Cane puts on the OVS ports it owns.
const (
	idContainer = "cane.io/container"
	idIfName    = "cane.io/ifname"
	idNetns     = "cane.io/netns"
	idNetwork   = "cane.io/network"
	idPodNS     = "cane.io/pod-namespace"
	idPodName   = "cane.io/pod-name"
	idPool      = "cane.io/pool"
	idDomain    = "cane.io/domain"
	idIP        = "cane.io/ip"
	idLoan      = "cane.io/loan"  // the loan a borrower pod runs under on a lent node
	idRound     = "cane.io/round" // on the bridge: the flow round of the last caned run
)
