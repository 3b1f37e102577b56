package kube

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/cane-cni/cane/cluster/loanapi"
)

// Watcher keeps informer caches of Domains, Pools, Blocks, Loans,
// CaneNodes and this node's own Node, and signals every change. No
// polling: list once, then watch.
//
// What each watch costs on a steady cluster: CaneNodes, Domains, Pools
// and Loans change only when someone changes them (a CaneNode's spec when
// its node's VTEP, addresses or labels change; its status once a check
// period, which the cache drops); Blocks when pods need addresses; the
// one Node (a field selector on its name, served from the apiserver's
// watch cache) when its kubelet reports status. The informers list with
// client-go's reflector (resourceVersion "0", so the watch cache serves
// the first list; paged, 500 a page, if it falls back to etcd) and then
// watch from that version; no resync period.
type Watcher struct {
	Dynamic dynamic.Interface
	Client  kubernetes.Interface

	dyn     dynamicinformer.DynamicSharedInformerFactory
	core    informers.SharedInformerFactory
	domains cache.Store
	pools   cache.Store
	blocks  cache.Store
	loans   cache.Store
	nodes   cache.Store // CaneNodes
	self    cache.Store // this node's Node object, alone
	node    string
	changed chan struct{}
}

// NewWatcher builds the clients and informers for cfg, for node (its own
// Node object is the only one it watches).
func NewWatcher(cfg *rest.Config, node string) (*Watcher, error) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	byName := informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + node })
	w := &Watcher{
		Dynamic: dc, Client: cs, node: node,
		dyn:     dynamicinformer.NewDynamicSharedInformerFactory(dc, 0),
		core:    informers.NewSharedInformerFactoryWithOptions(cs, 0, byName),
		changed: make(chan struct{}, 1),
	}
	w.domains = w.watch(w.dyn.ForResource(DomainsResource).Informer(), slimObject, nil)
	w.pools = w.watch(w.dyn.ForResource(PoolsResource).Informer(), slimObject, nil)
	w.blocks = w.watch(w.dyn.ForResource(BlocksResource).Informer(), slimBlock, nil)
	w.loans = w.watch(w.dyn.ForResource(LoansResource).Informer(), slimObject, nil)
	w.nodes = w.watch(w.dyn.ForResource(CaneNodesResource).Informer(), slimCaneNode, caneNodeChanged)
	w.self = w.watch(w.core.Core().V1().Nodes().Informer(), slimNode, nodeChanged)
	return w, nil
}

// watch caches what transform keeps of each object and signals every
// add, delete and update — or, with changed, only the updates it reports.
func (w *Watcher) watch(inf cache.SharedIndexInformer, transform cache.TransformFunc, changed func(old, cur any) bool) cache.Store {
	_ = inf.SetTransform(transform) // before Start, so it cannot fail
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.signal() },
		UpdateFunc: func(old, cur any) {
			if changed == nil || changed(old, cur) {
				w.signal()
			}
		},
		DeleteFunc: func(any) { w.signal() },
	})
	return inf.GetStore()
}

func (w *Watcher) signal() {
	select {
	case w.changed <- struct{}{}:
	default: // a signal is already pending; View will see this change too
	}
}

// Start runs the informers until ctx ends and waits for their first list.
func (w *Watcher) Start(ctx context.Context) error {
	w.dyn.Start(ctx.Done())
	w.core.Start(ctx.Done())
	for gvr, ok := range w.dyn.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync %s: %w", gvr.Resource, ctx.Err())
		}
	}
	for t, ok := range w.core.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync %v: %w", t, ctx.Err())
		}
	}
	return nil
}

