package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// Steps run at most once. A step that calls a cloud is recorded Running, with the
// object's resourceVersion, before its call goes out, and its outcome is recorded after. A
// record found Running at the start of a pass means the operator stopped mid-call:
// notify, syncDevice and ignoreAlert are harmless to send again and are; remoteLock,
// retire and wipe are not, and are settled from Intune's device action history
// (threatremediation_history.go), never re-sent on a guess.

// repeatable steps may be sent again after an interrupted attempt.
func repeatable(a v1.StepAction) bool {
	return a == v1.StepNotify || a == v1.StepSyncDevice || a == v1.StepIgnoreAlert
}

// planHash identifies the plan: its steps, in order, with every field, and whether it is
// a dry run (an approved dry run must not turn into the real thing). A plan that is not
// a dry run hashes its steps alone, as before dry runs were part of it.
func planHash(spec v1.ThreatRemediationSpec) string {
	b, _ := json.Marshal(spec.Steps)
	if spec.DryRun {
		b = append(b, "\ndryRun"...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// stepsStarted says whether any step has an outcome or is running.
func stepsStarted(tr *v1.ThreatRemediation) bool {
	for _, rec := range tr.Status.Steps {
		if rec.State != v1.StepPending && rec.State != v1.StepAwaitingApproval {
			return true
		}
	}
	return false
}

// trackPlan keeps status.planHash on the plan until a step has run, and from then on
// says how the plan changed, or "". A remediation whose steps ran before plan hashes
// existed is frozen as it stands now.
func trackPlan(tr *v1.ThreatRemediation) string {
	h := planHash(tr.Spec)
	if !stepsStarted(tr) || tr.Status.PlanHash == "" {
		tr.Status.PlanHash = h
		return ""
	}
	if tr.Status.PlanHash == h {
		return ""
	}
	return "spec.steps or spec.dryRun changed after a step ran; the plan is frozen once any step has run, so that no step runs twice or under another step's record. " +
		"Put the plan back, or create a new ThreatRemediation for another plan"
}

// initRecords gives every step of the plan its record, so the status shows the whole
// plan and what is next.
func initRecords(tr *v1.ThreatRemediation) {
	for i, step := range tr.Spec.Steps {
		if rec := recordOf(tr, i); rec == nil {
			tr.Status.Steps = append(tr.Status.Steps, v1.StepRecord{Index: int32(i), Action: step.Action, State: v1.StepPending})
		} else if rec.State == v1.StepPending || rec.State == v1.StepAwaitingApproval {
			rec.Action = step.Action // the plan was edited before the step ran
		}
	}
}

// recordOf finds the record of step i. Records are looked up afresh after each status
// write, which replaces the slice.
func recordOf(tr *v1.ThreatRemediation, i int) *v1.StepRecord {
	for j := range tr.Status.Steps {
		if tr.Status.Steps[j].Index == int32(i) {
			return &tr.Status.Steps[j]
		}
	}
	return nil
}

// runSteps runs, in order, every step that is due. It stops at the first one that
// must wait (not yet due, awaiting approval, over the cap) or that failed for good.
func (r *ThreatRemediationReconciler) runSteps(ctx context.Context, p *remediationPass) error {
	tr := p.tr
	for i := range tr.Spec.Steps {
		step := tr.Spec.Steps[i]
		switch recordOf(tr, i).State {
		case v1.StepSucceeded, v1.StepSkipped, v1.StepDryRun:
			continue
		case v1.StepFailed:
			p.failed = true
			return nil
		case v1.StepRunning:
			if !repeatable(step.Action) {
				return nil // settle could not decide yet, and says when it will
			}
		}
		if due := tr.Status.DetectedAt.Add(after(step)); p.now.Before(due) {
			p.wakeAt(due)
			return nil
		}
		if tr.Spec.DryRun {
			r.recordOutcome(p, i, v1.StepDryRun, "dry run: would "+describe(step))
			continue
		}
		// An ObserveOnly connector promises no writes to either cloud: its remediations
		// record what they would do, but notify (an event, no cloud call) still runs.
		if step.Action != v1.StepNotify && p.conn.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly {
			r.recordOutcome(p, i, v1.StepDryRun, "the connector is ObserveOnly: would "+describe(step))
			continue
		}
		if why := cannotIgnore(p, step); why != "" {
			r.recordOutcome(p, i, v1.StepSkipped, "not run: "+why)
			continue
		}
		var approval *v1.Approval
		if r.Approvals.needsApproval(step) {
			d := r.decide(p)
			switch {
			case d.approval == nil:
				r.await(p, i, summary{reason: ReasonAwaitingApproval, reconciling: true,
					message: fmt.Sprintf("step %d (%s) %s", i, step.Action, d.wait)})
				return nil
			case d.approval.Decision == v1.Denied:
				r.recordOutcome(p, i, v1.StepSkipped, "not run: denied by "+d.approval.User+optional(": ", d.approval.Message))
				continue
			}
			approval = d.approval
		}
		if guardedAction(step.Action) && p.device != nil {
			// Read back by id when it matters: the snapshot may be a minute old.
			d, err := r.readDevice(ctx, p, p.device.ID)
			if err != nil {
				return err
			}
			if d == nil {
				r.recordOutcome(p, i, v1.StepSkipped, "not run: the device is no longer managed by Intune")
				continue
			}
			p.device = d
			group, err := r.protectedGroup(ctx, p)
			if err != nil {
				return err
			}
			if group != "" {
				r.recordOutcome(p, i, v1.StepSkipped, "not run: the device or its user is in protected group "+group+" (spec.guardrails.protectedGroupIDs of the connector)")
				continue
			}
			if why, ok := alreadyInIntune(p.device, step.Action, tr.Status.DetectedAt.Time); ok {
				r.recordOutcome(p, i, v1.StepSucceeded, "not sent: "+why)
				continue
			}
		}
		// notify makes no call outside the cluster: its outcome (a condition and an event)
		// lands in the same status write as its record, so it needs no Running record
		// first. Every other step is recorded Running before its call goes out. The
		// plan's hash is already in that write, so a crash leaves the plan frozen.
		if step.Action != v1.StepNotify {
			started, err := r.start(ctx, p, i)
			if err != nil || !started {
				return err
			}
		}
		if err := r.callStep(ctx, p, i, step, approvedBy(approval)); err != nil || p.failed {
			return err
		}
	}
	return nil
}

// optional is prefix+s, or "" when s is empty.
func optional(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// outcomeOf is a step call's outcome for the log, in the words of
// mtd_operator_remediation_steps_total (Succeeded), else "Error" with the error's kind
// as the reason (a Throttled or Transient error is retried, not Failed).
func outcomeOf(err error) (outcome, reason string) {
	if err == nil {
		return string(v1.StepSucceeded), ""
	}
	return "Error", string(outbound.KindOf(err))
}

// cannotIgnore says why an ignoreAlert step cannot run, or "": ignoring an alert needs
// the modelled UES API and an alert id, and a real UES tenant offers neither.
func cannotIgnore(p *remediationPass, step v1.RemediationStep) string {
	switch {
	case step.Action != v1.StepIgnoreAlert:
		return ""
	case !p.conn.Spec.UES.ModelledMobileAPI:
		return "ignoring a UES alert needs the modelled UES API (the connector's spec.ues.modelledMobileAPI); BlackBerry documents none, so ignore it in the UES console"
	case p.tr.Spec.Threat == nil || p.tr.Spec.Threat.AlertID == "":
		return "no UES alert is known for this threat"
	}
	return ""
}

// await records why a step waits, once (events are not repeated every pass).
func (r *ThreatRemediationReconciler) await(p *remediationPass, i int, why summary) {
	rec := recordOf(p.tr, i)
	if rec.Message != why.message {
		rec.State, rec.Message = v1.StepPending, why.message
		if why.reason == ReasonAwaitingApproval {
			rec.State = v1.StepAwaitingApproval
		}
		emit(r.Recorder, p.tr, corev1.EventTypeNormal, why.reason, string(rec.Action), why.message)
	}
	p.waiting = &why
}

// start records step i as Running, after the cap check for capped steps. The
// write must succeed before the call is made.
func (r *ThreatRemediationReconciler) start(ctx context.Context, p *remediationPass, i int) (bool, error) {
	action := p.tr.Spec.Steps[i].Action
	if capped(action) {
		r.capMu.Lock()
		defer r.capMu.Unlock()
		if wait, err := r.overCap(ctx, p); err != nil || wait != nil {
			if wait != nil {
				r.await(p, i, *wait)
			}
			return false, err
		}
	}
	rec, now := recordOf(p.tr, i), metav1.NewTime(p.now)
	rec.State, rec.StartedAt, rec.CompletedAt, rec.Message = v1.StepRunning, &now, nil, "started"
	if err := r.save(ctx, p); err != nil {
		return false, err
	}
	return true, nil
}

// callStep makes the call of step i and records its outcome.
func (r *ThreatRemediationReconciler) callStep(ctx context.Context, p *remediationPass, i int, step v1.RemediationStep, approved string) error {
	msg, err := r.execute(ctx, p, step)
	msg += approved
	outcome, reason := outcomeOf(err)
	log.FromContext(ctx).Info("step ran", "remediation", p.tr.Name, "connector", p.conn.Name, "step", i, "action", step.Action,
		"device", p.tr.Status.IntuneDeviceID, "outcome", outcome, "reason", reason, "error", err)
	switch {
	case err == nil:
		r.recordOutcome(p, i, v1.StepSucceeded, msg)
		return nil
	case outbound.IsThrottled(err):
		// Refused before it was carried out: not an attempt, so back to Pending.
		rec := recordOf(p.tr, i)
		rec.State, rec.StartedAt, rec.Message = v1.StepPending, nil, "throttled, will retry: "+err.Error()
		p.wakeAt(p.now.Add(max(outbound.RetryAfterOf(err), minThrottleWait)))
		return &throttledStep{err}
	case repeatable(step.Action) && !outbound.IsTerminal(err) && !outbound.IsNotFound(err):
		rec := recordOf(p.tr, i)
		rec.State, rec.StartedAt, rec.Message = v1.StepPending, nil, "will retry: "+err.Error()
		return err
	}
	r.recordOutcome(p, i, v1.StepFailed, err.Error())
	p.failed = true
	return nil
}

// execute makes the step's one external call (none for notify).
func (r *ThreatRemediationReconciler) execute(ctx context.Context, p *remediationPass, step v1.RemediationStep) (string, error) {
	switch step.Action {
	case v1.StepNotify:
		msg := notice(p, step)
		p.conds.set(ConditionUserNotified, true, ReasonNotified, msg)
		emit(r.Recorder, p.tr, corev1.EventTypeWarning, "UserNotified", "Notify", msg)
		return "user notified: " + msg, nil
	case v1.StepIgnoreAlert:
		_, err := p.clients.UES.IgnoreAlert(ctx, p.tr.Spec.Threat.AlertID)
		if outbound.KindOf(err) == outbound.Conflict {
			return "the alert was no longer active in UES", nil
		}
		return "alert " + p.tr.Spec.Threat.AlertID + " ignored in UES", err
	}
	if p.device == nil {
		return "", &outbound.Error{Service: "intune", Operation: string(step.Action), Kind: outbound.Terminal, Message: "the device is not managed by Intune"}
	}
	var wipe *intune.WipeOptions
	if step.Wipe != nil {
		wipe = &intune.WipeOptions{KeepEnrollmentData: step.Wipe.KeepEnrollmentData, KeepUserData: step.Wipe.KeepUserData}
	}
	if err := p.clients.Intune.RunDeviceAction(ctx, p.device.ID, intune.DeviceAction(step.Action), wipe); err != nil {
		return "", err
	}
	return "Intune accepted " + string(step.Action) + " for device " + p.device.ID, nil
}

// recordOutcome records the outcome of step i, with an event and the step metric.
func (r *ThreatRemediationReconciler) recordOutcome(p *remediationPass, i int, state v1.StepState, msg string) {
	rec, now := recordOf(p.tr, i), metav1.NewTime(p.now)
	if rec.StartedAt == nil {
		rec.StartedAt = &now
	}
	rec.State, rec.CompletedAt, rec.Message = state, &now, truncate(msg, 1024)
	countStep(p.tr, rec.Action, state)
	kind := corev1.EventTypeNormal
	if state == v1.StepFailed {
		kind = corev1.EventTypeWarning
	}
	emit(r.Recorder, p.tr, kind, "Step"+string(state), string(rec.Action), fmt.Sprintf("step %d (%s): %s", i, rec.Action, msg))
}

// notice is what the user is told.
func notice(p *remediationPass, step v1.RemediationStep) string {
	if step.Message != "" {
		return step.Message
	}
	device := p.tr.Status.DeviceName
	if device == "" {
		device = "your device"
	}
	if t := p.tr.Spec.Threat; t != nil {
		what := string(t.Type)
		switch {
		case what == "":
			// Intune's device risk says how bad, not what: no alert is known yet.
			what = "a threat BlackBerry rates " + string(t.Risk) + " risk"
		case t.Detail != "":
			what += " (" + t.Detail + ")"
		}
		return fmt.Sprintf("BlackBerry Protect found a threat on %s: %s. Open the BlackBerry Protect app and follow its steps; company e-mail and apps are blocked until the device is secure.", device, what)
	}
	return "Your IT department needs you to act on " + device + "; please contact them."
}

func describe(step v1.RemediationStep) string {
	if step.Action == v1.StepNotify {
		return "notify the user"
	}
	return "run " + string(step.Action)
}

func after(step v1.RemediationStep) time.Duration {
	if step.After != nil {
		return step.After.Duration
	}
	return 0
}

// planDone says whether every step has reached an outcome that lets the plan end.
func planDone(tr *v1.ThreatRemediation) bool {
	for i := range tr.Spec.Steps {
		switch recordOf(tr, i).State {
		case v1.StepSucceeded, v1.StepSkipped, v1.StepDryRun:
		default:
			return false
		}
	}
	return true
}

// nextStep is the first step still to run.
func nextStep(tr *v1.ThreatRemediation) *v1.StepRecord {
	for i := range tr.Spec.Steps {
		if rec := recordOf(tr, i); rec.State == v1.StepPending || rec.State == v1.StepAwaitingApproval {
			return rec
		}
	}
	return nil
}

func failedMessage(tr *v1.ThreatRemediation) string {
	var out []string
	for _, rec := range tr.Status.Steps {
		if rec.State == v1.StepFailed {
			out = append(out, fmt.Sprintf("step %d (%s) failed: %s", rec.Index, rec.Action, rec.Message))
		}
	}
	return strings.Join(out, "; ")
}

// throttledStep is a step refused with 429: the pass ends and comes back after
// Retry-After (already in the pass's wake time) without counting as a failure.
type throttledStep struct{ error }

func isThrottledStep(err error) bool { return errors.As(err, new(*throttledStep)) }
