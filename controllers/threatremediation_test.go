package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// blockRiskyDevices sets Intune up as a DeviceRiskPolicy would: an Android compliance
// policy requiring a secured device, assigned to all devices, and Conditional Access
// granting Office 365 only to compliant devices.
func blockRiskyDevices(t *testing.T, tn tenant) {
	t.Helper()
	ctx, g := context.Background(), graphAs(t, tn)
	p, err := g.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.AndroidCompliancePolicy, DisplayName: "MTD Android",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "secured", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AssignCompliancePolicy(ctx, p.ID, []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateConditionalAccessPolicy(ctx, intune.ConditionalAccessPolicy{DisplayName: "compliant devices only", State: "enabled",
		IncludeApplications: []string{"Office365"}, IncludeUsers: []string{"All"}, ClientAppTypes: []string{"all"},
		GrantOperator: "OR", BuiltInControls: []string{"compliantDevice"}}); err != nil {
		t.Fatal(err)
	}
}

func exchangeAllowed(t *testing.T, tn tenant, device string) bool {
	t.Helper()
	res, err := admin.AppAccess(context.Background(), tn.ID, adminapi.AppAccess{Device: device, App: world.ExchangeOnlineApp})
	if err != nil {
		t.Fatal(err)
	}
	return res.Allowed
}

func TestUserRemediatesAndAccessReturns(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	blockRiskyDevices(t, tn)
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, 5*time.Minute), step(v1.StepSyncDevice, 15*time.Minute)}
	})
	testkit.Eventually(t, 30*time.Second, "Exchange allowed before the threat", func() (bool, string) { return exchangeAllowed(t, tn, ph.IntuneID), "blocked" })
	resolvedLabels := map[string]string{"namespace": conn.Namespace, "connector": conn.Name}
	resolvedBefore := histogramCount(t, "mtd_operator_threat_time_to_resolve_seconds", resolvedLabels)
	before := actionCalls(t)

	syncClocks(twinNow(t))
	detect(t, tn, ph.IntuneID, "maliciousApplication")
	if exchangeAllowed(t, tn, ph.IntuneID) {
		t.Fatal("Intune let a high-risk device reach Exchange")
	}
	tr := intakeOf(t, conn, ph.IntuneID, 1)
	got := waitPhase(t, tr, v1.PhaseBlocked)
	waitFor(t, conn, "one active threat", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1 })
	oldest, ok := testkit.Gauge(t, metrics.Registry, "mtd_operator_active_threats_oldest_detection_timestamp_seconds", map[string]string{"namespace": conn.Namespace, "connector": conn.Name})
	if !ok || got.Status.DetectedAt == nil || int64(oldest) != got.Status.DetectedAt.Unix() {
		t.Fatalf("oldest open threat %v (present %v), want the detection %v", oldest, ok, got.Status.DetectedAt)
	}
	if got.Status.ComplianceState != "noncompliant" || got.Status.DeviceRisk != v1.RiskHigh || got.Status.IntuneDeviceID != ph.IntuneID {
		t.Fatalf("status = %+v", got.Status)
	}
	if r := readyReason(got); r != "False/Blocked" || !meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionReconciling) {
		t.Fatalf("an open remediation is Ready=False, Reconciling=True: %s", conditionsText(got.Status.Conditions))
	}

	advance(t, 5*time.Minute, tr)
	got = waitPhase(t, tr, v1.PhaseAwaitingUser)
	if c := meta.FindStatusCondition(got.Status.Conditions, controllers.ConditionUserNotified); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "high risk") {
		t.Fatalf("UserNotified = %+v", c)
	}
	waitEvent(t, got, "UserNotified: BlackBerry Protect found a threat")
	advance(t, 5*time.Minute, tr)

	// The user removes the app: UES resolves the alert, reports the device secured,
	// Intune finds it compliant again.
	if _, err := admin.Remediate(context.Background(), tn.ID, ph.IntuneID, ""); err != nil {
		t.Fatal(err)
	}
	got = waitPhase(t, tr, v1.PhaseResolved)
	s := got.Status
	if s.ResolvedAt == nil || !s.ResolvedAt.Time.Equal(remediationClock.Now().Truncate(time.Second)) || s.TimeToResolve == nil ||
		s.TimeToResolve.Duration < 10*time.Minute || s.TimeToResolve.Duration > 10*time.Minute+clockLead+time.Second {
		t.Fatalf("resolvedAt %v (clock %v), timeToResolve %v; want about 10m after detection at %v", s.ResolvedAt, remediationClock.Now(), s.TimeToResolve, s.DetectedAt)
	}
	if r := readyReason(got); r != "True/"+controllers.ReasonThreatResolved {
		t.Fatalf("Ready = %s", r)
	}
	if stepState(got, 1) != v1.StepSkipped || callsSince(t, before)[routeSync] != 0 {
		t.Fatal("the syncDevice step was not due: it must not have run, and is recorded as not run")
	}
	if !exchangeAllowed(t, tn, ph.IntuneID) {
		t.Fatal("Exchange still blocked after the fix")
	}
	if histogramCount(t, "mtd_operator_threat_time_to_resolve_seconds", resolvedLabels) <= resolvedBefore {
		t.Fatal("time to resolve not observed")
	}
	for _, want := range []string{"Blocked: phase Blocked", "AwaitingUser: phase AwaitingUser", "Resolved: phase Resolved", "StepSucceeded: step 0 (notify)"} {
		waitEvent(t, got, want)
	}
	waitFor(t, conn, "no active threats", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 0 })
}

