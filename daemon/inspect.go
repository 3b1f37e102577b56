package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
	"github.com/cane-cni/cane/ipam"
)

// Blocks lists the address blocks this node holds, with their use.
func (d *Daemon) Blocks() []api.Block {
	used := map[netip.Prefix]int{}
	for _, a := range d.ipam.List() {
		used[a.Block]++
	}
	var out []api.Block
	for _, b := range d.ipam.Blocks() {
		p, _ := d.ipam.Pool(b.Pool)
		out = append(out, api.Block{Pool: b.Pool, Domain: p.Domain, CIDR: b.CIDR, Used: used[b.CIDR], Size: 1 << (32 - b.CIDR.Bits()), LentTo: b.Domain, Loan: b.Loan})
	}
	return out
}

// Flows lists the installed flows, optionally of one table (by name) or
// one pod (see findPod), with what each cookie says.
func (d *Daemon) Flows(ctx context.Context, table, pod string) ([]api.Flow, error) {
	var sel of.Selector
	if pod != "" {
		a, err := d.findPod(pod)
		if err != nil {
			return nil, err
		}
		sel = flows.PodCookie(uint32(a.ofport))
	}
	var want *flows.Table
	if table != "" {
		t, ok := flows.TableByName(table)
		if !ok {
			return nil, fmt.Errorf("no table %q; the tables are %v", table, flows.Tables)
		}
		want = &t
	}
	installed, err := d.of.Dump(ctx, d.cfg.Bridge, sel)
	if err != nil {
		return nil, err
	}
	out := []api.Flow{}
	owner := d.owners()
	for _, f := range installed {
		table, cookie := flows.TableOf(f.Flow), flows.CookieOf(f.Flow)
		if want != nil && table != *want {
			continue
		}
		out = append(out, api.Flow{
			Table: f.Table, TableName: table.String(), Priority: f.Priority, Match: f.MatchString(), Actions: of.ActionsString(f.Actions),
			Cookie: cookie.String(), Kind: kindName(cookie.Kind()), Reason: reasonOf(cookie), Owner: owner(cookie),
			Packets: f.Packets, Bytes: f.Bytes,
		})
	}
	return out, nil
}

func kindName(k flows.Kind) string {
	return map[flows.Kind]string{flows.KindBase: "base", flows.KindPod: "pod", flows.KindNode: "node"}[k]
}

func reasonOf(c flows.Cookie) string {
	if c.Reason() == flows.ReasonNone {
		return ""
	}
	return c.Reason().String()
}

// owner names what a flow belongs to: a pod or a remote node.
func (d *Daemon) owner(c flows.Cookie) string { return d.owners()(c) }

// owners is owner for many flows: the pods are looked up once.
func (d *Daemon) owners() func(flows.Cookie) string {
	pods := map[uint32]string{}
	d.mu.Lock()
	for _, a := range d.attachments {
		pods[uint32(a.ofport)] = podName(a.alloc)
	}
	d.mu.Unlock()
	remotes := d.view.Load().Remotes
	return func(c flows.Cookie) string {
		switch c.Kind() {
		case flows.KindPod:
			if name, ok := pods[c.Object()]; ok {
				return name
			}
			return fmt.Sprintf("ofport %d (no pod)", c.Object())
		case flows.KindNode:
			vtep := netip.AddrFrom4([4]byte{byte(c.Object() >> 24), byte(c.Object() >> 16), byte(c.Object() >> 8), byte(c.Object())})
			for _, r := range remotes {
				if r.VTEP == vtep {
					return "node " + r.Name + " (" + vtep.String() + ")"
				}
			}
			return "node at " + vtep.String()
		}
		return ""
	}
}

// podName is "namespace/name", else the container ID.
func podName(a ipam.Allocation) string {
	if a.PodName != "" {
		return a.PodNamespace + "/" + a.PodName
	}
	return a.ContainerID
}

// findPod finds one local attachment by namespace/name, IP, or container
// ID (or a unique prefix of it).
func (d *Daemon) findPod(sel string) (*attachment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var found []*attachment
	for _, a := range d.attachments {
		switch {
		case podName(a.alloc) == sel, a.alloc.IP.String() == sel, a.alloc.ContainerID == sel:
			return a, nil
		case strings.HasPrefix(a.alloc.ContainerID, sel):
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no pod %q on node %s (canectl pods lists them)", sel, d.cfg.Node)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%q matches %d containers; give more of the ID", sel, len(found))
}
