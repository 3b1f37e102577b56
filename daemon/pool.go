package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/netconf"
)

// Kubernetes labels and annotations that choose a pod's pool.
const (
	annotationPool = "cane.io/pool"   // on a pod: the pool by name
	labelDomain    = "cane.io/domain" // on a namespace: a pool of this domain
)

// lookupTimeout bounds the API reads that choose a pod's pool.
const lookupTimeout = 5 * time.Second

// poolChooser picks the pool of a pod: what the runtime names, else what
// the cluster says (pod annotation, namespace label), else the netconf's
// default. Stateless; safe for concurrent use.
type poolChooser struct {
	node    string
	cluster podLabels // nil in static mode
	views   *clusterView
}

// podLabels reads what the cluster says of a pod and its namespace
// (kube.Watcher, one GET each).
type podLabels interface {
	PodAnnotation(ctx context.Context, namespace, name, key string) (string, error)
	NamespaceLabel(ctx context.Context, namespace, key string) (string, error)
}

var _ podLabels = (*kube.Watcher)(nil)

// choose returns the pool, or the CNI error saying why there is none:
// 11 if the API could not be read (try again), CodeNoUsablePool if the
// namespace's domain has no pool here, 7 if nothing names a pool.
func (c *poolChooser) choose(ctx context.Context, nc *netconf.NetConf, a netconf.Args) (string, *types.Error) {
	if p := nc.ExplicitPool(a); p != "" {
		return p, nil
	}
	p, e := c.fromCluster(ctx, a.PodNamespace, a.PodName)
	if e != nil || p != "" {
		return p, e
	}
	if nc.Pool == "" {
		return "", types.NewError(types.ErrInvalidNetworkConfig, "no pool chosen", `set "pool" in the network config, CANE_POOL in CNI_ARGS, the pod's cane.io/pool annotation or its namespace's cane.io/domain label`)
	}
	return nc.Pool, nil
}

// fromCluster is the pod's cane.io/pool annotation, else a pool usable on
// this node of the domain its namespace's cane.io/domain label names; ""
// if neither says.
func (c *poolChooser) fromCluster(ctx context.Context, namespace, name string) (string, *types.Error) {
	if c.cluster == nil || name == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	pool, err := c.cluster.PodAnnotation(ctx, namespace, name, annotationPool)
	if err != nil {
		return "", types.NewError(types.ErrTryAgainLater, "read the pod's pool annotation", err.Error())
	}
	if pool != "" {
		return pool, nil
	}
	domain, err := c.cluster.NamespaceLabel(ctx, namespace, labelDomain)
	if err != nil {
		return "", types.NewError(types.ErrTryAgainLater, "read the namespace's domain label", err.Error())
	}
	if domain == "" {
		return "", nil
	}
	v := c.views.load()
	for _, p := range v.Pools {
		if p.Domain == domain && v.Usable[p.Name] {
			return p.Name, nil
		}
	}
	return "", types.NewError(api.CodeNoUsablePool, fmt.Sprintf("no pool for namespace %s on node %s", namespace, c.node),
		fmt.Sprintf("namespace %s is in domain %q, which has no pool usable on node %s (check the domain's pools and their nodeSelector)", namespace, domain, c.node))
}

// poolDomain is the domain of a pool in the view, "" if unknown.
func poolDomain(v *view, pool string) string {
	for _, p := range v.Pools {
		if p.Name == pool {
			return p.Domain
		}
	}
	return ""
}