// TestUnattendedThreatEscalatesOnSchedule runs a plan whose last step ignores the alert,
// which needs the modelled UES API: the connector opts in, so the alert enriches the
// episode Intune opened and ignoreAlert has an alert id.
func TestUnattendedThreatEscalatesOnSchedule(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.UES.ModelledMobileAPI = true
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, 0), step(v1.StepSyncDevice, 15*time.Minute),
			step(v1.StepRemoteLock, time.Hour), step(v1.StepIgnoreAlert, 2*time.Hour)}
	})
	before := actionCalls(t)
	lockLabels := map[string]string{"namespace": conn.Namespace, "connector": conn.Name, "action": "remoteLock", "outcome": "Succeeded"}
	locks := testkit.Counter(t, metrics.Registry, "mtd_operator_remediation_steps_total", lockLabels)
	syncClocks(twinNow(t))
	alert := detect(t, tn, ph.IntuneID, "maliciousApplication")
	tr := intakeOf(t, conn, ph.IntuneID, 1)
	waitRemediation(t, client.ObjectKeyFromObject(tr), "the alert's id", func(tr *v1.ThreatRemediation) bool {
		return tr.Spec.Threat != nil && tr.Spec.Threat.AlertID == alert.ID
	})
	if r := tr.Annotations[v1.AnnotationRequestedBy]; r != operatorUser {
		t.Fatalf("the intake's remediation names requester %q, want the operator %q", r, operatorUser)
	}
	approve(t, tr, v1.Approved, approver) // remoteLock and ignoreAlert lift or impose a block
	waitStep(t, tr, 0, v1.StepSucceeded)
	waitPhase(t, tr, v1.PhaseAwaitingUser)

	// The next visit is due exactly when syncDevice is, not at some poll.
	advance(t, 13*time.Minute)
	res := reconcileOnce(t, freshRemediationReconciler(24*time.Hour), tr)
	got := getRemediation(t, client.ObjectKeyFromObject(tr))
	due := got.Status.DetectedAt.Add(15 * time.Minute).Sub(remediationClock.Now())
	if stepState(got, 1) != v1.StepPending || res.RequeueAfter != max(due, time.Second) {
		t.Fatalf("13 min in: step 1 %s, requeue after %v, want %v", stepState(got, 1), res.RequeueAfter, due)
	}
	if n := callsSince(t, before)[routeSync]; n != 0 {
		t.Fatalf("syncDevice ran %d times before it was due", n)
	}

	advance(t, 2*time.Minute, tr)
	waitStep(t, tr, 1, v1.StepSucceeded)
	waitPhase(t, tr, v1.PhaseEscalated)
	advance(t, 45*time.Minute, tr)
	waitStep(t, tr, 2, v1.StepSucceeded)
	advance(t, time.Hour, tr)
	waitStep(t, tr, 3, v1.StepSucceeded)
	// Ignoring the alert lowers the risk to secured; with no compliance policy the device
	// is compliant, so the threat is over.
	got = waitPhase(t, tr, v1.PhaseResolved)
	if n := callsSince(t, before); n[routeSync] != 1 || n[routeLock] != 1 || n[routeIgnore] != 1 || n[routeRetire]+n[routeWipe] != 0 {
		t.Fatalf("device actions = %v; want one sync, one lock, one ignore", n)
	}
	for i, rec := range got.Status.Steps {
		if rec.StartedAt == nil || rec.CompletedAt == nil || rec.Message == "" {
			t.Fatalf("step %d record lacks its audit trail: %+v", i, rec)
		}
	}
	if got.Status.Steps[2].StartedAt.Time.Sub(got.Status.DetectedAt.Time) < time.Hour {
		t.Fatalf("remoteLock started %v after detection, before its delay of 1h", got.Status.Steps[2].StartedAt.Time.Sub(got.Status.DetectedAt.Time))
	}
	waitEvent(t, got, "StepSucceeded: step 2 (remoteLock)")
	if n := testkit.Counter(t, metrics.Registry, "mtd_operator_remediation_steps_total", lockLabels); n != locks+1 {
		t.Fatalf("steps metric for remoteLock/Succeeded = %v, want %v", n, locks+1)
	}
}

