package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	r       *DeviceRiskPolicyReconciler
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
	// guardsToClear are pending-create annotations to clear once the status holds the ids.
	guardsToClear []string
}

// Reconcile implements reconcile.Reconciler through the shared shell.
func (r *DeviceRiskPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileManaged(ctx, r.Client, req, &v1.DeviceRiskPolicy{}, func(pol *v1.DeviceRiskPolicy, conds conditions) pass {
		return &policyPass{r: r, pol: pol, conds: conds}
	})
}

// connect finds the policy's connector and its clients; the policy waits, saying why,
// while the connector cannot be used.
func (p *policyPass) connect(ctx context.Context) (*summary, ctrl.Result, error) {
	conn, clients, wait := useConnector(ctx, p.r.Client, p.r.Clients, p.pol.Namespace, p.pol.Spec.ConnectorRef)
	p.conn, p.clients = conn, clients
	return wait, ctrl.Result{}, nil
}

// sync keeps each platform's compliance policy, the Conditional Access policy and the
// risk assessment; a throttled call ends the pass at once (the rest would be too).
func (p *policyPass) sync(ctx context.Context) (ctrl.Result, error) {
	r := p.r
	noteDeviceAdministrator(p)
	err := r.syncCompliancePolicies(ctx, p)
	if err == nil || !outbound.IsThrottled(err) {
		err = errors.Join(err, r.syncConditionalAccess(ctx, p))
	}
	if err == nil || !outbound.IsThrottled(err) {
		err = errors.Join(err, r.syncRiskAssessment(ctx, p))
	}
	return r.conclude(p, err)
}

func (p *policyPass) forget() {}

// mayWrite says whether the pass may change the clouds; under ObserveOnly it records what
// it would have changed as drift instead (reported in Synced and an event).
func (p *policyPass) mayWrite(drift string) bool {
	if v1.AllowsModify(p.pol) {
		return true
	}
	p.drift = append(p.drift, drift)
	return false
}

// keeper, for the ladder.
func (p *policyPass) object() client.Object       { return p.pol }
func (p *policyPass) adoption() v1.AdoptionPolicy { return p.pol.Spec.Adoption }
func (p *policyPass) clearAfterWrite(key string)  { p.guardsToClear = append(p.guardsToClear, key) }
func (p *policyPass) block(s summary) {
	if p.blocked == nil {
		p.blocked = &s
	}
}
func (p *policyPass) managedBy(ctx context.Context, id string) (string, error) {
	owner, err := p.r.managedBy(ctx, p.pol, id)
	if owner != "" {
		owner = "DeviceRiskPolicy " + owner
	}
	return owner, err
}

// written clears the crash guards: only now that the ids are stored may they go.
func (p *policyPass) written(ctx context.Context) error {
	return clearGuards(ctx, p.r.Client, p.pol, p.guardsToClear)
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

// finalize deletes what the policy created when AllowsDelete, else orphans it.
func (p *policyPass) finalize(ctx context.Context) (ctrl.Result, bool, error) {
	r, pol := p.r, p.pol
	if !v1.AllowsDelete(pol) {
		return ctrl.Result{}, true, nil
	}
	var conn v1.MTDConnector
	err := r.Get(ctx, types.NamespacedName{Namespace: pol.Namespace, Name: string(pol.Spec.ConnectorRef.Name)}, &conn)
	switch {
	case apierrors.IsNotFound(err):
		emit(r.Recorder, pol, corev1.EventTypeWarning, "Orphaned", "Delete", "the MTDConnector is gone, so the Intune policies are left in place")
		return ctrl.Result{}, true, nil
	case err != nil:
		return ctrl.Result{}, false, err
	}
	clients, err := r.Clients.Get(ctx, &conn)
	if err != nil {
		p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: "cannot delete the Intune policies: " + err.Error() + " (set deletionPolicy: Orphan to let go)", stalled: true})
		return ctrl.Result{RequeueAfter: time.Minute}, false, nil
	}
	p.clients = clients
	if err := r.deleteAll(ctx, p); err != nil {
		p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: "deleting the Intune policies: " + err.Error(), reconciling: !outbound.IsTerminal(err), stalled: outbound.IsTerminal(err)})
		res, err := requeueFor(err)
		return res, false, err
	}
	return ctrl.Result{}, true, nil
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
