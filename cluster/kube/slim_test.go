package kube

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func node(mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid-n1", ResourceVersion: "1", Labels: map[string]string{"role": "test"},
			Annotations:   map[string]string{AnnotationVTEP: "198.18.0.7", lastApplied: "{...}", "other": "x"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Status: corev1.NodeStatus{
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "198.18.0.7"}},
			Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("2")},
			Images:      []corev1.ContainerImage{{Names: []string{"big"}}},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	if mutate != nil {
		mutate(n)
	}
	return n
}

func TestSlimNode(t *testing.T) {
	obj, _ := slimNode(node(nil))
	c, ok := obj.(*selfNode)
	if !ok {
		t.Fatalf("slimNode made a %T", obj)
	}
	want := Node{Name: "n1", UID: "uid-n1", VTEP: netip.MustParseAddr("198.18.0.7"), Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.7")}, Labels: map[string]string{"role": "test"}, MaxPods: 110}
	if !reflect.DeepEqual(c.Node, want) {
		t.Errorf("cached node %+v, want %+v", c.Node, want)
	}
	if c.GetObjectMeta().GetName() != "n1" {
		t.Error("cached node not keyed by its name")
	}
	noPods, _ := slimNode(node(func(n *corev1.Node) {
		n.Annotations = nil
		delete(n.Status.Allocatable, corev1.ResourcePods)
	}))
	if c := noPods.(*selfNode); c.MaxPods != 110 || c.VTEP.String() != "198.18.0.7" {
		t.Errorf("no capacity, no annotation: %+v (want the kubelet's 110 and the InternalIP)", c.Node)
	}
	if tomb, _ := slimNode("tombstone"); tomb != "tombstone" {
		t.Error("a non-Node was changed")
	}
}

func TestSlimBlock(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetName("prod-198-19-0-0-28")
	_ = unstructured.SetNestedMap(u.Object, map[string]any{"pool": "prod", "cidr": "198.19.0.0/28", "node": "n1"}, "spec")
	obj, _ := slimBlock(u)
	c := obj.(*cachedBlock)
	if c.err != nil || c.block.Pool != "prod" || c.block.Node != "n1" || c.block.CIDR.String() != "198.19.0.0/28" || c.GetObjectMeta().GetName() != u.GetName() {
		t.Errorf("cached block %+v", c)
	}
	_ = unstructured.SetNestedField(u.Object, "not-a-cidr", "spec", "cidr")
	if obj, _ := slimBlock(u); obj.(*cachedBlock).err == nil {
		t.Error("a bad block was cached without its error")
	}
}

func TestNodeChanged(t *testing.T) {
	slim := func(n *corev1.Node) any { o, _ := slimNode(n); return o }
	base := slim(node(nil))
	if !nodeChanged("tombstone", base) {
		t.Error("an update from a non-node object was ignored")
	}
	tests := []struct {
		name string
		cur  func(*corev1.Node)
		want bool
	}{
		{"heartbeat: only status and version", func(n *corev1.Node) {
			n.ResourceVersion = "2"
			n.Status.Conditions[0].Status = corev1.ConditionFalse
			n.Status.Images = nil
		}, false},
		{"label", func(n *corev1.Node) { n.Labels["role"] = "production" }, true},
		{"VTEP", func(n *corev1.Node) { n.Annotations[AnnotationVTEP] = "198.18.0.8" }, true},
		{"another annotation", func(n *corev1.Node) { n.Annotations["other"] = "y" }, false},
		{"VTEP from the address once the annotation goes", func(n *corev1.Node) {
			delete(n.Annotations, AnnotationVTEP)
			n.Status.Addresses[0].Address = "198.18.0.9"
		}, true},
		{"address, while the annotation names the VTEP: pods reach node addresses through the tunnel", func(n *corev1.Node) { n.Status.Addresses[0].Address = "198.18.0.9" }, true},
		{"a hostname address", func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"})
		}, false},
		{"pod capacity", func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("20") }, true},
		{"cpu capacity", func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("4") }, false},
	}
	for _, tc := range tests {
		if got := nodeChanged(base, slim(node(tc.cur))); got != tc.want {
			t.Errorf("%s: changed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSlimObject(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetName("b1")
	u.SetAnnotations(map[string]string{lastApplied: "{...}", "keep": "me"})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl"}})
	_ = unstructured.SetNestedField(u.Object, "198.19.0.0/28", "spec", "cidr")
	obj, _ := slimObject(u)
	got := obj.(*unstructured.Unstructured)
	if len(got.GetManagedFields()) != 0 || got.GetAnnotations()[lastApplied] != "" || got.GetAnnotations()["keep"] != "me" {
		t.Errorf("slim object: %v", got.Object)
	}
	if cidr, _, _ := unstructured.NestedString(got.Object, "spec", "cidr"); cidr != "198.19.0.0/28" {
		t.Errorf("slim object lost its spec: %v", got.Object)
	}
}

// caneNode is a CaneNode object of n1 with spec (a map as the API has it).
func caneNode(spec map[string]any, mutate func(*unstructured.Unstructured)) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cane.io/v1alpha1", "kind": "CaneNode", "spec": spec}}
	u.SetName("n1")
	u.SetUID("obj-1")
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "uid-n1"}})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "caned"}})
	_ = unstructured.SetNestedField(u.Object, map[string]any{"ok": true, "lastRun": "2026-12-01T00:00:00Z"}, "status")
	if mutate != nil {
		mutate(u)
	}
	return u
}

