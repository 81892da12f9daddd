package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// SetupWithManager registers the "threatremediation" controller. It wakes on spec
// changes (approval, a new plan), labels (keep) and annotations (the alert's status
// from the threat sync), never on its own status writes; time-driven work (a step
// falling due, the compliance poll, retention) comes back through RequeueAfter.
func (r *ThreatRemediationReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.ThreatRemediation{}, builder.WithPredicates(specOrLifecycleChanged())).
		WithOptions(opts).
		Named("threatremediation").
		Complete(r)
}
