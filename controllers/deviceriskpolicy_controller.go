package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// Reasons of DeviceRiskPolicy conditions.
const (
	ReasonConnectorNotFound = "ConnectorNotFound"
	ReasonConnectorNotReady = "ConnectorNotReady"
	ReasonAmbiguousAdoption = "AmbiguousAdoption"
	ReasonAlreadyManaged    = "AlreadyManaged"
)

// DeviceRiskPolicyReconciler realises a DeviceRiskPolicy: per platform an Intune
// compliance policy with the MTD rule, optionally the Conditional Access policy that
// blocks non-compliant devices, and the UES risk assessment.
type DeviceRiskPolicyReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clients  ClientSource
	Clock    clock.PassiveClock
	// DefaultResync applies when the connector sets no resyncInterval (default 5 min);
	// MaxResync caps the interval, which otherwise follows the connector's.
	DefaultResync time.Duration
	MaxResync     time.Duration
}

// policyPass carries one reconcile of a DeviceRiskPolicy.
type policyPass struct {
	pol     *v1.DeviceRiskPolicy
	conds   conditions
	conn    *v1.MTDConnector
	clients *credentials.Clients
	// listed caches one list of compliance (or CA) policies per pass, made only when an
	// object has no recorded id.
	listed   []intune.CompliancePolicy
	listedCA []intune.ConditionalAccessPolicy
	// drift collects what ObserveOnly (or a refusal) left different from the spec.
	drift []string
	// blocked is the first problem only a person can resolve (ambiguity, a conflict).
	blocked *summary
	// settled are pending-create annotations to clear once the status holds the ids.
	settled []string
}

// Reconcile implements reconcile.Reconciler.
func (r *DeviceRiskPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pol v1.DeviceRiskPolicy
	if err := r.Get(ctx, req.NamespacedName, &pol); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := pol.Status.DeepCopy()
	p := &policyPass{pol: &pol, conds: conditions{list: &pol.Status.Conditions, generation: pol.Generation}}

	res, err := r.reconcile(ctx, p)
	if !pol.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(&pol, Finalizer) {
		return res, err
	}
	pol.Status.ObservedGeneration = pol.Generation
	if !equality.Semantic.DeepEqual(before, &pol.Status) {
		if uerr := r.Status().Update(ctx, &pol); uerr != nil {
			return ctrl.Result{}, errors.Join(err, client.IgnoreNotFound(uerr))
		}
	}
	// Only now that the ids are stored may the crash guards go.
	for _, key := range p.settled {
		if aerr := setAnnotation(ctx, r.Client, &pol, key, ""); aerr != nil {
			return ctrl.Result{}, errors.Join(err, aerr)
		}
	}
	return res, err
}

func (r *DeviceRiskPolicyReconciler) reconcile(ctx context.Context, p *policyPass) (ctrl.Result, error) {
	pol := p.pol
	if !pol.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, p)
	}
	if pol.Spec.Suspend {
		p.conds.summarise(summary{reason: ReasonSuspended, message: "spec.suspend is true: no calls are made to Intune or UES"})
		return ctrl.Result{}, nil
	}
	if ok, res := r.connectorGate(ctx, p); !ok {
		return res, nil
	}
	if pol.Spec.ManagementPolicy != v1.ManagementPolicyObserveOnly && !controllerutil.ContainsFinalizer(pol, Finalizer) {
		controllerutil.AddFinalizer(pol, Finalizer)
		if err := r.Update(ctx, pol); err != nil {
			return ctrl.Result{}, err
		}
	}

	err := r.syncCompliancePolicies(ctx, p)
	if err == nil || !outbound.IsThrottled(err) {
		err = errors.Join(err, r.syncConditionalAccess(ctx, p))
	}
	if err == nil || !outbound.IsThrottled(err) {
		err = errors.Join(err, r.syncRiskAssessment(ctx, p))
	}
	return r.conclude(p, err)
}

// connectorGate finds the connector and its clients; a policy waits, saying why, while
// the connector is missing or not Ready.
func (r *DeviceRiskPolicyReconciler) connectorGate(ctx context.Context, p *policyPass) (bool, ctrl.Result) {
	pol := p.pol
	var conn v1.MTDConnector
	key := types.NamespacedName{Namespace: pol.Namespace, Name: string(pol.Spec.ConnectorRef.Name)}
	if err := r.Get(ctx, key, &conn); err != nil {
		msg := fmt.Sprintf("waiting for MTDConnector %s: %v", key.Name, err)
		if apierrors.IsNotFound(err) {
			msg = fmt.Sprintf("waiting for MTDConnector %s, which does not exist in namespace %s", key.Name, key.Namespace)
		}
		p.conds.summarise(summary{reason: ReasonConnectorNotFound, message: msg, reconciling: true})
		return false, ctrl.Result{}
	}
	if c := meta.FindStatusCondition(conn.Status.Conditions, v1.ConditionReady); c == nil || c.Status != "True" {
		why := "it has not reported yet"
		if c != nil {
			why = c.Reason + ": " + c.Message
		}
		p.conds.summarise(summary{reason: ReasonConnectorNotReady, message: fmt.Sprintf("waiting for MTDConnector %s to be Ready (%s)", conn.Name, why), reconciling: true})
		return false, ctrl.Result{}
	}
	clients, err := r.Clients.Get(ctx, &conn)
	if err != nil {
		p.conds.summarise(summary{reason: ReasonConnectorNotReady, message: "the connector's credentials: " + err.Error(), reconciling: true})
		return false, ctrl.Result{RequeueAfter: time.Minute}
	}
	p.conn, p.clients = &conn, clients
	return true, ctrl.Result{}
}