func TestSlimCaneNode(t *testing.T) {
	spec := map[string]any{"vtep": "198.18.0.7", "addresses": []any{"198.18.0.7", "198.18.1.7"}, "labels": map[string]any{"role": "test"}}
	obj, _ := slimCaneNode(caneNode(spec, nil))
	c := obj.(*cachedNode)
	want := Node{Name: "n1", UID: "uid-n1", VTEP: netip.MustParseAddr("198.18.0.7"),
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.7"), netip.MustParseAddr("198.18.1.7")}, Labels: map[string]string{"role": "test"}}
	if c.err != nil || !reflect.DeepEqual(c.Node, want) || c.objectUID != "obj-1" || c.GetObjectMeta().GetName() != "n1" {
		t.Errorf("cached %+v, err %v; want %+v", c.Node, c.err, want)
	}
	// What n1's own Node says is what its CaneNode says: nothing to write.
	self, _ := slimNode(node(func(n *corev1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.18.1.7"})
	}))
	if !samePublished(c.Node, self.(*selfNode).Node) {
		t.Errorf("published %+v and the Node's %+v differ", c.Node, self.(*selfNode).Node)
	}
	bad, _ := slimCaneNode(caneNode(map[string]any{"vtep": "no"}, nil))
	if bad.(*cachedNode).err == nil {
		t.Error("a CaneNode with a bad VTEP was cached without its error")
	}
}

func TestCaneNodeChanged(t *testing.T) {
	spec := func() map[string]any {
		return map[string]any{"vtep": "198.18.0.7", "addresses": []any{"198.18.0.7"}, "labels": map[string]any{"role": "test"}}
	}
	slim := func(u *unstructured.Unstructured) any { o, _ := slimCaneNode(u); return o }
	base := slim(caneNode(spec(), nil))
	tests := []struct {
		name string
		cur  *unstructured.Unstructured
		want bool
	}{
		{"status only (the daily check)", caneNode(spec(), func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, false, "status", "ok")
			u.SetResourceVersion("9")
		}), false},
		{"a label", caneNode(spec(), func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "production", "spec", "labels", "role")
		}), true},
		{"an address", caneNode(spec(), func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedStringSlice(u.Object, []string{"198.18.0.7", "198.18.9.9"}, "spec", "addresses")
		}), true},
		{"deleted and made again (another object)", caneNode(spec(), func(u *unstructured.Unstructured) { u.SetUID("obj-2") }), true},
	}
	for _, tc := range tests {
		if got := caneNodeChanged(base, slim(tc.cur)); got != tc.want {
			t.Errorf("%s: changed = %v, want %v", tc.name, got, tc.want)
		}
	}
}
