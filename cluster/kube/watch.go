package kube

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Watcher keeps informer caches of Domains, Pools, Blocks and Nodes and
// signals every change. No polling: list once, then watch.
type Watcher struct {
	Dynamic dynamic.Interface
	Client  kubernetes.Interface

	dyn     dynamicinformer.DynamicSharedInformerFactory
	core    informers.SharedInformerFactory
	domains cache.Store
	pools   cache.Store
	blocks  cache.Store
	loans   cache.Store
	nodes   cache.Store
	changed chan struct{}
}

// NewWatcher builds the clients and informers for cfg.
func NewWatcher(cfg *rest.Config) (*Watcher, error) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		Dynamic: dc, Client: cs,
		dyn:     dynamicinformer.NewDynamicSharedInformerFactory(dc, 0),
		core:    informers.NewSharedInformerFactory(cs, 0),
		changed: make(chan struct{}, 1),
	}
	w.domains = w.watch(w.dyn.ForResource(DomainsResource).Informer(), slimObject, nil)
	w.pools = w.watch(w.dyn.ForResource(PoolsResource).Informer(), slimObject, nil)
	w.blocks = w.watch(w.dyn.ForResource(BlocksResource).Informer(), slimBlock, nil)
	w.loans = w.watch(w.dyn.ForResource(LoansResource).Informer(), slimObject, nil)
	w.nodes = w.watch(w.core.Core().V1().Nodes().Informer(), slimNode, nodeChanged)
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
		v.Domains = append(v.Domains, Domain{Name: name, Created: u.GetCreationTimestamp().Time, VNI: o.Spec.VNI, VLAN: o.Spec.VLAN, Peers: o.Spec.Peers, Egress: o.Spec.Egress})
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
			v.Errors = append(v.Errors, fmt.Sprintf("Block %s: %v", c.name, c.err))
		} else if ok {
			v.Blocks = append(v.Blocks, c.block)
		}
	}
	each(w.loans, &v, func(name string, u *unstructured.Unstructured) error {
		var o struct {
			Spec Loan `json:"spec"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
			return err
		}
		o.Spec.Name = name
		v.Loans = append(v.Loans, o.Spec)
		return nil
	})
	for _, obj := range w.nodes.List() {
		if c, ok := obj.(*cachedNode); ok {
			v.Nodes = append(v.Nodes, c.Node)
		}
	}
	SortView(&v)
	return v
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
			v.Errors = append(v.Errors, fmt.Sprintf("%s %s: %v", u.GetKind(), u.GetName(), err))
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
