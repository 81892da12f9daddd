package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// indexSyslogSecret indexes connectors by their syslog listener's TLS Secret.
const indexSyslogSecret = "mtd.operator.dev/syslog-secret"

// SetupWithManager registers the reconciler, its listeners' lifetime (Start) and its
// watches: the connector, its TLS Secret (a rotation restarts the listener with the new
// certificate), and every other connector that declares a listener (a port changes
// hands when its owner goes).
func (r *SyslogReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.MTDConnector{}, indexSyslogSecret, func(o client.Object) []string {
		if s := o.(*v1.MTDConnector).Spec.ThreatSync.Syslog; s != nil && s.TLS != nil {
			return []string{string(s.TLS.SecretName)}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.Add(r); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MTDConnector{}, builder.WithPredicates(specOrLifecycleChanged())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.usingSecret)).
		Watches(&v1.MTDConnector{}, handler.EnqueueRequestsFromMapFunc(r.withListeners), builder.WithPredicates(specOrLifecycleChanged())).
		WithOptions(opts).
		Named("syslog").
		Complete(r)
}

func (r *SyslogReconciler) usingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1.MTDConnectorList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSyslogSecret: o.GetName()}); err != nil {
		return nil
	}
	return requestsFor(list.Items)
}

// withListeners is every connector that declares a listener.
func (r *SyslogReconciler) withListeners(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1.MTDConnectorList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if c.Spec.ThreatSync.Syslog != nil {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
		}
	}
	return out
}
