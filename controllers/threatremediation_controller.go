package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
)

// Reasons and condition types of ThreatRemediation.
const (
	ReasonThreatResolved   = "ThreatResolved"
	ReasonPlanCompleted    = "PlanCompleted"
	ReasonDeviceRemoved    = "DeviceRemoved"
	ReasonDeviceNotFound   = "DeviceNotFound"
	ReasonDeviceAmbiguous  = "DeviceAmbiguous"
	ReasonPlanChanged      = "PlanChanged"
	ReasonAwaitingSnapshot = "AwaitingDeviceSnapshot"
	ReasonAwaitingApproval = "AwaitingApproval"
	ReasonSettlingStep     = "SettlingInterruptedStep"
	ReasonDestructiveCap   = "DestructiveActionCap"
	ReasonStepFailed       = "StepFailed"
	ReasonExpired          = "Expired"
	ReasonNotified         = "Notified"
	// ConditionUserNotified is True once the notify step ran; its message is what the
	// user was told, for user-facing tooling to show.
	ConditionUserNotified = "UserNotified"
)

// Defaults of the reconciler's options.
const (
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultPollInterval = time.Minute
)

// ThreatRemediationReconciler drives each ThreatRemediation's plan to its end.
//
// kstatus: an open remediation (Pending, Blocked, AwaitingUser, Escalated) has
// Ready=False and Reconciling=True with the phase, or what it waits for, as the reason:
// it is in progress until the device is secured, which is exactly what `kubectl wait
// --for=condition=Ready` and Argo CD's "Progressing" should say. Resolved is Ready=True.
// Failed and Expired are Stalled=True: only a person can take it from there.
type ThreatRemediationReconciler struct {
	client.Client
	// APIReader reads around the cache: the cap on destructive actions counts step
	// records as the API server holds them, so replicas and restarts agree.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clients   ClientSource
	// Snapshots hold each connector's device snapshot, which the threat sync takes and
	// every open remediation reads instead of Graph.
	Snapshots *snapshot.Store
	// Inventories hold each connector's Protect app inventory: a remediation says
	// whether its device has the app.
	Inventories *snapshot.Inventories
	// Refreshed, when set, wakes a connector's open remediations after each snapshot.
	Refreshed <-chan event.GenericEvent
	Clock     clock.PassiveClock
	// Retention is how long a Resolved remediation is kept (default 7 days) unless
	// labelled mtd.operator.dev/keep=true.
	Retention time.Duration
	// PollInterval is how often an open remediation looks at its device in the latest
	// snapshot when no step is due sooner and no snapshot woke it (default 1 minute).
	PollInterval time.Duration
	// MaxDestructiveActionsPerHour, when positive, is a ceiling over every connector's
	// spec.guardrails.maxDestructiveActionsPerHour (an operator-wide safety net).
	MaxDestructiveActionsPerHour int
	// Approvals is what the installation decides about approvals.
	Approvals ApprovalGate
	// UnreportedWindow is how long after a syslog alert Intune may take to report the
	// threat's risk (UES reports periodically). Past it, a remediation Intune never saw
	// resolves on Intune's "secured and compliant" (default 1 hour).
	UnreportedWindow time.Duration

	// capMu makes counting the destructive actions of the last hour and recording a new
	// one as Running one step, so concurrent workers cannot both take the last slot.
	capMu sync.Mutex
}

// remediationPass carries one reconcile's observations.
type remediationPass struct {
	tr      *v1.ThreatRemediation
	conds   conditions
	now     time.Time
	conn    *v1.MTDConnector
	clients *credentials.Clients
	device  *intune.ManagedDevice
	removed bool      // the device was known to Intune and is no longer managed
	seenAt  time.Time // when the device's state was read (the snapshot's time)
	saved   *v1.ThreatRemediationStatus
	wake    time.Time // when the plan next needs a visit; zero: only the poll
	waiting *summary  // why the plan cannot move on now (approval, cap)
	failed  bool
	// unreported is how long Intune may take to hear of a threat syslog reported.
	unreported time.Duration
}

func (p *remediationPass) wakeAt(t time.Time) {
	if p.wake.IsZero() || t.Before(p.wake) {
		p.wake = t
	}
}

