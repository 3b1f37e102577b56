package kube

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What the caches keep. On a 10,000-node cluster every node's caned holds
// every Node and Block, so the informers keep only what Cane reads: a
// Node becomes its Node (name, labels, VTEP, pod capacity) and a Block
// its Block, each a few hundred bytes instead of a full object (a Node
// object with its status is kilobytes; an unstructured Block ≈ 1.2 KB).
// Domains, Pools and Loans are few: they stay objects, without managed
// fields and kubectl's last-applied copy.

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slimObject drops managed fields and the last-applied annotation.
func slimObject(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a[lastApplied] != "" {
			delete(a, lastApplied)
			m.SetAnnotations(a)
		}
	}
	return obj, nil
}

// cachedNode is a Node as the cache keeps it. The cache keys it by name
// through GetObjectMeta.
type cachedNode struct{ Node }

func (c *cachedNode) GetObjectMeta() metav1.Object { return &metav1.ObjectMeta{Name: c.Name} }

// slimNode turns a Node object into a cachedNode.
func slimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	maxPods := 110 // the kubelet's default
	if q, ok := n.Status.Allocatable[corev1.ResourcePods]; ok {
		maxPods = int(q.Value())
	}
	vtep := vtepOf(n)
	return &cachedNode{Node{Name: n.Name, VTEP: vtep, Addrs: addrsOf(n, vtep), Labels: maps.Clone(n.Labels), MaxPods: maxPods}}, nil
}

// nodeChanged: a Node update matters to Cane only if what the cache keeps
// changed. Status heartbeats of thousands of nodes then wake nobody.
func nodeChanged(old, cur any) bool {
	a, ok1 := old.(*cachedNode)
	b, ok2 := cur.(*cachedNode)
	if !ok1 || !ok2 {
		return true
	}
	return a.VTEP != b.VTEP || a.MaxPods != b.MaxPods || !maps.Equal(a.Labels, b.Labels) || !slices.Equal(a.Addrs, b.Addrs)
}

// cachedBlock is a Block object as the cache keeps it: its Block, or why
// it could not be read (named in the view's errors).
type cachedBlock struct {
	name  string
	block Block
	err   error
}

func (c *cachedBlock) GetObjectMeta() metav1.Object { return &metav1.ObjectMeta{Name: c.name} }

// slimBlock turns a Block object into a cachedBlock.
func slimBlock(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	b, err := blockOf(u)
	return &cachedBlock{name: u.GetName(), block: b, err: err}, nil
}
