package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ipam"
	"github.com/cane-cni/cane/nodenet"
	"github.com/cane-cni/cane/ovs"
	"github.com/cane-cni/cane/podnet"
)

// XRay checks the whole node: OVS, bridge, ports, flows, addresses, veths
// and MTU against what caned holds. Read-only.
func (i *inspector) XRay(ctx context.Context) api.XRay {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	x := api.XRay{Node: i.cfg.Node, OK: true}
	check := func(name string, problems []string, okDetail string) {
		c := api.Check{Name: name, OK: len(problems) == 0, Detail: okDetail}
		if !c.OK {
			c.Detail = strings.Join(problems, "; ")
			x.OK = false
		}
		x.Checks = append(x.Checks, c)
	}
	st := i.Status()
	check("caned ready", problem(!st.Ready, "not ready: %s", st.Reason), fmt.Sprintf("flow round %d", st.Round))
	db, err := i.sess.current()
	check("ovsdb-server reachable", problem(err != nil, "%v", err), i.cfg.OVSDB)
	installed, ferr := i.pipe.of.Dump(ctx, i.cfg.Bridge, of.Selector{})
	check("ovs-vswitchd reachable", problem(ferr != nil, "%v", ferr), fmt.Sprintf("%d flows on %s", len(installed), i.cfg.Bridge))
	if db == nil || ferr != nil {
		return x
	}
	check("bridge", i.checkBridge(ctx, db), fmt.Sprintf("%s: fail_mode secure, %s datapath", i.cfg.Bridge, i.sess.dp()))
	ports, err := db.Ports(ctx, i.cfg.Bridge)
	if err != nil {
		check("ports", []string{err.Error()}, "")
		return x
	}
	atts := i.atts.byHandles()
	desired := i.pipe.withRound(i.want.all().All())
	check("node ports", i.checkNodePorts(ports), "tunnel and uplink as configured")
	check("host ports", i.checkHostPorts(ports), fmt.Sprintf("a host port up for each of %d domains, routes, rules and nftables as desired", len(i.views.load().Domains)))
	check("ports match pods", checkPodPorts(ports, atts, i.cfg.Bridge), fmt.Sprintf("%d pod ports, each with its pod", len(atts)))
	check("flows match desired", i.checkFlows(ctx, desired), fmt.Sprintf("%d flows as desired", len(installed)))
	isolation, proven := i.checkIsolation(ctx)
	check("isolation", isolation, proven)
	check("addresses match pods", i.checkAddresses(), fmt.Sprintf("%d addresses, each held by a live pod", len(atts)))
	check("blocks match the cluster", i.checkBlocks(), fmt.Sprintf("%d blocks, each a Block object of this node", len(i.ipam.Blocks())))
	check("veths and MTU", i.checkVeths(atts), fmt.Sprintf("every pod veth present, MTU %d", i.bridge.podMTUInForce()))
	check("MAC tables and UDP drops", i.checkCounters(ctx), fmt.Sprintf("no MAC table %.0f%% full, nothing evicted or dropped since the monitor's last look", i.cfg.MACTableAlert))
	return x
}

// problem is one problem if bad, none otherwise.
func problem(bad bool, format string, args ...any) []string {
	if !bad {
		return nil
	}
	return []string{fmt.Sprintf(format, args...)}
}

func (i *inspector) checkBridge(ctx context.Context, db *ovs.DB) []string {
	b, err := db.Bridge(ctx, i.cfg.Bridge)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	p = append(p, problem(b.FailMode != "secure", "fail_mode is %q, want secure (standalone floods)", b.FailMode)...)
	p = append(p, problem(b.DatapathType != i.sess.dp(), "datapath %q, want %q", b.DatapathType, i.sess.dp())...)
	return p
}

func (i *inspector) checkNodePorts(ports []ovs.PortInfo) []string {
	byName := map[string]ovs.PortInfo{}
	for _, p := range ports {
		byName[p.Name] = p
	}
	want := map[string]int{}
	for _, p := range i.bridge.wantPorts() {
		if p.Bridge == i.cfg.Bridge {
			want[p.Name] = p.OFPortRequest
		}
	}
	var p []string
	for name, ofport := range want {
		got, ok := byName[name]
		p = append(p, problem(!ok, "port %s missing", name)...)
		p = append(p, problem(ok && got.OFPort != ofport, "port %s has ofport %d, want %d", name, got.OFPort, ofport)...)
	}
	return p
}

