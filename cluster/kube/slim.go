package kube

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What the caches keep. On a 10,000-node cluster every node's caned holds
// every CaneNode and Block, so the informers keep only what Cane reads: a
// CaneNode becomes its Node (name, VTEP, addresses, labels) and a Block
// its Block, each a few hundred bytes instead of an unstructured object
// (≈ 1.2 KB). This node's own Node object becomes what it publishes and
// its pod capacity. Domains, Pools and Loans are few: they stay objects,
// without managed fields and kubectl's last-applied copy.

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

// cachedNode is a CaneNode as the cache keeps it: its Node (or why it
// could not be read) and the object's UID (a VTEP change deletes it with
// that precondition). The cache keys it by name through GetObjectMeta.
type cachedNode struct {
	Node
	objectUID string
	err       error
}

func (c *cachedNode) GetObjectMeta() metav1.Object { return &metav1.ObjectMeta{Name: c.Name} }

// slimCaneNode turns a CaneNode object into a cachedNode.
func slimCaneNode(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	n, err := nodeOf(u)
	n.Name = u.GetName()
	return &cachedNode{Node: n, objectUID: string(u.GetUID()), err: err}, nil
}

// caneNodeChanged: a CaneNode update matters only if what the cache keeps
// changed; its status (the node's daily check) wakes nobody.
func caneNodeChanged(old, cur any) bool {
	a, ok1 := old.(*cachedNode)
	b, ok2 := cur.(*cachedNode)
	if !ok1 || !ok2 {
		return true
	}
	return !samePublished(a.Node, b.Node) || a.objectUID != b.objectUID || (a.err == nil) != (b.err == nil) || !a.Created.Equal(b.Created)
}

// selfNode is this node's Node object as the cache keeps it.
type selfNode struct{ Node }

func (c *selfNode) GetObjectMeta() metav1.Object { return &metav1.ObjectMeta{Name: c.Name} }

// slimNode turns this node's Node object into a selfNode: what it
// publishes in its CaneNode, its UID (the CaneNode's owner) and its pod
// capacity.
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
	return &selfNode{Node{Name: n.Name, UID: string(n.UID), Created: n.CreationTimestamp.Time, VTEP: vtep, Addrs: addrsOf(n, vtep),
		Labels: maps.Clone(n.Labels), MaxPods: maxPods}}, nil
}

// nodeChanged: an update of this node's Node matters to Cane only if what
// the cache keeps changed. Its status heartbeats then wake nobody.
func nodeChanged(old, cur any) bool {
	a, ok1 := old.(*selfNode)
	b, ok2 := cur.(*selfNode)
	if !ok1 || !ok2 {
		return true
	}
	return a.VTEP != b.VTEP || a.MaxPods != b.MaxPods || a.UID != b.UID || !maps.Equal(a.Labels, b.Labels) || !slices.Equal(a.Addrs, b.Addrs)
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
	b.Name, b.Created = u.GetName(), u.GetCreationTimestamp().Time
	return &cachedBlock{name: u.GetName(), block: b, err: err}, nil
}
