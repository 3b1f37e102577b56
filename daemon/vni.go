package daemon

import (
	"context"
	"fmt"

	"github.com/cane-cni/cane/ipam"
)

// A domain's VNI is immutable in its CRD, but a Domain deleted and made
// again under the same name may come back with another one. Its running
// pods' Classifier flows carry the VNI they were built with, and the
// cluster sync (pipeline.sync) rebuilds only the non-pod flows, so each
// attachment records the VNI of its installed flows (attachment.flowVNI)
// and the sync loop re-applies the pods whose domain's VNI is no longer
// that one. The host ports follow by themselves: they are named after the
// VNI, and syncHost replaces them. A domain that is gone has VNI 0: its
// pods' flows then mark nothing (isolated) until it is back.

// followVNIs re-applies the flows of every pod whose domain's VNI
// changed. Each under its container's lock, so it cannot race that pod's
// DEL (which would leave flows on a freed ofport). Call with the
// pipeline's resync lock held shared (the lock order of daemon.go).
func (a *attacher) followVNIs(ctx context.Context) error {
	v := a.views.load()
	var errs []error
	for _, att := range a.atts.list() {
		if v.vni(att.alloc.Domain) == att.flowVNI.Load() {
			continue
		}
		if err := a.followVNI(ctx, att.alloc); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("re-apply %d pods to their domain's new VNI: %w", len(errs), errs[0])
	}
	return nil
}

// followVNI re-applies one pod's flows, if its attachment is still there
// and its domain's VNI still differs from its flows'.
func (a *attacher) followVNI(ctx context.Context, alloc ipam.Allocation) error {
	defer a.locks.Lock(alloc.ContainerID)()
	return a.refreshVNI(ctx, a.atts.get(alloc.Handle()))
}

// refreshVNI re-applies att's flows (deleting the old ones by cookie and
// adding the new in one bundle) if they carry another VNI than its
// domain's now. Call with the container's lock held. An ADD calls it
// once its attachment is stored: a VNI change that came between its
// flows and the store is caught there, one after it by the sync loop.
func (a *attacher) refreshVNI(ctx context.Context, att *attachment) error {
	if att == nil {
		return nil
	}
	pod := a.want.pod(att)
	old := att.flowVNI.Load()
	if pod.VNI == old {
		return nil
	}
	if err := a.pipe.applyPod(ctx, &pod, att.ofport); err != nil {
		return fmt.Errorf("pod %s/%s: %w", att.alloc.PodNamespace, att.alloc.PodName, err)
	}
	att.flowVNI.Store(pod.VNI)
	a.log.Info("pod flows follow its domain's VNI", "pod", att.alloc.PodNamespace+"/"+att.alloc.PodName, "domain", att.alloc.Domain, "from", old, "to", pod.VNI)
	return nil
}
