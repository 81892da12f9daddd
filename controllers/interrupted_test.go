package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// interrupt records step i as Running, started now, as the operator does just before
// it sends the step's call, and as it finds it after stopping mid-call.
func interrupt(t *testing.T, tr *v1.ThreatRemediation, i int) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the step recorded Running", func() (bool, string) {
		cur := getRemediation(t, client.ObjectKeyFromObject(tr))
		rec := stepRecord(cur, i)
		now := metav1.NewTime(remediationClock.Now())
		rec.State, rec.StartedAt, rec.CompletedAt, rec.Message = v1.StepRunning, &now, nil, "started"
		err := k8s.Status().Update(context.Background(), cur)
		return err == nil, errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAnInterruptedStepIsSettledFromIntunesHistory: the operator stopped between
// recording a wipe as Running and learning Intune's answer. Intune's device action
// history decides, never a guess: listed, it is done and not sent again; listed as
// failed, the step failed; not listed (after a grace period), it never reached Intune
// and is sent once.
func TestAnInterruptedStepIsSettledFromIntunesHistory(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 3)
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	ctx := context.Background()
	var trs []*v1.ThreatRemediation
	for i, name := range []string{"reached-intune", "failed-in-intune", "never-sent"} {
		tr := handMade(t, conn, name, v1.DeviceReference{IntuneDeviceID: v1.GUID(phones[i].IntuneID)}, step(v1.StepWipe, time.Hour))
		mustCreate(t, tr)
		approve(t, tr, v1.Approved, approver)
		waitStep(t, tr, 0, v1.StepPending)
		interrupt(t, tr, 0)
		trs = append(trs, tr)
	}
	at := remediationClock.Now()
	for i, state := range []string{"pending", "failed"} {
		if _, err := admin.RecordActionResult(ctx, tn.ID, phones[i].IntuneID, adminapi.ActionResult{ActionName: "wipe", ActionState: state, StartDateTime: at}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range trs {
		poke(t, tr)
	}

	got := waitStep(t, trs[0], 0, v1.StepSucceeded)
	if msg := stepRecord(got, 0).Message; !strings.Contains(msg, "shows wipe pending since") || !strings.Contains(msg, "not sent again") {
		t.Fatalf("settled record = %q", msg)
	}
	got = waitPhase(t, trs[1], v1.PhaseFailed)
	if rec := stepRecord(got, 0); rec.State != v1.StepFailed || !strings.Contains(rec.Message, "shows wipe failed") {
		t.Fatalf("record = %+v", rec)
	}
	got = waitRemediation(t, client.ObjectKeyFromObject(trs[2]), "settling", func(tr *v1.ThreatRemediation) bool {
		return readyReason(tr) == "False/"+controllers.ReasonSettlingStep
	})
	if rec := stepRecord(got, 0); rec.State != v1.StepRunning {
		t.Fatalf("within the grace period the step is decided: %+v", rec)
	}
	if n := callsSince(t, before)[routeWipe]; n != 0 {
		t.Fatalf("wipe calls = %d before the grace period ended, want 0", n)
	}

	remediationClock.Step(time.Hour) // past the grace period, and the step's own due time
	poke(t, trs[2])
	got = waitStep(t, trs[2], 0, v1.StepSucceeded)
	if n := callsSince(t, before)[routeWipe]; n != 1 {
		t.Fatalf("wipe calls = %d, want the one that never reached Intune sent once: %s", n, remediationText(got))
	}
	for _, tr := range trs {
		reconcileOnce(t, freshRemediationReconciler(time.Minute), tr)
	}
	if n := callsSince(t, before)[routeWipe]; n != 1 {
		t.Fatalf("wipe calls = %d after more passes, want 1", n)
	}
}

// TestARecreatedRemediationDoesNotWipeAgain performs the trust issue's GitOps attack: a
// remediation that sent a wipe is deleted, and a GitOps tool re-creates it from Git. The
// new object needs a new approval (approvals live in status, which Git does not hold),
// and, once approved, finds the wipe still pending in Intune's history and sends
// nothing.
func TestARecreatedRemediationDoesNotWipeAgain(t *testing.T) {
	ctx := context.Background()
	if _, err := admin.SetActionDelay(ctx, time.Hour); err != nil { // the phone is offline: the wipe waits for its check-in
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.SetActionDelay(context.Background(), 0) })
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	manifest := func() *v1.ThreatRemediation {
		return handMade(t, conn, "from-git", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepWipe, 0))
	}
	first := manifest()
	mustCreate(t, first)
	approve(t, first, v1.Approved, approver)
	waitStep(t, first, 0, v1.StepSucceeded)
	if n := callsSince(t, before)[routeWipe]; n != 1 {
		t.Fatalf("wipe calls = %d, want 1", n)
	}
	if err := k8s.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the first object gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(first), &v1.ThreatRemediation{})
		return client.IgnoreNotFound(err) == nil && err != nil, errString(err)
	})

	again := manifest()
	mustCreate(t, again)
	waitStep(t, again, 0, v1.StepAwaitingApproval)
	approve(t, again, v1.Approved, approver)
	got := waitStep(t, again, 0, v1.StepSucceeded)
	if msg := stepRecord(got, 0).Message; !strings.Contains(msg, "not sent: Intune's device action history shows wipe pending since") {
		t.Fatalf("record = %q", msg)
	}
	reconcileOnce(t, freshRemediationReconciler(time.Minute), again)
	if n := callsSince(t, before)[routeWipe]; n != 1 {
		t.Fatalf("wipe calls = %d after the re-created remediation, want still 1", n)
	}
}