func (r *DeviceRiskPolicyReconciler) conclude(p *policyPass, err error) (ctrl.Result, error) {
	pol := p.pol
	var compliant, failing int32
	for _, st := range pol.Status.Platforms {
		compliant += st.CompliantDevices
		failing += st.NonCompliantDevices
	}
	pol.Status.CompliantDevices, pol.Status.NonCompliantDevices = compliant, failing
	switch {
	case p.blocked != nil:
		warnOnce(r.Recorder, pol, p.conds, p.blocked.reason, p.blocked.message)
		p.conds.set(v1.ConditionSynced, false, p.blocked.reason, p.blocked.message)
		p.conds.summarise(*p.blocked)
	case err != nil:
		terminal := outbound.IsTerminal(err)
		if terminal {
			warnOnce(r.Recorder, pol, p.conds, reasonFor(err), err.Error())
		}
		p.conds.set(v1.ConditionSynced, false, reasonFor(err), err.Error())
		p.conds.summarise(summary{reason: reasonFor(err), message: err.Error(), stalled: terminal, reconciling: !terminal})
	case len(p.drift) > 0:
		msg := "ObserveOnly: Intune differs from the spec: " + strings.Join(p.drift, "; ")
		if c := p.conds.get(v1.ConditionSynced); c == nil || c.Message != msg {
			emit(r.Recorder, pol, corev1.EventTypeWarning, ReasonDriftDetected, "Observe", msg)
		}
		p.conds.set(v1.ConditionSynced, false, ReasonDriftDetected, msg)
		p.conds.summarise(summary{reason: ReasonDriftDetected, message: msg})
	default:
		p.conds.set(v1.ConditionSynced, true, ReasonUpToDate, "Intune matches the spec")
		p.conds.summarise(summary{ready: true, reason: ReasonReady, message: fmt.Sprintf("%d compliance policies in place; %d devices compliant, %d not", len(pol.Status.Platforms), compliant, failing)})
	}
	if p.blocked != nil && p.blocked.stalled {
		return ctrl.Result{RequeueAfter: terminalRecheck}, nil
	}
	if err != nil {
		return requeueFor(err)
	}
	return ctrl.Result{RequeueAfter: jitter(r.resync(p))}, nil
}

func (r *DeviceRiskPolicyReconciler) resync(p *policyPass) time.Duration {
	return resyncInterval(p.conn, r.DefaultResync, r.MaxResync)
}

// finalize deletes (or orphans) what the policy created, then lets the object go.
func (r *DeviceRiskPolicyReconciler) finalize(ctx context.Context, p *policyPass) (ctrl.Result, error) {
	pol := p.pol
	if !controllerutil.ContainsFinalizer(pol, Finalizer) {
		return ctrl.Result{}, nil
	}
	if pol.Spec.DeletionPolicy == v1.DeletionPolicyDelete && pol.Spec.ManagementPolicy == v1.ManagementPolicyManage && !pol.Spec.Suspend {
		var conn v1.MTDConnector
		err := r.Get(ctx, types.NamespacedName{Namespace: pol.Namespace, Name: string(pol.Spec.ConnectorRef.Name)}, &conn)
		switch {
		case apierrors.IsNotFound(err):
			emit(r.Recorder, pol, corev1.EventTypeWarning, "Orphaned", "Delete", "the MTDConnector is gone, so the Intune policies are left in place")
		case err != nil:
			return ctrl.Result{}, err
		default:
			clients, err := r.Clients.Get(ctx, &conn)
			if err != nil {
				p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: "cannot delete the Intune policies: " + err.Error() + " (set deletionPolicy: Orphan to let go)", stalled: true})
				return ctrl.Result{RequeueAfter: time.Minute}, nil
			}
			p.clients = clients
			if err := r.deleteAll(ctx, p); err != nil {
				p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: "deleting the Intune policies: " + err.Error(), reconciling: !outbound.IsTerminal(err), stalled: outbound.IsTerminal(err)})
				return requeueFor(err)
			}
		}
	}
	controllerutil.RemoveFinalizer(pol, Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Update(ctx, pol))
}

func (r *DeviceRiskPolicyReconciler) deleteAll(ctx context.Context, p *policyPass) error {
	for _, st := range p.pol.Status.Platforms {
		if err := r.deleteCompliancePolicy(ctx, p, st); err != nil {
			return err
		}
	}
	return r.deleteCA(ctx, p)
}

// setAnnotation sets (or, with "", removes) one annotation through a merge patch, so
// the in-memory object keeps its unsaved status.
func setAnnotation(ctx context.Context, c client.Client, obj client.Object, key, value string) error {
	cp := obj.DeepCopyObject().(client.Object)
	base := client.MergeFrom(cp.DeepCopyObject().(client.Object))
	ann := cp.GetAnnotations()
	if value == "" {
		if _, ok := ann[key]; !ok {
			return nil
		}
		delete(ann, key)
	} else {
		if ann == nil {
			ann = map[string]string{}
		}
		ann[key] = value
	}
	cp.SetAnnotations(ann)
	if err := c.Patch(ctx, cp, base); err != nil {
		return err
	}
	obj.SetAnnotations(cp.GetAnnotations())
	obj.SetResourceVersion(cp.GetResourceVersion())
	return nil
}
