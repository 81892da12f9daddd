package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// SetupWithManager registers the "threatremediation" controller. It wakes on spec
// changes (approval, a new plan), labels (keep) and annotations (the alert's status
// from the intake), never on its own status writes; on each new device snapshot of the
// connector (the Refreshed channel), for the connector's open remediations; time-driven
// work (a step falling due, the poll, retention) comes back through RequeueAfter.
func (r *ThreatRemediationReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1.ThreatRemediation{}, builder.WithPredicates(specOrLifecycleChanged())).
		WithOptions(opts).
		Named("threatremediation")
	if r.Refreshed != nil {
		b = b.WatchesRawSource(source.Channel(r.Refreshed, handler.EnqueueRequestsFromMapFunc(r.openRemediations)))
	}
	return b.Complete(r)
}

// openRemediations lists a connector's open remediations from the cache.
func (r *ThreatRemediationReconciler) openRemediations(ctx context.Context, conn client.Object) []reconcile.Request {
	var list v1.ThreatRemediationList
	if err := r.List(ctx, &list, client.InNamespace(conn.GetNamespace()), client.MatchingFields{indexConnectorRef: conn.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if !terminalPhase(list.Items[i].Status.Phase) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}