func TestRestartRepeatsNoStep(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "lost-phone", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		step(v1.StepNotify, 0), step(v1.StepSyncDevice, 0))
	mustCreate(t, tr)
	waitStep(t, tr, 1, v1.StepSucceeded)

	// A new operator instance (a restart, another replica) finds the steps recorded and
	// sends nothing again.
	fresh := freshRemediationReconciler(time.Minute)
	for i := 0; i < 3; i++ {
		reconcileOnce(t, fresh, tr)
	}
	if n := callsSince(t, before)[routeSync]; n != 1 {
		t.Fatalf("syncDevice sent %d times", n)
	}
}

func TestDestructiveStepWaitsForApproval(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "retire-lost-phone", v1.DeviceReference{EntraDeviceID: v1.GUID(ph.EntraID)}, step(v1.StepRetire, 0))
	mustCreate(t, tr)
	got := waitStep(t, tr, 0, v1.StepAwaitingApproval)
	if r := readyReason(got); r != "False/"+controllers.ReasonAwaitingApproval {
		t.Fatalf("Ready = %s", r)
	}
	reconcileOnce(t, freshRemediationReconciler(time.Minute), tr)
	if n := callsSince(t, before)[routeRetire]; n != 0 {
		t.Fatalf("retire ran %d times without approval", n)
	}
	approve(t, tr, v1.Approved, approver)
	got = waitStep(t, tr, 0, v1.StepSucceeded)
	if msg := stepRecord(got, 0).Message; !strings.Contains(msg, "approved by "+approver+": ticket INC-1") {
		t.Fatalf("the retire record does not name its approver: %q", msg)
	}
	got = waitPhase(t, tr, v1.PhaseResolved)
	if n := callsSince(t, before)[routeRetire]; n != 1 {
		t.Fatalf("retire calls = %d, want 1", n)
	}
	if v, err := admin.Device(context.Background(), tn.ID, ph.IntuneID); err != nil || v.Managed {
		t.Fatalf("device still managed after retire: %+v %v", v, err)
	}
	waitEvent(t, got, "AwaitingApproval: step 0 (retire) waits for an approval of plan "+got.Status.PlanHash+" by someone other than its requester "+requester)
}

