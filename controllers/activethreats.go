package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// ActiveThreatsReconciler keeps MTDConnector status.activeThreats and the
// active-threats gauge equal to the connector's open ThreatRemediations. It is its own
// small controller, woken by remediations being created, deleted or changing phase,
// and counts from the cache: no cloud call, and the count is right once the cache has
// seen the last change. It writes only status.activeThreats, with a merge patch.
type ActiveThreatsReconciler struct {
	client.Client
}

// Reconcile implements reconcile.Reconciler.
func (r *ActiveThreatsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var conn v1.MTDConnector
	if err := r.Get(ctx, req.NamespacedName, &conn); err != nil {
		if client.IgnoreNotFound(err) == nil {
			forgetConnectorSeries(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var list v1.ThreatRemediationList
	// Read-only use of the cache's objects: no deep copy of what may be thousands.
	if err := r.List(ctx, &list, client.InNamespace(conn.Namespace), client.MatchingFields{indexConnectorRef: conn.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	type key struct{ typ, risk string }
	counts := map[key]float64{}
	var open int32
	var oldest time.Time
	for i := range list.Items {
		tr := &list.Items[i]
		if terminalPhase(tr.Status.Phase) {
			continue
		}
		k := key{"manual", "unknown"}
		if t := tr.Spec.Threat; t != nil {
			// Only a remediation that answers a threat counts as one: a hand-made plan
			// (a lost phone) is not a threat on the device.
			open++
			detected := tr.CreationTimestamp.Time
			if tr.Status.DetectedAt != nil {
				detected = tr.Status.DetectedAt.Time
			}
			if oldest.IsZero() || detected.Before(oldest) {
				oldest = detected
			}
			k = key{string(t.Type), string(t.Risk)}
			if k.typ == "" {
				k.typ = "unknown" // opened from Intune's device risk, no alert known yet
			}
		}
		counts[k]++
	}
	activeThreats.DeletePartialMatch(prometheus.Labels{"namespace": conn.Namespace, "connector": conn.Name})
	for k, n := range counts {
		activeThreats.WithLabelValues(conn.Namespace, conn.Name, k.typ, k.risk).Set(n)
	}
	publishOldestThreat(&conn, oldest)
	startConnectorSeries(conn.Namespace, conn.Name)
	if conn.Status.ActiveThreats == open {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(conn.DeepCopy())
	conn.Status.ActiveThreats = open
	return ctrl.Result{}, client.IgnoreNotFound(r.Status().Patch(ctx, &conn, patch))
}

// publishOldestThreat sets the oldest open threat's detection time, or removes the
// series when none is open.
func publishOldestThreat(conn *v1.MTDConnector, oldest time.Time) {
	if oldest.IsZero() {
		oldestThreat.DeleteLabelValues(conn.Namespace, conn.Name)
		return
	}
	oldestThreat.WithLabelValues(conn.Namespace, conn.Name).Set(float64(oldest.Unix()))
}

// terminalPhase says whether a remediation has ended.
func terminalPhase(p v1.RemediationPhase) bool {
	return p == v1.PhaseResolved || p == v1.PhaseFailed || p == v1.PhaseExpired
}

// SetupWithManager registers the "activethreats" controller.
func (r *ActiveThreatsReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MTDConnector{}, builder.WithPredicates(createdOrDeleted())).
		Watches(&v1.ThreatRemediation{}, handler.EnqueueRequestsFromMapFunc(connectorOf), builder.WithPredicates(phaseChanged())).
		WithOptions(opts).
		Named("activethreats").
		Complete(r)
}

func connectorOf(_ context.Context, o client.Object) []reconcile.Request {
	tr := o.(*v1.ThreatRemediation)
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: tr.Namespace, Name: string(tr.Spec.ConnectorRef.Name)}}}
}

// phaseChanged passes creations, deletions and phase changes of remediations.
func phaseChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.(*v1.ThreatRemediation).Status.Phase != e.ObjectNew.(*v1.ThreatRemediation).Status.Phase
		},
	}
}