// checkHostPorts: each domain has its host port on the bridge, and the
// node's kernel (its routes, rules and nftables table) is as desired.
func (i *inspector) checkHostPorts(ports []ovs.PortInfo) []string {
	onBridge := map[string]bool{}
	for _, p := range ports {
		onBridge[p.Name] = true
	}
	v := i.views.load()
	var p []string
	for _, d := range v.Domains {
		p = append(p, problem(!onBridge[nodenet.HostPortName(d.VNI)], "domain %s has no host port %s on %s", d.Name, nodenet.HostPortName(d.VNI), i.cfg.Bridge)...)
	}
	return append(p, nodenet.Check(i.hostNS, i.bridge.kernelState(v))...)
}

func checkPodPorts(ports []ovs.PortInfo, atts map[string]*attachment, bridge string) []string {
	var p []string
	seen := map[string]bool{}
	for _, port := range ports {
		if port.Name == bridge || port.Name == tunnelPort || port.Name == uplinkPort || strings.HasPrefix(port.Name, nodenet.HostPortPrefix) {
			continue
		}
		seen[port.Name] = true
		if port.ExternalIDs[idContainer] == "" {
			p = append(p, fmt.Sprintf("stray port %s (not Cane's)", port.Name))
			continue
		}
		a, ok := atts[ipam.Handle(port.ExternalIDs[idContainer], port.ExternalIDs[idIfName])]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("port %s of container %s has no pod", port.Name, port.ExternalIDs[idContainer]))
		case a.ofport != port.OFPort:
			p = append(p, fmt.Sprintf("port %s has ofport %d, its pod %d", port.Name, port.OFPort, a.ofport))
		}
	}
	for _, a := range atts {
		p = append(p, problem(!seen[a.port], "pod %s (%s) has no port %s", podName(a.alloc), a.alloc.IP, a.port)...)
	}
	sort.Strings(p)
	return p
}

// checkFlows compares installed with desired flows, as OVS parses them.
func (i *inspector) checkFlows(ctx context.Context, desired []flows.Flow) []string {
	missing, extra, err := i.pipe.of.Diff(ctx, i.cfg.Bridge, desired)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	for _, f := range missing {
		p = append(p, "missing: "+f.String())
	}
	for _, f := range extra {
		p = append(p, "extra: "+f.String())
	}
	return p
}

// checkAddresses reports every leak (see Leaks): an address no pod on the
// node holds, or a pod whose netns is gone.
func (i *inspector) checkAddresses() []string {
	var p []string
	for _, l := range i.cni.Leaks() {
		p = append(p, fmt.Sprintf("leaked address %s of %s (container %s): %s", l.IP, l.Pod, l.ContainerID, l.Why))
	}
	return p
}

func (i *inspector) checkVeths(atts map[string]*attachment) []string {
	ends, err := podnet.HostEnds(i.hostNS)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	mtu := i.bridge.podMTUInForce()
	for _, a := range atts {
		got, ok := ends[a.port]
		p = append(p, problem(!ok, "pod %s has no veth %s", podName(a.alloc), a.port)...)
		p = append(p, problem(ok && got != mtu, "veth %s of %s has MTU %d, want %d", a.port, podName(a.alloc), got, mtu)...)
		delete(ends, a.port)
	}
	for name := range ends {
		p = append(p, fmt.Sprintf("stray veth %s (no pod)", name))
	}
	sort.Strings(p)
	return p
}

func (i *inspector) checkCounters(ctx context.Context) []string {
	c, err := i.mon.Counters(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	var p []string
	for _, a := range c.Alerts {
		p = append(p, a.Kind+": "+a.Message)
	}
	return p
}

// checkBlocks compares the blocks IPAM holds with the cluster's Block
// objects naming this node (Kubernetes mode; a local store is its own
// truth).
func (i *inspector) checkBlocks() []string {
	if i.watcher == nil {
		return nil
	}
	cluster := map[netip.Prefix]string{}
	for _, b := range i.watcher.View().Blocks {
		if b.Node == i.cfg.Node {
			cluster[b.CIDR] = b.Pool
		}
	}
	var p []string
	for _, b := range i.ipam.Blocks() {
		pool, ok := cluster[b.CIDR]
		p = append(p, problem(!ok, "block %s (%s) held here has no Block object of node %s", b.CIDR, b.Pool, i.cfg.Node)...)
		p = append(p, problem(ok && pool != b.Pool, "block %s: pool %s here, %s in the cluster", b.CIDR, b.Pool, pool)...)
		delete(cluster, b.CIDR)
	}
	for cidr, pool := range cluster {
		p = append(p, fmt.Sprintf("Block object %s (%s) names node %s, which does not hold it", cidr, pool, i.cfg.Node))
	}
	sort.Strings(p)
	return p
}