// Changed receives after any watched object changed (coalesced).
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// View is the current content of the caches, sorted by name. Objects that
// cannot be read are skipped and named in View.Errors.
func (w *Watcher) View() View {
	var v View
	each(w.domains, &v, func(name string, u *unstructured.Unstructured) error {
		var o struct {
			Spec domainSpec `json:"spec"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
			return err
		}
		v.Domains = append(v.Domains, Domain{Name: name, Created: u.GetCreationTimestamp().Time, VNI: o.Spec.VNI, VLAN: o.Spec.VLAN,
			Peers: o.Spec.Peers, Egress: o.Spec.Egress, Namespaces: o.Spec.Namespaces})
		return nil
	})
	each(w.pools, &v, func(name string, u *unstructured.Unstructured) error {
		var o struct {
			Spec poolSpec `json:"spec"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
			return err
		}
		p, err := o.Spec.pool(name)
		if err == nil {
			p.Created = u.GetCreationTimestamp().Time
			v.Pools = append(v.Pools, p)
		}
		return err
	})
	for _, obj := range w.blocks.List() {
		if c, ok := obj.(*cachedBlock); ok && c.err != nil {
			v.Errors = append(v.Errors, ObjectError{Kind: "Block", Name: c.name, Err: c.err.Error()})
		} else if ok {
			v.Blocks = append(v.Blocks, c.block)
		}
	}
	each(w.loans, &v, func(name string, u *unstructured.Unstructured) error {
		l, err := loanapi.Of(u)
		if err == nil {
			v.Loans = append(v.Loans, l)
		}
		return err
	})
	for _, obj := range w.nodes.List() {
		if c, ok := obj.(*cachedNode); ok && c.err != nil {
			v.Errors = append(v.Errors, ObjectError{Kind: "CaneNode", Name: c.Name, Err: c.err.Error()})
		} else if ok {
			v.Nodes = append(v.Nodes, c.Node)
		}
	}
	v.Self = w.Self()
	SortView(&v)
	return v
}

// Self is this node's own Node as the watch last saw it (nil before).
func (w *Watcher) Self() *Node {
	obj, ok, _ := w.self.GetByKey(w.node)
	if c, isSelf := obj.(*selfNode); ok && isSelf {
		n := c.Node
		return &n
	}
	return nil
}

// cachedCaneNode is node's CaneNode as the watch last saw it.
func (w *Watcher) cachedCaneNode(node string) (*cachedNode, bool) {
	obj, ok, _ := w.nodes.GetByKey(node)
	c, isNode := obj.(*cachedNode)
	return c, ok && isNode && c.err == nil
}

// SortView puts a view in its order: domains and pools oldest first, so
// that of two conflicting objects (a VNI used twice, overlapping pools)
// every node keeps the one already in use; blocks by address, nodes by
// name.
func SortView(v *View) {
	sort.Slice(v.Domains, func(i, j int) bool {
		return older(v.Domains[i].Created, v.Domains[j].Created, v.Domains[i].Name, v.Domains[j].Name)
	})
	sort.Slice(v.Pools, func(i, j int) bool {
		return older(v.Pools[i].Created, v.Pools[j].Created, v.Pools[i].Name, v.Pools[j].Name)
	})
	sort.Slice(v.Blocks, func(i, j int) bool { return v.Blocks[i].CIDR.Addr().Less(v.Blocks[j].CIDR.Addr()) })
	sort.Slice(v.Nodes, func(i, j int) bool { return v.Nodes[i].Name < v.Nodes[j].Name })
}

// older orders objects by creation time, then name (creation times have
// whole seconds).
func older(a, b time.Time, aName, bName string) bool {
	if !a.Equal(b) {
		return a.Before(b)
	}
	return aName < bName
}

func each(s cache.Store, v *View, f func(string, *unstructured.Unstructured) error) {
	for _, obj := range s.List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		if err := f(u.GetName(), u); err != nil {
			v.Errors = append(v.Errors, ObjectError{Kind: u.GetKind(), Name: u.GetName(), Err: err.Error()})
		}
	}
}

// addrsOf is a node's IPv4 addresses (InternalIPs, ExternalIPs) with its
// VTEP, each once.
func addrsOf(n *corev1.Node, vtep netip.Addr) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.Is4() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	add(vtep)
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				add(ip)
			}
		}
	}
	return out
}

// vtepOf is a node's underlay address: the cane.io/vtep annotation, else
// its first InternalIP.
func vtepOf(n *corev1.Node) netip.Addr {
	if a, err := netip.ParseAddr(n.Annotations[AnnotationVTEP]); err == nil {
		return a
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				return ip
			}
		}
	}
	return netip.Addr{}
}
