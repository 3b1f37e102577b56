package kube

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/cane-cni/cane/cluster/local"
	"github.com/cane-cni/cane/ipam"
)

// Store is the multi-node ipam.Store: blocks in the API, allocations in
// the node-local file.
//
// Every API call runs under the caller's context, bounded by maxCall: a
// caller without a deadline (a sync loop's long-lived context) still never
// waits on a hung API server for longer than that. An earlier deadline or
// cancel of the caller's applies as it comes. A call cut off in flight may
// have happened on the server; IPAM undoes claims of unknown outcome and
// keeps a block whose release failed out of use (see ipam.Store).
type Store struct {
	dyn     dynamic.Interface
	local   *local.Store
	maxCall time.Duration
	cached  cache.Store // the watcher's Blocks, if Cached
}

var _ ipam.Store = (*Store)(nil)

// NewStore returns a Store over the API (dyn) and the node's local file.
func NewStore(dyn dynamic.Interface, l *local.Store) *Store {
	return &Store{dyn: dyn, local: l, maxCall: 10 * time.Second}
}

// call bounds one API call by the caller's ctx and maxCall. It fails at
// once, sending nothing, if ctx is already done.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.maxCall)
	return ctx, cancel, nil
}

// Cached makes Blocks read the watcher's cache instead of listing from
// the API server. On a 10,000-node cluster a list is 10,000 objects
// (≈ 1 s and 35 MB of garbage) for every claim and every pool a restarted
// node learns. A cache that lags costs no correctness: the create that
// claims is the compare-and-swap, and IPAM retries a block it lost.
func (s *Store) Cached(w *Watcher) *Store {
	s.cached = w.blocks
	return s
}

// Blocks lists a pool's blocks: from the watcher's cache (Cached), else
// from the API server.
func (s *Store) Blocks(ctx context.Context, pool string) ([]ipam.Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.cached != nil {
		var out []ipam.Block
		for _, obj := range s.cached.List() {
			c, ok := obj.(*cachedBlock)
			if !ok || c.err != nil || c.block.Pool != pool {
				continue // one that cannot be read is named in the view's errors
			}
			b := c.block
			out = append(out, ipam.Block{Pool: b.Pool, CIDR: b.CIDR, Node: b.Node, Domain: b.Domain, Loan: b.Loan})
		}
		return out, nil
	}
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	list, err := s.dyn.Resource(BlocksResource).List(ctx, metav1.ListOptions{LabelSelector: LabelPool + "=" + pool})
	if err != nil {
		return nil, fmt.Errorf("list blocks of pool %s: %w", pool, err)
	}
	var out []ipam.Block
	for _, u := range list.Items {
		b, err := blockOf(&u)
		if err != nil {
			return nil, err
		}
		out = append(out, ipam.Block{Pool: b.Pool, CIDR: b.CIDR, Node: b.Node, Domain: b.Domain, Loan: b.Loan})
	}
	return out, nil
}

// ClaimBlock creates the block's object; AlreadyExists means another node
// (or this one, earlier) holds it.
func (s *Store) ClaimBlock(ctx context.Context, b ipam.Block) error {
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(Group + "/" + Version)
	u.SetKind("Block")
	u.SetName(BlockName(b.Pool, b.CIDR))
	u.SetLabels(map[string]string{LabelPool: b.Pool, LabelNode: b.Node})
	spec := map[string]any{"pool": b.Pool, "cidr": b.CIDR.String(), "node": b.Node}
	if b.Domain != "" {
		spec["domain"], spec["loan"] = b.Domain, b.Loan
	}
	if err := unstructured.SetNestedMap(u.Object, spec, "spec"); err != nil {
		return err
	}
	_, err = s.dyn.Resource(BlocksResource).Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return ipam.ErrBlockTaken
	}
	if err != nil {
		return fmt.Errorf("create block %s: %w", u.GetName(), err)
	}
	return nil
}

// ReleaseBlock deletes the block's object if b.Node still holds it. The
// delete carries the object's UID and resourceVersion as preconditions, so
// a block re-claimed in between is never deleted.
func (s *Store) ReleaseBlock(ctx context.Context, b ipam.Block) error {
	ctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	name := BlockName(b.Pool, b.CIDR)
	u, err := s.dyn.Resource(BlocksResource).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get block %s: %w", name, err)
	}
	cur, err := blockOf(u)
	if err != nil {
		return err
	}
	if cur.Node != b.Node {
		return nil
	}
	uid, rv := u.GetUID(), u.GetResourceVersion()
	err = s.dyn.Resource(BlocksResource).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete block %s: %w", name, err)
	}
	return nil
}

func (s *Store) Allocations(ctx context.Context, node string) ([]ipam.Allocation, error) {
	return s.local.Allocations(ctx, node)
}

func (s *Store) PutAllocation(ctx context.Context, node string, a ipam.Allocation) error {
	return s.local.PutAllocation(ctx, node, a)
}

func (s *Store) DeleteAllocation(ctx context.Context, node string, ip netip.Addr) error {
	return s.local.DeleteAllocation(ctx, node, ip)
}

func blockOf(u *unstructured.Unstructured) (Block, error) {
	var o struct {
		Spec blockSpec `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
		return Block{}, fmt.Errorf("block %s: %w", u.GetName(), err)
	}
	b, err := o.Spec.block()
	if err != nil {
		return Block{}, fmt.Errorf("block %s: %w", u.GetName(), err)
	}
	return b, nil
}
