package daemon

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/flows/of"
)

// Flows lists the installed flows, optionally of one table (by name) or
// one pod (see attachmentStore.find), with what each cookie says.
func (i *inspector) Flows(ctx context.Context, table, pod string) ([]api.Flow, error) {
	var sel of.Selector
	if pod != "" {
		a, err := i.atts.find(pod, i.cfg.Node)
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
	installed, err := i.pipe.of.Dump(ctx, i.cfg.Bridge, sel)
	if err != nil {
		return nil, err
	}
	out := []api.Flow{}
	owner := i.owners()
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

// owners names what flows belong to — a pod or a remote node — for many
// flows: the pods are looked up once.
func (i *inspector) owners() func(flows.Cookie) string {
	pods := i.atts.podNames()
	remotes := i.views.load().Remotes
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
