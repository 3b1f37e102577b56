package daemon

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// reconcile rebuilds the node's attachments from IPAM and the OVS ports'
// external_ids, then converges the installed flows to the desired set by
// difference (pipeline.converge). It holds the pipeline exclusively, so
// no CNI operation or sync runs meanwhile.
func (d *Daemon) reconcile(ctx context.Context, db *ovs.DB) error {
	defer d.pipe.exclusive()()
	steps := newStepTimer()
	ids, err := db.BridgeExternalIDs(ctx, d.cfg.Bridge)
	if err != nil {
		return err
	}
	round, _ := strconv.ParseUint(ids[idRound], 10, 16) // 0 (none yet) starts at 1
	ports, err := db.Ports(ctx, d.cfg.Bridge)
	if err != nil {
		return err
	}
	d.rebuildAttachments(ports)
	node := d.want.all()
	vnis := map[uint32]uint32{} // ofport -> the VNI its flows get now
	for _, p := range node.Pods {
		vnis[p.OFPort] = p.VNI
	}
	for _, a := range d.atts.list() {
		a.flowVNI.Store(vnis[uint32(a.ofport)])
	}
	steps.mark("desired")
	st, err := d.pipe.converge(ctx, uint16(round), node.All())
	if err != nil {
		return err
	}
	steps.mark("converge")
	if err := db.SetBridgeExternalID(ctx, d.cfg.Bridge, idRound, fmt.Sprint(d.pipe.currentRound())); err != nil {
		return err
	}
	d.sess.resyncs.Add(1)
	d.log.Info("reconciled", "round", d.pipe.currentRound(), "pods", len(node.Pods), "flows", st.flows, "added", st.added,
		"deleted", st.deleted, "staleRounds", st.staleRounds, "took", steps.String())
	return nil
}

// rebuildAttachments pairs IPAM's allocations with the bridge's ports by
// handle. What has only one half is left for GC (xray reports it).
func (d *Daemon) rebuildAttachments(ports []ovs.PortInfo) {
	byHandle := map[string]ovs.PortInfo{}
	ofports := make([]int, 0, len(ports))
	for _, p := range ports {
		ofports = append(ofports, p.OFPort)
		if c := p.ExternalIDs[idContainer]; c != "" {
			byHandle[ipam.Handle(c, p.ExternalIDs[idIfName])] = p
		}
	}
	atts := map[string]*attachment{}
	for _, a := range d.ipam.List() {
		p, ok := byHandle[a.Handle()]
		if !ok {
			d.log.Warn("allocation without OVS port; left for GC", "ip", a.IP, "container", a.ContainerID)
			continue
		}
		atts[a.Handle()] = &attachment{alloc: a, port: p.Name, ofport: p.OFPort, mac: podnet.MACFor(a.IP),
			netns: p.ExternalIDs[idNetns], network: p.ExternalIDs[idNetwork], loan: p.ExternalIDs[idLoan]}
		delete(byHandle, a.Handle())
	}
	for h, p := range byHandle {
		d.log.Warn("OVS port without allocation; left for GC", "port", p.Name, "handle", h)
	}
	d.atts.replace(atts, ofports)
}

// syncLoop applies cluster changes to the node as they come: the view,
// the host port's routes, the non-pod flows; and pokes the loan keeper.
func (d *Daemon) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.watcher.Changed():
		}
		d.views.refresh(ctx, d.ipam.SetPools)
		d.loans.poke()
		d.publish.poke()
		if !d.sess.isReady() {
			continue // the next reconcile installs everything
		}
		if err := d.syncHost(ctx); err != nil {
			d.log.Error("apply cluster change to the host ports", "err", err)
		}
		if err := d.syncFlows(ctx); err != nil {
			d.log.Error("apply cluster change", "err", err)
		}
		if err := d.syncPodVNIs(ctx); err != nil {
			d.log.Error("apply cluster change to pods", "err", err)
		}
	}
}

// syncPodVNIs re-applies the pods whose domain's VNI changed (vni.go),
// within a deadline.
func (d *Daemon) syncPodVNIs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	defer d.pipe.shared()()
	return d.cni.followVNIs(ctx)
}

// syncHost brings the host ports and the node's kernel to the view,
// within a deadline.
func (d *Daemon) syncHost(ctx context.Context) error {
	db, err := d.sess.current()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.bridge.syncHost(ctx, db)
}

// syncFlows brings the non-pod flows to the view, within a deadline.
func (d *Daemon) syncFlows(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	defer d.pipe.shared()()
	return d.pipe.sync(ctx, d.want.base())
}