func TestDestructiveStepsAreCappedPerHour(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 2)
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) { c.Spec.Guardrails.MaxDestructiveActionsPerHour = ptr(int32(1)) })
	syncClocks(time.Now())
	before := actionCalls(t)
	var trs []*v1.ThreatRemediation
	for i, name := range []string{"retire-a", "retire-b"} {
		tr := handMade(t, conn, name, v1.DeviceReference{IntuneDeviceID: v1.GUID(phones[i].IntuneID)}, step(v1.StepRetire, 0))
		mustCreate(t, tr)
		approve(t, tr, v1.Approved, approver)
		trs = append(trs, tr)
	}
	var done, capped *v1.ThreatRemediation
	testkit.Eventually(t, 30*time.Second, "one retired, one capped", func() (bool, string) {
		done, capped = nil, nil
		state := ""
		for _, tr := range trs {
			cur := getRemediation(t, client.ObjectKeyFromObject(tr))
			switch {
			case stepState(cur, 0) == v1.StepSucceeded:
				done = cur
			case readyReason(cur) == "False/"+controllers.ReasonDestructiveCap:
				capped = cur
			}
			state += remediationText(cur) + "\n"
		}
		return done != nil && capped != nil, state
	})
	if n := callsSince(t, before)[routeRetire]; n != 1 {
		t.Fatalf("retire calls = %d under a cap of 1", n)
	}
	if rec := stepRecord(capped, 0); rec.State != v1.StepPending || !strings.Contains(rec.Message, "cap of 1") {
		t.Fatalf("capped step = %+v", rec)
	}
	advance(t, time.Hour+time.Minute, capped)
	waitStep(t, capped, 0, v1.StepSucceeded)
	if n := callsSince(t, before)[routeRetire]; n != 2 {
		t.Fatalf("retire calls = %d after the hour", n)
	}
}

func TestProtectedGroupsAreNeverTouched(t *testing.T) {
	tn := riskyTenant(t)
	phones := append(enrolPhones(t, tn, 1), enrolPhones(t, tn, 1)...)
	ctx := context.Background()
	vips, err := admin.CreateGroup(ctx, tn.ID, adminapi.Group{DisplayName: "Executives", Members: []string{phones[0].UserID}})
	if err != nil {
		t.Fatal(err)
	}
	kiosks, err := admin.CreateGroup(ctx, tn.ID, adminapi.Group{DisplayName: "Kiosks", Members: []string{phones[1].EntraID}})
	if err != nil {
		t.Fatal(err)
	}
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.Guardrails.ProtectedGroupIDs = []v1.GUID{v1.GUID(vips.ID), v1.GUID(kiosks.ID)}
	})
	syncClocks(time.Now())
	before, lookups, deviceLookups := actionCalls(t), calls(t, routeUserGroup), calls(t, "GET /v1.0/devices/{id}/memberOf")
	exec := handMade(t, conn, "executive", v1.DeviceReference{IntuneDeviceID: v1.GUID(phones[0].IntuneID)},
		step(v1.StepSyncDevice, 0), step(v1.StepRemoteLock, 0), step(v1.StepWipe, 0))
	kiosk := handMade(t, conn, "kiosk", v1.DeviceReference{IntuneDeviceID: v1.GUID(phones[1].IntuneID)}, step(v1.StepRetire, 0))
	for _, tr := range []*v1.ThreatRemediation{exec, kiosk} {
		mustCreate(t, tr)
		approve(t, tr, v1.Approved, approver)
	}
	got := waitPhase(t, exec, v1.PhaseResolved)
	for i, want := range []v1.StepState{v1.StepSucceeded, v1.StepSkipped, v1.StepSkipped} {
		if stepState(got, i) != want {
			t.Fatalf("executive's phone: %s", remediationText(got))
		}
	}
	if msg := stepRecord(got, 2).Message; !strings.Contains(msg, vips.ID) {
		t.Fatalf("skip message %q does not name the group", msg)
	}
	if k := waitPhase(t, kiosk, v1.PhaseResolved); stepState(k, 0) != v1.StepSkipped || !strings.Contains(stepRecord(k, 0).Message, kiosks.ID) {
		t.Fatalf("kiosk: %s", remediationText(k))
	}
	if n := callsSince(t, before); n[routeLock]+n[routeWipe]+n[routeRetire] != 0 || n[routeSync] != 1 {
		t.Fatalf("device actions on protected devices: %v", n)
	}
	if calls(t, routeUserGroup) == lookups || calls(t, "GET /v1.0/devices/{id}/memberOf") == deviceLookups {
		t.Fatal("user or device group membership was never read")
	}
}

