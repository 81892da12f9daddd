package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// SetupWithManager registers the reconciler and its watches: the connector itself (spec,
// labels, annotations and deletion, not our own status writes), the Secrets and
// ConfigMaps it references (rotation takes effect at once), other connectors of the same
// tenant (ownership moves when the owner goes), and the policies and remediations that
// hold up its deletion.
func (r *MTDConnectorReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MTDConnector{}, builder.WithPredicates(specOrLifecycleChanged())).
		// Metadata only: a rotation is seen without holding any Secret's value.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.connectorsReferencing(indexSecretRefs))).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.connectorsReferencing(indexConfigMapRefs))).
		Watches(&v1.MTDConnector{}, handler.EnqueueRequestsFromMapFunc(r.sameTenant), builder.WithPredicates(createdOrDeleted())).
		Watches(&v1.DeviceRiskPolicy{}, handler.EnqueueRequestsFromMapFunc(r.deletingConnector), builder.WithPredicates(createdOrDeleted())).
		// A policy's platforms and assignments are where the Protect app goes by default.
		Watches(&v1.DeviceRiskPolicy{}, handler.EnqueueRequestsFromMapFunc(r.appAssignedBy), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1.ThreatRemediation{}, handler.EnqueueRequestsFromMapFunc(r.deletingConnector), builder.WithPredicates(createdOrDeleted())).
		WithOptions(opts).
		Named("mtdconnector").
		Complete(r)
}

// specOrLifecycleChanged passes what needs a reconcile and drops status-only updates,
// which would otherwise double the calls of every pass.
func specOrLifecycleChanged() predicate.Predicate {
	return predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
		predicate.LabelChangedPredicate{},
		predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			return !e.ObjectNew.GetDeletionTimestamp().Equal(e.ObjectOld.GetDeletionTimestamp())
		}},
	)
}

func createdOrDeleted() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func (r *MTDConnectorReconciler) connectorsReferencing(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1.MTDConnectorList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			return nil
		}
		return requestsFor(list.Items)
	}
}

func (r *MTDConnectorReconciler) sameTenant(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1.MTDConnectorList
	if err := r.List(ctx, &list, client.MatchingFields{indexIntuneTenant: tenantKey(o.(*v1.MTDConnector))}); err != nil {
		return nil
	}
	var others []v1.MTDConnector
	for _, c := range list.Items {
		if c.UID != o.GetUID() {
			others = append(others, c)
		}
	}
	return requestsFor(others)
}

// deletingConnector wakes a connector whose deletion waits for its referrers to go.
func (r *MTDConnectorReconciler) deletingConnector(ctx context.Context, o client.Object) []reconcile.Request {
	var name string
	switch obj := o.(type) {
	case *v1.DeviceRiskPolicy:
		name = string(obj.Spec.ConnectorRef.Name)
	case *v1.ThreatRemediation:
		name = string(obj.Spec.ConnectorRef.Name)
	}
	var conn v1.MTDConnector
	key := types.NamespacedName{Namespace: o.GetNamespace(), Name: name}
	if err := r.Get(ctx, key, &conn); err != nil || conn.DeletionTimestamp.IsZero() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// appAssignedBy wakes the policy's connector when its Protect app follows the
// policies' assignments.
func (r *MTDConnectorReconciler) appAssignedBy(ctx context.Context, o client.Object) []reconcile.Request {
	pol := o.(*v1.DeviceRiskPolicy)
	var conn v1.MTDConnector
	key := types.NamespacedName{Namespace: pol.Namespace, Name: string(pol.Spec.ConnectorRef.Name)}
	if err := r.Get(ctx, key, &conn); err != nil || conn.Spec.ProtectApp == nil || conn.Spec.ProtectApp.Assignments != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key}}
}

func requestsFor(items []v1.MTDConnector) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for _, c := range items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
	}
	return out
}
