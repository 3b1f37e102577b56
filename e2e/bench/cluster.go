package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/cane-cni/cane/cluster/kube"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/flows"
	"github.com/cane-cni/cane/ipam"
)

// The cluster series' objects. Remote nodes are only data (their VTEPs
// and blocks become flows; no packet goes to them); every address is in
// the benchmarking range, away from the testbed's underlay (198.18.0.0/24)
// and service range (198.18.128.0/24).
const benchCluster = `
apiVersion: cane.io/v1alpha1
kind: Domain
metadata: {name: production}
spec: {vni: 100}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: big}
spec: {domain: production, cidr: 198.19.0.0/16, gateway: 198.19.0.1, blockSize: 30}
---
apiVersion: cane.io/v1alpha1
kind: Pool
metadata: {name: prod}
spec: {domain: production, cidr: 198.18.192.0/20, gateway: 198.18.192.1, blockSize: 26}
`

// clusterResult is the restart of a caned whose cluster has n other nodes.
type clusterResult struct {
	firstReady, ready time.Duration
	lost, sent        int
	rss, anon         float64
	remoteFlows       int
}

// clusterRestart makes a cluster of n remote nodes (Node objects with a
// VTEP annotation and one Block each), joins node1, attaches pods, then
// SIGKILLs caned under a UDP stream and restarts it.
func clusterRestart(ctx context.Context, tb *testbed.Testbed, k8sDir, crdDir string, pods, n int) (clusterResult, error) {
	var r clusterResult
	cp, err := tb.StartControlPlane(ctx, k8sDir, crdDir)
	if err != nil {
		return r, err
	}
	if err := cp.Apply(ctx, benchCluster); err != nil {
		return r, err
	}
	rc := cp.RESTConfig()
	rc.QPS, rc.Burst = 5000, 5000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return r, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := remoteNodes(ctx, cs, dyn, n); err != nil {
		return r, err
	}
	fmt.Printf("  %d Node, %d CaneNode and %d Block objects created in %s\n", n, n, n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	node, err := tb.JoinNode(ctx, cp, "node2", 2, nil)
	if err != nil {
		return r, err
	}
	r.firstReady = time.Since(start)
	fs, err := node.OVS.OpenFlow().Dump(ctx, node.Config.Bridge, flows.NewCookie(0, flows.KindNode, 0, 0).Select(0xff<<40))
	if err != nil {
		return r, err
	}
	r.remoteFlows = len(fs)
	if r.ready, r.lost, r.sent, err = restart(ctx, tb, node, pods); err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second) // steady state, not the start's peak
	if r.anon, err = canedMem(node, "RssAnon:"); err != nil {
		return r, err
	}
	r.rss, err = canedRSS(node)
	return r, err
}

// caneNode creates the CaneNode node's caned would publish.
func caneNode(ctx context.Context, dyn dynamic.Interface, node *corev1.Node, vtep netip.Addr) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.Group + "/" + kube.Version, "kind": "CaneNode",
		"metadata": map[string]any{"name": node.Name,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": node.Name, "uid": string(node.UID)}}},
		"spec": map[string]any{"vtep": vtep.String(), "addresses": []any{vtep.String()}},
	}}
	if _, err := dyn.Resource(kube.CaneNodesResource).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create CaneNode %s: %w", node.Name, err)
	}
	return nil
}

// remoteNodes creates n Node objects, each with a VTEP annotation, its
// CaneNode and one /30 Block of pool big, from 16 workers.
func remoteNodes(ctx context.Context, cs *kubernetes.Clientset, dyn dynamic.Interface, n int) error {
	store := kube.NewStore(dyn, nil)
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := fmt.Sprintf("remote-%05d", i)
				vtep := netip.AddrFrom4([4]byte{198, 18, 64 + byte(i>>8), byte(i)})
				node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{kube.AnnotationVTEP: vtep.String()}}}
				made, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
				if err != nil {
					errs <- fmt.Errorf("create node %s: %w", name, err)
					return
				}
				if err := caneNode(ctx, dyn, made, vtep); err != nil {
					errs <- err
					return
				}
				block := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 6), byte(i&63) << 2}), 30)
				if err := store.ClaimBlock(ctx, ipam.Block{Pool: "big", CIDR: block, Node: name}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
	for i := range n {
		select {
		case work <- i:
			continue
		case err = <-errs:
		}
		break
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}
