package daemon

import (
	"context"
	"fmt"
	"slices"
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
// default. The namespace decides the domain: a pod's annotation may name
// only a pool of its namespace's domain (its cane.io/domain label) or of
// a domain whose Domain object lists the namespace (spec.namespaces).
// Namespaces and Domains are cluster admins' to write; a tenant who may
// only create pods cannot move its pods to another domain. Stateless;
// safe for concurrent use.
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
// namespace's domain has no pool here, CodePoolForbidden if the pod's
// annotation names a pool its namespace may not use, 7 if nothing names a
// pool. The runtime's own choice (CANE_POOL, runtimeConfig.pool) is the
// node's configuration, not the tenant's, and is taken as is.
func (c *poolChooser) choose(ctx context.Context, nc *netconf.NetConf, a netconf.Args) (string, *types.Error) {
	if p := nc.ExplicitPool(a); p != "" {
		return p, nil
	}
	p, e := c.fromCluster(ctx, nc, a.PodNamespace, a.PodName)
	if e != nil || p != "" {
		return p, e
	}
	if nc.Pool == "" {
		return "", types.NewError(types.ErrInvalidNetworkConfig, "no pool chosen", `set "pool" in the network config, CANE_POOL in CNI_ARGS, the pod's cane.io/pool annotation or its namespace's cane.io/domain label`)
	}
	return nc.Pool, nil
}

// fromCluster is the pod's cane.io/pool annotation if its namespace may
// use that pool, else a pool usable on this node of the domain its
// namespace's cane.io/domain label names; "" if neither says.
func (c *poolChooser) fromCluster(ctx context.Context, nc *netconf.NetConf, namespace, name string) (string, *types.Error) {
	if c.cluster == nil || name == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	pool, e := c.annotation(ctx, nc, namespace, name)
	if e != nil {
		return "", e
	}
	domain, err := c.cluster.NamespaceLabel(ctx, namespace, labelDomain)
	if err != nil {
		return "", types.NewError(types.ErrTryAgainLater, "read the namespace's domain label", err.Error())
	}
	v := c.views.load()
	if pool != "" {
		if e := mayUse(v, pool, namespace, domain); e != nil {
			return "", e
		}
		return pool, nil
	}
	if domain == "" {
		return "", nil
	}
	for _, p := range v.Pools {
		if p.Domain == domain && v.Usable[p.Name] {
			return p.Name, nil
		}
	}
	return "", types.NewError(api.CodeNoUsablePool, fmt.Sprintf("no pool for namespace %s on node %s", namespace, c.node),
		fmt.Sprintf("namespace %s is in domain %q, which has no pool usable on node %s (check the domain's pools and their nodeSelector)", namespace, domain, c.node))
}

// annotation is the pod's cane.io/pool annotation: from the annotations
// the runtime passed (no API read), else from the pod object.
func (c *poolChooser) annotation(ctx context.Context, nc *netconf.NetConf, namespace, name string) (string, *types.Error) {
	if a := nc.RuntimeConfig.PodAnnotations; a != nil {
		return a[annotationPool], nil
	}
	pool, err := c.cluster.PodAnnotation(ctx, namespace, name, annotationPool)
	if err != nil {
		return "", types.NewError(types.ErrTryAgainLater, "read the pod's pool annotation", err.Error())
	}
	return pool, nil
}

// mayUse allows a pod of namespace (labelled with domain, "" if not) the
// pool its annotation names: one of the namespace's domain, or of a
// domain that lists the namespace. A pool the view does not know is left
// to IPAM (unknown pool, code 101).
func mayUse(v *view, pool, namespace, domain string) *types.Error {
	pd := poolDomain(v, pool)
	if pd == "" || pd == domain {
		return nil
	}
	for _, d := range v.Domains {
		if d.Name == pd && slices.Contains(d.Namespaces, namespace) {
			return nil
		}
	}
	ns := fmt.Sprintf("namespace %s is in no domain (no cane.io/domain label)", namespace)
	if domain != "" {
		ns = fmt.Sprintf("namespace %s is in domain %q (its cane.io/domain label)", namespace, domain)
	}
	return types.NewError(api.CodePoolForbidden, fmt.Sprintf("pool %q is not for namespace %s", pool, namespace),
		fmt.Sprintf("the pod's cane.io/pool annotation names pool %q of domain %q; %s, and Domain %s does not list it in spec.namespaces",
			pool, pd, ns, pd))
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