// Reconcile implements reconcile.Reconciler.
func (r *ThreatRemediationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var tr v1.ThreatRemediation
	if err := r.Get(ctx, req.NamespacedName, &tr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !tr.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if terminalPhase(tr.Status.Phase) {
		return r.retain(ctx, &tr)
	}
	p := &remediationPass{tr: &tr, conds: conditions{list: &tr.Status.Conditions, generation: tr.Generation}, now: r.Clock.Now(), saved: tr.Status.DeepCopy(),
		unreported: r.unreportedWindow()}
	startPhase := tr.Status.Phase
	res, err := r.reconcile(ctx, p)
	tr.Status.ObservedGeneration = tr.Generation
	if !equality.Semantic.DeepEqual(p.saved, &tr.Status) {
		// Not cancelled with the pass: a step's outcome must reach the audit trail even
		// when the manager is stopping, or the step would look interrupted.
		if serr := r.save(context.WithoutCancel(ctx), p); serr != nil {
			return ctrl.Result{}, errors.Join(err, client.IgnoreNotFound(serr))
		}
	}
	if tr.Status.Phase != startPhase {
		r.announcePhase(&tr)
	}
	return res, err
}

// save writes the status, with the object's resourceVersion: a step is only ever
// started from the latest state, so a stale read (cache lag, a second replica) fails
// here with a conflict instead of repeating a step.
//
// A change of metadata alone (the threat sync's alert annotation, a label), or an
// approver's decision written meanwhile, also moves the resourceVersion. Such a
// conflict is retried once on the latest object when its spec and the rest of its
// status are still what this pass started from, so that, say, the alert closing as a
// wipe lands does not leave the wipe looking interrupted.
func (r *ThreatRemediationReconciler) save(ctx context.Context, p *remediationPass) error {
	err := r.Status().Update(ctx, p.tr)
	if apierrors.IsConflict(err) {
		var latest v1.ThreatRemediation
		if gerr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(p.tr), &latest); gerr != nil ||
			latest.Generation != p.tr.Generation || !sameButApproval(&latest.Status, p.saved) {
			return err
		}
		approval := latest.Status.Approval
		latest.Status = *p.tr.Status.DeepCopy()
		if !equality.Semantic.DeepEqual(approval, p.saved.Approval) {
			// An approver decided meanwhile: their decision stands, and is read next pass.
			latest.Status.Approval = approval
		}
		if err = r.Status().Update(ctx, &latest); err == nil {
			*p.tr = latest
		}
	}
	if err != nil {
		return err
	}
	p.saved = p.tr.Status.DeepCopy()
	return nil
}

func (r *ThreatRemediationReconciler) reconcile(ctx context.Context, p *remediationPass) (ctrl.Result, error) {
	tr, s := p.tr, &p.tr.Status
	if s.DetectedAt == nil {
		t := tr.CreationTimestamp
		if tr.Spec.Threat != nil && tr.Spec.Threat.DetectedAt != nil {
			t = *tr.Spec.Threat.DetectedAt
		}
		s.DetectedAt = &t
	}
	if s.Phase == "" {
		s.Phase = v1.PhasePending
	}
	if msg := trackPlan(tr); msg != "" {
		p.conds.summarise(summary{reason: ReasonPlanChanged, message: msg, stalled: true})
		return ctrl.Result{}, nil
	}
	initRecords(tr)
	conn, clients, wait := useConnector(ctx, r.Client, r.Clients, tr.Namespace, tr.Spec.ConnectorRef)
	if wait != nil {
		p.conds.summarise(*wait)
		return ctrl.Result{RequeueAfter: r.poll()}, nil
	}
	p.conn, p.clients = conn, clients
	if err := r.observe(ctx, p); err != nil {
		switch {
		case errors.Is(err, errDeviceNotFound):
			return r.fail(p, ReasonDeviceNotFound, err.Error())
		case errors.Is(err, errDeviceAmbiguous):
			return r.fail(p, ReasonDeviceAmbiguous, err.Error())
		case errors.Is(err, errNoSnapshot):
			p.conds.summarise(summary{reason: ReasonAwaitingSnapshot, message: err.Error(), reconciling: true})
			return ctrl.Result{RequeueAfter: min(r.poll(), 10*time.Second)}, nil
		}
		p.conds.summarise(summary{reason: reasonFor(err), message: "reading the device: " + err.Error(), reconciling: true})
		return requeueFor(err)
	}
	if err := r.settle(ctx, p); err != nil {
		p.conds.summarise(summary{reason: reasonFor(err), message: "reading the device's action history: " + err.Error(), reconciling: true})
		return requeueFor(err)
	}
	if w := p.waiting; w != nil {
		// An interrupted step is not decided yet: nothing else moves until it is.
		p.conds.summarise(*w)
		return ctrl.Result{RequeueAfter: max(p.wake.Sub(p.now), time.Second)}, nil
	}
	if reason, msg, ok := resolution(p); ok {
		return r.resolve(p, reason, msg)
	}
	if expiry := s.DetectedAt.Add(tr.ExpireAfter()); !p.now.Before(expiry) {
		s.Phase = v1.PhaseExpired
		msg := fmt.Sprintf("unresolved %s after detection (spec.expireAfter); no further step runs", tr.ExpireAfter())
		p.conds.summarise(summary{reason: ReasonExpired, message: msg, stalled: true})
		return ctrl.Result{}, nil
	}
	stepErr := r.runSteps(ctx, p)
	if p.failed {
		return r.fail(p, ReasonStepFailed, failedMessage(tr))
	}
	if stepErr != nil && !isThrottledStep(stepErr) {
		p.conds.summarise(summary{reason: reasonFor(stepErr), message: stepErr.Error(), reconciling: true})
		return requeueFor(stepErr)
	}
	if tr.Spec.Threat == nil && planDone(tr) {
		return r.resolve(p, ReasonPlanCompleted, "every step of the plan has run")
	}
	s.Phase = openPhase(p)
	sum := summary{reason: string(s.Phase), message: phaseMessage(p), reconciling: true}
	if p.waiting != nil {
		sum = *p.waiting
	}
	p.conds.summarise(sum)
	wake := p.now.Add(r.poll())
	if !p.wake.IsZero() && p.wake.Before(wake) {
		wake = p.wake
	}
	return ctrl.Result{RequeueAfter: max(wake.Sub(p.now), time.Second)}, nil
}

