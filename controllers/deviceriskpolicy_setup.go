package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
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

// SetupWithManager registers the reconciler: policies themselves (not our own status
// writes), and connectors whose readiness changes (a waiting policy starts at once).
func (r *DeviceRiskPolicyReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.DeviceRiskPolicy{}, builder.WithPredicates(specOrLifecycleChanged())).
		Watches(&v1.MTDConnector{}, handler.EnqueueRequestsFromMapFunc(r.policiesOf), builder.WithPredicates(readinessChanged())).
		WithOptions(opts).
		Named("deviceriskpolicy").
		Complete(r)
}

// readinessChanged passes connector events that can unblock or block its policies.
func readinessChanged() predicate.Predicate {
	ready := func(o client.Object) string {
		c := meta.FindStatusCondition(o.(*v1.MTDConnector).Status.Conditions, v1.ConditionReady)
		if c == nil {
			return ""
		}
		return string(c.Status)
	}
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  func(e event.UpdateEvent) bool { return ready(e.ObjectOld) != ready(e.ObjectNew) },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func (r *DeviceRiskPolicyReconciler) policiesOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1.DeviceRiskPolicyList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexConnectorRef: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
	}
	return out
}
