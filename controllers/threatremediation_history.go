package controllers

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

// Intune keeps each device's action history (managedDevice.deviceActionResults, v1.0).
// It is the operator's memory beyond its own records: a lock, retire or wipe found
// Running after a crash is settled by it instead of guessed at, and one that Intune
// already carries out (sent before a remediation was deleted and re-created, or by a
// person in the portal) is not sent again.
//
// Assumed, since Microsoft does not say: Intune lists an action in the history as soon
// as it accepts the request (the portal shows it "pending" at once); its names are the
// action's own (remoteLock, retire, wipe).

const (
	// settleGrace is how long after an interrupted attempt began its absence from the
	// history is not yet taken to mean that Intune never got it.
	settleGrace = 2 * time.Minute
	// clockSkew allows for the operator's clock and Intune's to differ.
	clockSkew = 5 * time.Minute
)

// received says whether a history entry means Intune took the action in: any state but
// failed, canceled and notSupported.
func received(state string) bool {
	switch state {
	case "failed", "canceled", "notSupported":
		return false
	}
	return true
}

// settle decides, from Intune's history, every step that was running when the operator
// stopped and is not repeatable (remoteLock, retire, wipe). It runs before the
// remediation can resolve, so no record stays Running for ever. A step it cannot yet
// decide stays Running, and the pass comes back when it can.
func (r *ThreatRemediationReconciler) settle(ctx context.Context, p *remediationPass) error {
	for i, step := range p.tr.Spec.Steps {
		rec := recordOf(p.tr, i)
		if rec == nil || rec.State != v1.StepRunning || repeatable(step.Action) {
			continue
		}
		if p.device != nil {
			d, err := r.readDevice(ctx, p, p.device.ID)
			if err != nil {
				return err
			}
			p.device = d
		}
		if p.device == nil {
			if destructive(step.Action) {
				r.recordOutcome(p, i, v1.StepSucceeded, "the operator stopped while sending "+string(step.Action)+
					"; the device has since left Intune, as after a "+string(step.Action))
			} else {
				r.recordOutcome(p, i, v1.StepSkipped, "the operator stopped while sending it, and the device has since left Intune")
			}
			continue
		}
		started := rec.StartedAt.Time
		res, ok := p.device.LastActionResult(string(step.Action))
		switch {
		case ok && !res.Started.Before(started.Add(-clockSkew)) && received(res.State):
			r.recordOutcome(p, i, v1.StepSucceeded, fmt.Sprintf("the operator stopped while sending it; Intune's device action history shows %s %s since %s, so it reached Intune and is not sent again",
				step.Action, res.State, res.Started.UTC().Format(time.RFC3339)))
		case ok && !res.Started.Before(started.Add(-clockSkew)):
			r.recordOutcome(p, i, v1.StepFailed, fmt.Sprintf("Intune's device action history shows %s %s (started %s)",
				step.Action, res.State, res.Started.UTC().Format(time.RFC3339)))
		case p.now.Before(started.Add(settleGrace)):
			p.wakeAt(started.Add(settleGrace))
			p.waiting = &summary{reason: ReasonSettlingStep, reconciling: true, message: fmt.Sprintf(
				"step %d (%s) was being sent when the operator stopped; Intune's device action history does not list it yet, and is read again at %s",
				i, step.Action, started.Add(settleGrace).UTC().Format(time.RFC3339))}
		default:
			rec.State, rec.StartedAt, rec.Message = v1.StepPending, nil,
				"the operator stopped while sending it, and Intune's device action history does not list it: it never reached Intune, so it is sent again"
			countStep(p.tr, step.Action, "Unsent")
		}
	}
	return nil
}

// alreadyInIntune says, for a lock, retire or wipe about to be sent, whether Intune's
// history already shows it under way (pending or active, whenever it began) or done
// since the threat was detected, and so whether it must not be sent again.
func alreadyInIntune(d *intune.ManagedDevice, action v1.StepAction, detected time.Time) (string, bool) {
	res, ok := d.LastActionResult(string(action))
	if !ok {
		return "", false
	}
	since := res.Started.UTC().Format(time.RFC3339)
	switch {
	case res.State == "pending" || res.State == "active":
		return fmt.Sprintf("Intune's device action history shows %s %s since %s", action, res.State, since), true
	case res.State == "done" && !res.Started.Before(detected.Add(-clockSkew)):
		return fmt.Sprintf("Intune's device action history shows %s done at %s, after this threat was detected", action, since), true
	}
	return "", false
}
