package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/netconf"
	"github.com/cane-cni/cane/ovs"
)

// attacher serves the CNI verbs: it validates and serializes requests per
// container, attaches pods (ADD, add.go) and detaches them (DEL, GC,
// leak collection, del.go), each all or nothing.
type attacher struct {
	cfg    *Config
	log    *slog.Logger
	hostNS ns.NetNS
	sess   *session
	ipam   *ipam.IPAM
	atts   *attachmentStore
	pipe   *pipeline
	want   *desired
	bridge *nodeBridge
	views  *clusterView
	pools  *poolChooser
	loans  *loanKeeper
	// observe records one request's outcome (metrics).
	observe func(command, result string, took time.Duration)

	locks keyedMutex // per container
}

// CNI runs one CNI request and records its outcome.
func (a *attacher) CNI(ctx context.Context, req api.CNIRequest) (json.RawMessage, *types.Error) {
	start := time.Now()
	res, err := a.dispatch(ctx, req)
	result := "ok"
	if err != nil {
		result = fmt.Sprint(err.Code)
		a.log.Warn("cni failed", "command", req.Command, "container", req.ContainerID, "code", err.Code, "msg", err.Msg, "details", err.Details, "took", time.Since(start))
	}
	cmd := req.Command
	switch cmd {
	case "ADD", "DEL", "CHECK", "GC", "STATUS":
	default:
		cmd = "other" // no label per made-up command
	}
	a.observe(cmd, result, time.Since(start))
	return res, err
}

// dispatch parses the netconf, answers "not ready" while caned is not,
// and runs the verb with the pipeline's resync lock held shared.
func (a *attacher) dispatch(ctx context.Context, req api.CNIRequest) (json.RawMessage, *types.Error) {
	nc, e := netconf.Parse(req.Config)
	if e != nil {
		return nil, e
	}
	if !a.sess.isReady() {
		if req.Command == "STATUS" {
			return nil, types.NewError(api.CodePluginNotAvailable, "caned is not ready", a.sess.reason())
		}
		return nil, types.NewError(types.ErrTryAgainLater, "caned is not ready", a.sess.reason())
	}
	defer a.pipe.shared()()
	switch req.Command {
	case "ADD":
		return a.add(ctx, req, nc)
	case "DEL":
		return nil, a.del(ctx, req)
	case "CHECK":
		return nil, a.check(ctx, req)
	case "GC":
		return nil, a.gc(ctx, nc)
	case "STATUS":
		if _, e := a.sess.forCNI(); e != nil {
			e.Code = api.CodePluginNotAvailable
			return nil, e
		}
		return nil, nil
	}
	return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "unknown CNI_COMMAND", fmt.Sprintf("%.32q", req.Command))
}

// op is one verb on one attachment, with its OVSDB session and the
// container's lock.
type op struct {
	db  *ovs.DB
	end func() // unlocks the container
}

// begin validates the request, takes the OVSDB session (or answers 11,
// try again) and locks the container.
func (a *attacher) begin(req api.CNIRequest, needNetns bool) (op, *types.Error) {
	if e := checkRequest(req, needNetns); e != nil {
		return op{}, e
	}
	db, e := a.sess.forCNI()
	if e != nil {
		return op{}, e
	}
	return op{db: db, end: a.locks.Lock(req.ContainerID)}, nil
}

// checkRequest validates what every verb about one attachment needs: the
// names (api's pure checks), and the netns if needNetns.
func checkRequest(req api.CNIRequest, needNetns bool) *types.Error {
	if e := req.CheckAttachment(); e != nil {
		return e
	}
	if !needNetns {
		return nil
	}
	if req.Netns == "" {
		return types.NewError(types.ErrInvalidNetNS, "CNI_NETNS is empty", "")
	}
	n, err := ns.GetNS(req.Netns) // checks the file system type too
	if err != nil {
		return types.NewError(types.ErrInvalidNetNS, "CNI_NETNS is not a network namespace", fmt.Sprintf("%.256q: %v", req.Netns, err))
	}
	n.Close()
	return nil
}

// result is the CNI result for an attachment, in the netconf's version.
func (a *attacher) result(nc *netconf.NetConf, att *attachment) (json.RawMessage, *types.Error) {
	addr, err := att.alloc.Address() // never a /0: an error if the subnet is unknown
	if err != nil {
		return nil, cniError("build the result", err)
	}
	r := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: att.port},
			{Name: att.alloc.IfName, Mac: att.mac.String(), Sandbox: att.netns, Mtu: a.bridge.podMTUInForce()},
		},
		IPs: []*current.IPConfig{{
			Interface: current.Int(1),
			Address:   net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)},
			Gateway:   att.alloc.Gateway.AsSlice(),
		}},
		Routes: []*types.Route{{Dst: net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, GW: att.alloc.Gateway.AsSlice()}},
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
