package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodAnnotation is one annotation of a pod ("" if the pod or the
// annotation does not exist). One GET; the caller bounds it with ctx.
func (w *Watcher) PodAnnotation(ctx context.Context, namespace, name, key string) (string, error) {
	pod, err := w.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	return pod.Annotations[key], nil
}

// NamespaceLabel is one label of a namespace ("" if the namespace or the
// label does not exist). One GET; the caller bounds it with ctx.
func (w *Watcher) NamespaceLabel(ctx context.Context, namespace, key string) (string, error) {
	ns, err := w.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get namespace %s: %w", namespace, err)
	}
	return ns.Labels[key], nil
}