func TestDryRunActsOnNothing(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "rehearsal", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		step(v1.StepNotify, 0), step(v1.StepSyncDevice, 0), step(v1.StepRemoteLock, 0), step(v1.StepWipe, 0))
	tr.Spec.DryRun = true
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseResolved)
	for i := range got.Spec.Steps {
		if rec := stepRecord(got, i); rec.State != v1.StepDryRun || !strings.HasPrefix(rec.Message, "dry run: would ") {
			t.Fatalf("step %d = %+v", i, rec)
		}
	}
	if n := callsSince(t, before); n[routeSync]+n[routeLock]+n[routeWipe]+n[routeRetire]+n[routeIgnore] != 0 {
		t.Fatalf("a dry run called %v", n)
	}
	if meta.FindStatusCondition(got.Status.Conditions, controllers.ConditionUserNotified) != nil {
		t.Fatal("a dry run notified the user")
	}
	waitEvent(t, got, "StepDryRun: step 3 (wipe): dry run: would run wipe")
}

// TestHandMadeRemediationRuns: a remediation known only by its UES device id, as a
// help-desk ticket from the UES console would have it. Mapping a UES device to Intune
// needs the modelled API, so this connector opts in (see
// TestUESDeviceIDNeedsTheModelledAPI for one that does not).
func TestHandMadeRemediationRuns(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) { c.Spec.UES.ModelledMobileAPI = true })
	syncClocks(time.Now())
	before := actionCalls(t)
	// Known only by its UES id, as a help-desk ticket from the UES console would have it.
	tr := handMade(t, conn, "ticket-4711", v1.DeviceReference{UESDeviceID: v1.GUID(ph.UESID)},
		v1.RemediationStep{Action: v1.StepNotify, Message: "Please bring your phone to the help desk."}, step(v1.StepSyncDevice, 0))
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseResolved)
	if got.Status.IntuneDeviceID != ph.IntuneID || got.Status.DeviceName != ph.DeviceName || got.Status.UserPrincipalName == "" {
		t.Fatalf("device not resolved from its UES id: %+v", got.Status)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, controllers.ConditionUserNotified); c == nil || c.Message != "Please bring your phone to the help desk." {
		t.Fatalf("UserNotified = %+v", c)
	}
	if r := readyReason(got); r != "True/"+controllers.ReasonPlanCompleted {
		t.Fatalf("Ready = %s", r)
	}
	if n := callsSince(t, before)[routeSync]; n != 1 {
		t.Fatalf("syncDevice calls = %d", n)
	}
}

// TestUESDeviceIDNeedsTheModelledAPI: without the opt-in, no documented API maps a UES
// device to Intune, so a remediation naming only a UES id fails clearly, having called
// no modelled route and acted on no device.
func TestUESDeviceIDNeedsTheModelledAPI(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before, modelled := actionCalls(t), modelledCalls(t)
	tr := handMade(t, conn, "ues-only", v1.DeviceReference{UESDeviceID: v1.GUID(ph.UESID)}, step(v1.StepSyncDevice, 0))
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseFailed)
	if r := readyReason(got); r != "False/"+controllers.ReasonDeviceNotFound || !strings.Contains(conditionMessage(got.Status.Conditions, v1.ConditionReady), "modelledMobileAPI") {
		t.Fatalf("Ready = %s: %s", r, conditionsText(got.Status.Conditions))
	}
	if n := callsSince(t, before); n[routeSync] != 0 {
		t.Fatalf("device actions = %v", n)
	}
	if n := modelledCalls(t) - modelled; n != 0 {
		t.Fatalf("%d calls to modelled routes", n)
	}
}

