package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// SetupWithManager registers the threat sync as the "threatsync" controller. It wakes
// on a connector's spec changes and Ready transitions (becoming the tenant owner,
// suspend, recovery), then paces itself by spec.threatSync.interval; status writes of
// either connector controller wake it no further.
func (r *ThreatSyncReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MTDConnector{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, readyChanged()))).
		WithOptions(opts).
		Named("threatsync").
		Complete(r)
}

// readyChanged passes updates that change the Ready condition's status or reason.
func readyChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		was := meta.FindStatusCondition(e.ObjectOld.(*v1.MTDConnector).Status.Conditions, v1.ConditionReady)
		is := meta.FindStatusCondition(e.ObjectNew.(*v1.MTDConnector).Status.Conditions, v1.ConditionReady)
		if was == nil || is == nil {
			return was != is
		}
		return was.Status != is.Status || was.Reason != is.Reason
	}}
}