// resolve ends the remediation as Resolved, with the audit times.
func (r *ThreatRemediationReconciler) resolve(p *remediationPass, reason, msg string) (ctrl.Result, error) {
	s := &p.tr.Status
	now := metav1.NewTime(p.now)
	s.Phase, s.ResolvedAt = v1.PhaseResolved, &now
	// To the second, as resolvedAt is stored: a column and an audit record, not a benchmark.
	s.TimeToResolve = &metav1.Duration{Duration: now.Sub(s.DetectedAt.Time).Round(time.Second)}
	// Steps that never came due stay in the audit trail as not run, not as pending.
	for i := range s.Steps {
		if st := s.Steps[i].State; st == v1.StepPending || st == v1.StepAwaitingApproval {
			s.Steps[i].State, s.Steps[i].CompletedAt, s.Steps[i].Message = v1.StepSkipped, &now, "not run: resolved before it was due"
		}
	}
	p.conds.summarise(summary{ready: true, reason: reason, message: msg})
	return ctrl.Result{RequeueAfter: r.retention()}, nil
}

// fail ends the remediation as Failed, which needs a person.
func (r *ThreatRemediationReconciler) fail(p *remediationPass, reason, msg string) (ctrl.Result, error) {
	p.tr.Status.Phase = v1.PhaseFailed
	p.conds.summarise(summary{reason: reason, message: msg, stalled: true})
	return ctrl.Result{}, nil
}

// retain deletes a Resolved remediation once the retention period has passed, unless
// it is labelled to keep. Failed and Expired ones stay for a person to read.
func (r *ThreatRemediationReconciler) retain(ctx context.Context, tr *v1.ThreatRemediation) (ctrl.Result, error) {
	if tr.Status.Phase != v1.PhaseResolved || tr.Status.ResolvedAt == nil || tr.Labels[LabelKeep] == "true" {
		return ctrl.Result{}, nil
	}
	if left := tr.Status.ResolvedAt.Add(r.retention()).Sub(r.Clock.Now()); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	err := r.Delete(ctx, tr, client.Preconditions{UID: &tr.UID, ResourceVersion: &tr.ResourceVersion})
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

func (r *ThreatRemediationReconciler) announcePhase(tr *v1.ThreatRemediation) {
	kind := corev1.EventTypeNormal
	switch tr.Status.Phase {
	case v1.PhaseFailed, v1.PhaseExpired, v1.PhaseBlocked:
		kind = corev1.EventTypeWarning
	case v1.PhaseResolved:
		if d := tr.Status.TimeToResolve; d != nil {
			countResolved(tr, d.Duration)
		}
	}
	msg := "phase " + string(tr.Status.Phase)
	if c := (conditions{list: &tr.Status.Conditions}).get(v1.ConditionReady); c != nil {
		msg += ": " + c.Message
	}
	emit(r.Recorder, tr, kind, string(tr.Status.Phase), "Remediate", msg)
}

// DefaultUnreportedWindow: UES reports device risk to Intune periodically, well within it.
const DefaultUnreportedWindow = time.Hour

func (r *ThreatRemediationReconciler) unreportedWindow() time.Duration {
	if r.UnreportedWindow > 0 {
		return r.UnreportedWindow
	}
	return DefaultUnreportedWindow
}

func (r *ThreatRemediationReconciler) poll() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *ThreatRemediationReconciler) retention() time.Duration {
	if r.Retention > 0 {
		return r.Retention
	}
	return DefaultRetention
}

// sameButApproval says whether two statuses differ at most in the approval, which an
// approver writes alongside the operator.
func sameButApproval(a, b *v1.ThreatRemediationStatus) bool {
	x, y := *a, *b
	x.Approval, y.Approval = nil, nil
	return equality.Semantic.DeepEqual(&x, &y)
}