func TestResolvedRemediationsAreDeletedAfterRetention(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	gone := handMade(t, conn, "old-news", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepNotify, 0))
	kept := handMade(t, conn, "kept", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepNotify, 0))
	kept.Labels = map[string]string{controllers.LabelKeep: "true"}
	for _, tr := range []*v1.ThreatRemediation{gone, kept} {
		mustCreate(t, tr)
		waitPhase(t, tr, v1.PhaseResolved)
	}
	advance(t, 7*24*time.Hour-time.Minute, gone)
	if res := reconcileOnce(t, freshRemediationReconciler(time.Minute), gone); res.RequeueAfter <= 0 || res.RequeueAfter > time.Minute {
		t.Fatalf("a minute before the end of retention: requeue after %v", res.RequeueAfter)
	}
	advance(t, 2*time.Minute, gone, kept)
	testkit.Eventually(t, 30*time.Second, "old-news deleted", func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(gone), &v1.ThreatRemediation{})
		return apierrors.IsNotFound(err), "still there"
	})
	reconcileOnce(t, freshRemediationReconciler(time.Minute), kept)
	if got := getRemediation(t, client.ObjectKeyFromObject(kept)); got.Status.Phase != v1.PhaseResolved {
		t.Fatalf("kept: %s", remediationText(got))
	}
}

func TestUnresolvedRemediationExpires(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	tr := handMade(t, conn, "too-late", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepSyncDevice, 2*time.Hour))
	tr.Spec.ExpireAfter = &metav1.Duration{Duration: time.Hour}
	mustCreate(t, tr)
	waitPhase(t, tr, v1.PhasePending)
	advance(t, time.Hour, tr)
	got := waitPhase(t, tr, v1.PhaseExpired)
	if stepState(got, 0) != v1.StepPending || !meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionStalled) {
		t.Fatalf("expired: %s", remediationText(got))
	}
}

// metadataRacer is the API as a fresh reconciler sees it, except that just before
// its first status write someone changes the object's metadata (as the threat sync
// does when the alert closes), so that write meets a resourceVersion conflict.
type metadataRacer struct {
	client.Client
	t    *testing.T
	once bool
}

func (m *metadataRacer) Status() client.SubResourceWriter {
	return racingWriter{SubResourceWriter: m.Client.Status(), m: m}
}

type racingWriter struct {
	client.SubResourceWriter
	m *metadataRacer
}

// Update changes a finalizer first: metadata that moves the resourceVersion without
// waking the suite's own reconciler (which would make this a race of two reconcilers,
// a different test), as an annotation written during a pass does in production.
func (w racingWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	if !w.m.once {
		w.m.once = true
		patch := []byte(`{"metadata":{"finalizers":["test.mtd.operator.dev/hold"]}}`)
		if err := k8s.Patch(ctx, obj.DeepCopyObject().(client.Object), client.RawPatch(types.MergePatchType, patch)); err != nil {
			w.m.t.Fatal(err)
		}
	}
	return w.SubResourceWriter.Update(ctx, obj, opts...)
}

func TestMetadataChangeMidStepDoesNotLookLikeAnInterruption(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "lock-it", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepRemoteLock, time.Hour))
	mustCreate(t, tr)
	approve(t, tr, v1.Approved, approver)
	t.Cleanup(func() {
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		_ = k8s.Patch(context.Background(), tr, client.RawPatch(types.MergePatchType, patch))
	})
	waitPhase(t, tr, v1.PhasePending)
	remediationClock.Step(time.Hour) // due now; no poke, so only the reconciler below acts
	r := freshRemediationReconciler(time.Minute)
	r.Client = &metadataRacer{Client: k8s, t: t}
	reconcileOnce(t, r, tr)
	got := waitStep(t, tr, 0, v1.StepSucceeded)
	if n := callsSince(t, before)[routeLock]; n != 1 {
		t.Fatalf("remoteLock calls = %d, want 1: %s", n, remediationText(got))
	}
	if len(got.Finalizers) == 0 {
		t.Fatal("the racing metadata change did not happen")
	}
}

