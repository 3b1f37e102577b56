package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// check verifies an attachment: allocation, veth, address, route, OVS
// port, and that the pod's installed flows are exactly its desired ones.
// What chained plugins may change (a lower MTU, sysctls, extra routes) is
// tolerated (podnet.Check).
func (a *attacher) check(ctx context.Context, req api.CNIRequest) *types.Error {
	o, e := a.begin(req, true)
	if e != nil {
		return e
	}
	defer o.end()
	att := a.atts.get(ipam.Handle(req.ContainerID, req.IfName))
	if att == nil {
		return types.NewError(types.ErrUnknownContainer, "no attachment for this container", req.ContainerID+"/"+req.IfName)
	}
	pool, err := a.poolOf(att.alloc)
	if err != nil {
		return cniError("check the address", err)
	}
	pc := podnet.Config{
		HostNS: a.hostNS, NetNS: req.Netns, IfName: req.IfName, HostIfName: att.port,
		MAC: att.mac, Address: prefixOf(att.alloc, pool), Gateway: pool.Gateway, MTU: a.bridge.podMTUInForce(),
	}
	if err := podnet.Check(pc); err != nil {
		return cniError("check pod interface", err)
	}
	port, err := o.db.Port(ctx, a.cfg.Bridge, att.port)
	if err != nil || port.OFPort != att.ofport {
		return cniError("check OVS port", ovsErr(fmt.Errorf("port %s: ofport %d, want %d: %v", att.port, port.OFPort, att.ofport, err)))
	}
	installed, err := a.pipe.podInstalled(ctx, att.ofport)
	if err != nil {
		return cniError("check pod flows", ovsErr(err))
	}
	pod := a.want.pod(att)
	if diff := diffFlows(installed, a.pipe.withRound(flows.PodFlows(pod))); diff != "" {
		return cniError("check pod flows", ovsErr(fmt.Errorf("the pod's flows differ from the desired ones: %s", diff)))
	}
	return nil
}

// diffFlows says how installed differs from want ("" if not at all): each
// flow missing, different or extra, by its OVS identity.
func diffFlows(installed []ovs.FlowStats, want []flows.Flow) string {
	have := map[flows.Key]flows.Flow{}
	for _, f := range installed {
		have[f.Key()] = f.Flow
	}
	var p []string
	for _, w := range want {
		h, ok := have[w.Key()]
		switch {
		case !ok:
			p = append(p, "missing "+w.String())
		case !h.Equal(w):
			p = append(p, "different "+h.String()+", want "+w.String())
		}
		delete(have, w.Key())
	}
	for _, h := range have {
		p = append(p, "extra "+h.String())
	}
	sort.Strings(p)
	return strings.Join(p, "; ")
}