func TestReplicasRacingOnADueStepSendItOnce(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "lock-once", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepRemoteLock, time.Hour))
	mustCreate(t, tr)
	approve(t, tr, v1.Approved, approver)
	waitPhase(t, tr, v1.PhasePending)
	remediationClock.Step(time.Hour)
	// Four instances (an old leader finishing, a new one, ...) act on the same due step
	// at once, each from its own read; the suite's reconciler joins through the poke.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Losers see a conflict: that is the point, not a failure.
			_, _ = freshRemediationReconciler(time.Minute).Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(tr)})
		}()
	}
	poke(t, tr)
	wg.Wait()
	got := waitRemediation(t, client.ObjectKeyFromObject(tr), "the lock step settled", func(cur *v1.ThreatRemediation) bool {
		s := stepState(cur, 0)
		return s == v1.StepSucceeded || s == v1.StepFailed
	})
	if n := callsSince(t, before)[routeLock]; n != 1 {
		t.Fatalf("remoteLock sent %d times by racing instances: %s", n, remediationText(got))
	}
}

func TestObserveOnlyConnectorActsOnNoDevice(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	// Intune already as wanted, so the ObserveOnly connector is Ready with nothing to write.
	if _, err := graphAs(t, tn).PatchConnector(context.Background(), intune.BlackBerryConnectorID,
		intune.ConnectorSettings{AndroidEnabled: ptr(true), IOSEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.ManagementPolicy = v1.ManagementPolicyObserveOnly
		c.Spec.Intune.ConnectorSettings = nil
	})
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "observe-only", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		step(v1.StepNotify, 0), step(v1.StepSyncDevice, 0), step(v1.StepRemoteLock, 0))
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseResolved)
	if rec := stepRecord(got, 0); rec.State != v1.StepSucceeded {
		t.Fatalf("notify = %+v, want it run", rec)
	}
	for i := 1; i < len(got.Spec.Steps); i++ {
		if rec := stepRecord(got, i); rec.State != v1.StepDryRun || !strings.Contains(rec.Message, "ObserveOnly") {
			t.Fatalf("step %d = %+v, want DryRun for the ObserveOnly connector", i, rec)
		}
	}
	if n := callsSince(t, before); n[routeSync]+n[routeLock] != 0 {
		t.Fatalf("an ObserveOnly connector's remediation called %v", n)
	}
}

// TestAHandMadePlanIsNotAThreat: the connector's activeThreats counts remediations that
// answer a threat; a lost phone's plan shows in the metric as "manual" only.
func TestAHandMadePlanIsNotAThreat(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	tr := handMade(t, conn, "lost-phone", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepNotify, 0), step(v1.StepSyncDevice, time.Hour))
	mustCreate(t, tr)
	waitStep(t, tr, 0, v1.StepSucceeded)
	labels := map[string]string{"namespace": conn.Namespace, "connector": conn.Name, "type": "manual", "risk": "unknown"}
	testkit.Eventually(t, 30*time.Second, "the open plan counted as manual", func() (bool, string) {
		n, _ := testkit.Gauge(t, metrics.Registry, "mtd_operator_active_threats", labels)
		return n == 1, fmt.Sprint(n)
	})
	waitForSyncs(t, conn, 1) // the count's status write, had there been one, has landed
	if n := getConnector(t, client.ObjectKeyFromObject(conn)).Status.ActiveThreats; n != 0 {
		t.Fatalf("activeThreats = %d with only a hand-made plan open, want 0", n)
	}
	if _, ok := testkit.Gauge(t, metrics.Registry, "mtd_operator_active_threats_oldest_detection_timestamp_seconds", map[string]string{"namespace": conn.Namespace, "connector": conn.Name}); ok {
		t.Fatal("an oldest open threat is published while no threat is open")
	}
}
