package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

const (
	routePolicies       = "POST /v1.0/deviceManagement/deviceCompliancePolicies"
	routePatchPolicy    = "PATCH /v1.0/deviceManagement/deviceCompliancePolicies/{id}"
	routeAssignPolicy   = "POST /v1.0/deviceManagement/deviceCompliancePolicies/{id}/assign"
	routeSchedulePolicy = "POST /v1.0/deviceManagement/deviceCompliancePolicies/{id}/scheduleActionsForRules"
	routeDeletePolicy   = "DELETE /v1.0/deviceManagement/deviceCompliancePolicies/{id}"
)

// writes snapshots the compliance-policy write routes' call counts.
func writes(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range []string{routePolicies, routePatchPolicy, routeAssignPolicy, routeSchedulePolicy, routeDeletePolicy} {
		out[r] = calls(t, r)
		// The same routes on Graph beta, where androidDeviceOwnerCompliancePolicy lives.
		beta := strings.Replace(r, " /v1.0/", " /beta/", 1)
		out[beta] = calls(t, beta)
	}
	return out
}

// wrote returns the writes since before, by route, leaving out routes with none.
func wrote(t *testing.T, before map[string]int64) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for r, n := range writes(t) {
		if d := n - before[r]; d != 0 {
			out[r] = d
		}
	}
	return out
}

// readyConnector creates a Ready connector for a fresh tenant and returns both.
func readyConnector(t *testing.T, mods ...func(*v1.MTDConnector)) (tenant, *v1.MTDConnector) {
	t.Helper()
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	for _, mod := range mods {
		mod(conn)
	}
	create(t, conn)
	ready(t, conn)
	return tn, conn
}

func policyFor(conn *v1.MTDConnector, name string, platforms ...v1.Platform) *v1.DeviceRiskPolicy {
	return &v1.DeviceRiskPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: conn.Namespace},
		Spec: v1.DeviceRiskPolicySpec{
			ConnectorRef:   v1.LocalObjectReference{Name: v1.ObjectName(conn.Name)},
			DisplayName:    "MTD " + name,
			Description:    "managed by mtd-operator",
			Platforms:      platforms,
			MaxAllowedRisk: v1.RiskLow,
			Actions:        v1.ComplianceActions{BlockGracePeriodHours: 0, RetireAfterDays: ptr(int32(30))},
			Assignments:    v1.Assignments{AllUsers: true},
		},
	}
}

// update applies change to the latest version of p, retrying on conflicts with the
// reconciler's own writes.
func update(t *testing.T, p *v1.DeviceRiskPolicy, change func(*v1.DeviceRiskPolicy)) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := getPolicy(t, policyKey(p))
		change(cur)
		return k8s.Update(context.Background(), cur)
	}); err != nil {
		t.Fatal(err)
	}
}

func policyKey(p *v1.DeviceRiskPolicy) client.ObjectKey { return client.ObjectKeyFromObject(p) }

func getPolicy(t *testing.T, key client.ObjectKey) *v1.DeviceRiskPolicy {
	t.Helper()
	var p v1.DeviceRiskPolicy
	if err := k8s.Get(context.Background(), key, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// waitPolicy waits for a condition on a DeviceRiskPolicy at its current generation.
func waitPolicy(t *testing.T, p *v1.DeviceRiskPolicy, typ string, status metav1.ConditionStatus, reason string) *v1.DeviceRiskPolicy {
	t.Helper()
	return testkit.WaitObject(t, k8s, policyKey(p), 30*time.Second, typ+"="+string(status)+"/"+reason, func(got *v1.DeviceRiskPolicy) (bool, string) {
		return conditionHolds(got.Status.Conditions, got.Generation, typ, status, reason)
	})
}

func policyReady(t *testing.T, p *v1.DeviceRiskPolicy) *v1.DeviceRiskPolicy {
	t.Helper()
	return waitPolicy(t, p, v1.ConditionReady, metav1.ConditionTrue, controllers.ReasonReady)
}

// namedPolicies lists the tenant's compliance policies with a display name.
func namedPolicies(t *testing.T, tn tenant, name string) []intune.CompliancePolicy {
	t.Helper()
	all, err := graphAs(t, tn).ListCompliancePolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []intune.CompliancePolicy
	for _, p := range all {
		if p.DisplayName == name {
			out = append(out, p)
		}
	}
	return out
}

func TestPolicyCreatesOnePolicyPerPlatform(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "all-platforms", v1.PlatformAndroid, v1.PlatformAndroidWorkProfile, v1.PlatformIOS)
	pol.Spec.Assignments = v1.Assignments{IncludeGroupIDs: []v1.GUID{"2a8f4c6e-1b3d-4e5f-8a7b-9c0d1e2f3a4b"}, ExcludeGroupIDs: []v1.GUID{"6b1d3f5a-7c9e-4b2d-8f0a-1c3e5a7b9d2f"}}
	create(t, pol)
	got := policyReady(t, pol)
	if len(got.Status.Platforms) != 3 {
		t.Fatalf("status platforms = %+v", got.Status.Platforms)
	}
	types := map[intune.PolicyType]bool{}
	for _, st := range got.Status.Platforms {
		live, err := graphAs(t, tn).GetCompliancePolicy(context.Background(), st.PolicyID)
		if err != nil {
			t.Fatal(err)
		}
		types[live.Type] = true
		if !live.ThreatProtectionEnabled || live.RequiredSecurityLevel != "low" || live.DisplayName != pol.Spec.DisplayName || st.Adopted || st.Version == 0 {
			t.Fatalf("%s policy = %+v, status %+v", st.Platform, live, st)
		}
		if len(live.Actions) != 2 || len(live.Assignments) != 2 {
			t.Fatalf("%s actions %+v, assignments %+v", st.Platform, live.Actions, live.Assignments)
		}
	}
	if len(types) != 3 {
		t.Fatalf("policy types = %v, want the three mobile types", types)
	}
	waitEvent(t, got, "Created: created iOS compliance policy")
}

func TestPolicyAdoptsAnExistingPolicyAndCorrectsIt(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "adopt", v1.PlatformIOS)
	existing, err := graphAs(t, tn).CreateCompliancePolicy(context.Background(), intune.CompliancePolicy{
		Type: intune.IOSCompliancePolicy, DisplayName: pol.Spec.DisplayName, Description: pol.Spec.Description,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "high", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	before := writes(t)
	create(t, pol)
	got := policyReady(t, pol)
	if st := got.Status.Platforms[0]; st.PolicyID != existing.ID || !st.Adopted {
		t.Fatalf("status = %+v, want adoption of %s", st, existing.ID)
	}
	if n := len(namedPolicies(t, tn, pol.Spec.DisplayName)); n != 1 {
		t.Fatalf("%d policies named %q, want 1", n, pol.Spec.DisplayName)
	}
	// Level, the retire action and the assignment differ: one call each, no create.
	if w := wrote(t, before); w[routePolicies] != 0 || w[routePatchPolicy] != 1 || w[routeSchedulePolicy] != 1 || w[routeAssignPolicy] != 1 {
		t.Fatalf("writes = %v", w)
	}
	waitEvent(t, got, "Adopted: adopted the existing iOS compliance policy "+existing.ID)
}

// TestConditionalAccessClimbsTheSameLadder: the Conditional Access policy is adopted,
// recorded as adopted and corrected exactly like a compliance policy (it once had its
// own copy of the ladder, without the Adopted flag or the Recovered event).
func TestConditionalAccessClimbsTheSameLadder(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "ca-adopt", v1.PlatformIOS)
	pol.Spec.ConditionalAccess = &v1.ConditionalAccessSpec{DisplayName: "compliant phones only", State: v1.CAStateEnabled,
		Applications: v1.ConditionalAccessApplications{ExchangeOnline: true}, AllUsers: true}
	existing, err := graphAs(t, tn).CreateConditionalAccessPolicy(context.Background(), intune.ConditionalAccessPolicy{
		DisplayName: "compliant phones only", State: "disabled", IncludeApplications: []string{controllers.AppExchangeOnline},
		IncludeUsers: []string{"All"}, ClientAppTypes: []string{"all"}, GrantOperator: "OR", BuiltInControls: []string{"compliantDevice"}})
	if err != nil {
		t.Fatal(err)
	}
	create(t, pol)
	got := policyReady(t, pol)
	if got.Status.ConditionalAccessPolicyID != existing.ID || !got.Status.ConditionalAccessAdopted {
		t.Fatalf("status = %+v, want adoption of %s", got.Status, existing.ID)
	}
	waitEvent(t, got, "Adopted: adopted the existing Conditional Access policy "+existing.ID)
	waitEvent(t, got, "Updated: corrected the Conditional Access policy "+existing.ID)
	live, err := graphAs(t, tn).GetConditionalAccessPolicy(context.Background(), existing.ID)
	if err != nil || live.State != "enabled" {
		t.Fatalf("live = %+v, %v; want it corrected to enabled", live, err)
	}
}

func TestPolicyRefusesAmbiguousAdoption(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "ambiguous", v1.PlatformAndroid)
	for i := 0; i < 2; i++ {
		if _, err := graphAs(t, tn).CreateCompliancePolicy(context.Background(), intune.CompliancePolicy{
			Type: intune.AndroidCompliancePolicy, DisplayName: pol.Spec.DisplayName, Actions: []intune.ScheduledAction{{ActionType: "block"}}}); err != nil {
			t.Fatal(err)
		}
	}
	before := writes(t)
	create(t, pol)
	got := waitPolicy(t, pol, v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonAmbiguousAdoption)
	waitPolicy(t, pol, v1.ConditionStalled, metav1.ConditionTrue, controllers.ReasonAmbiguousAdoption)
	if w := wrote(t, before); len(w) != 0 {
		t.Fatalf("an ambiguous adoption wrote %v", w)
	}
	if !strings.Contains(meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message, "2 Android compliance policies are named") {
		t.Fatal("the message does not explain the ambiguity")
	}
}

func TestPolicyDoesNotTakeOverAnotherPolicysObject(t *testing.T) {
	tn, conn := readyConnector(t)
	first := policyFor(conn, "first", v1.PlatformIOS)
	create(t, first)
	policyReady(t, first)
	second := policyFor(conn, "second", v1.PlatformIOS)
	second.Spec.DisplayName = first.Spec.DisplayName
	second.Spec.MaxAllowedRisk = v1.RiskHigh // would fight over the level
	before := writes(t)
	create(t, second)
	got := waitPolicy(t, second, v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonAlreadyManaged)
	if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, first.Namespace+"/first") {
		t.Fatalf("message %q does not name the manager", msg)
	}
	if w := wrote(t, before); len(w) != 0 {
		t.Fatalf("the second policy wrote %v", w)
	}
	if n := len(namedPolicies(t, tn, first.Spec.DisplayName)); n != 1 {
		t.Fatalf("%d policies, want 1", n)
	}
}

func TestPolicyCrashBetweenCreateAndStatusLeavesNoDuplicate(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "crash", v1.PlatformAndroid)
	pol.Spec.Adoption = v1.AdoptionCreateOnly // even without adoption, our own create is found
	// The state a crash leaves: the intent recorded, the policy created, no id stored.
	pol.Annotations = map[string]string{"mtd.operator.dev/create-pending-android": "2026-11-26T00:00:00Z"}
	orphan, err := graphAs(t, tn).CreateCompliancePolicy(context.Background(), intune.CompliancePolicy{
		Type: intune.AndroidCompliancePolicy, DisplayName: pol.Spec.DisplayName, Description: pol.Spec.Description,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	before := writes(t)
	create(t, pol)
	got := policyReady(t, pol)
	if got.Status.Platforms[0].PolicyID != orphan.ID {
		t.Fatalf("status id %s, want the policy created before the crash %s", got.Status.Platforms[0].PolicyID, orphan.ID)
	}
	if n := len(namedPolicies(t, tn, pol.Spec.DisplayName)); n != 1 {
		t.Fatalf("%d policies after the restart, want exactly 1", n)
	}
	if w := wrote(t, before); w[routePolicies] != 0 {
		t.Fatalf("created again: %v", w)
	}
	testkit.Eventually(t, 10*time.Second, "the crash guard cleared", func() (bool, string) {
		_, ok := getPolicy(t, policyKey(pol)).Annotations["mtd.operator.dev/create-pending-android"]
		return !ok, "annotation still present"
	})
	waitEvent(t, got, "Recovered: found the Android compliance policy "+orphan.ID)
}

func TestPolicyDriftIsCorrectedWithTheMinimumCalls(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "drift", v1.PlatformIOS)
	create(t, pol)
	got := policyReady(t, pol)
	id := got.Status.Platforms[0].PolicyID
	g := graphAs(t, tn)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		drift func() error
		route string
	}{
		{"level", func() error {
			return g.PatchCompliancePolicy(ctx, id, intune.IOSCompliancePolicy, intune.CompliancePolicyPatch{RequiredSecurityLevel: ptr("high")})
		}, routePatchPolicy},
		{"actions", func() error {
			return g.ScheduleComplianceActions(ctx, id, []intune.ScheduledAction{{ActionType: "block", GracePeriodHours: 72}})
		}, routeSchedulePolicy},
		{"assignments", func() error {
			return g.AssignCompliancePolicy(ctx, id, []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}})
		}, routeAssignPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Counted from before the drift, which is itself one write to the route: the
			// operator may correct it before a count taken after the drift could be read.
			before := writes(t)
			if err := tc.drift(); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 4*resync, tc.name+" corrected", func() (bool, string) {
				live, err := g.GetCompliancePolicy(ctx, id)
				if err != nil {
					return false, err.Error()
				}
				want := live.RequiredSecurityLevel == "low" && len(live.Actions) == 2 && len(live.Assignments) == 1 &&
					live.Assignments[0].Kind == intune.TargetAllLicensedUsers
				return want, "still drifted"
			})
			if w := wrote(t, before); len(w) != 1 || w[tc.route] != 2 {
				t.Fatalf("drifting and correcting %s wrote %v, want two calls to %s (the drift, then one correction)", tc.name, w, tc.route)
			}
		})
	}
}

func TestPolicyRemovedPlatformLosesItsPolicy(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "shrink", v1.PlatformAndroid, v1.PlatformIOS)
	create(t, pol)
	got := policyReady(t, pol)
	var iosID string
	for _, st := range got.Status.Platforms {
		if st.Platform == v1.PlatformIOS {
			iosID = st.PolicyID
		}
	}
	update(t, pol, func(p *v1.DeviceRiskPolicy) { p.Spec.Platforms = []v1.Platform{v1.PlatformAndroid} })
	got = policyReady(t, pol)
	if len(got.Status.Platforms) != 1 || got.Status.Platforms[0].Platform != v1.PlatformAndroid {
		t.Fatalf("status platforms = %+v", got.Status.Platforms)
	}
	if _, err := graphAs(t, tn).GetCompliancePolicy(context.Background(), iosID); !outbound.IsNotFound(err) {
		t.Fatalf("the iOS policy is still there: %v", err)
	}
}

func TestPolicyDeletionPolicies(t *testing.T) {
	for _, policy := range []v1.DeletionPolicy{v1.DeletionPolicyOrphan, v1.DeletionPolicyDelete} {
		t.Run(string(policy), func(t *testing.T) {
			tn, conn := readyConnector(t)
			pol := policyFor(conn, "deletion", v1.PlatformAndroid)
			pol.Spec.DeletionPolicy = policy
			pol.Spec.ConditionalAccess = &v1.ConditionalAccessSpec{Applications: v1.ConditionalAccessApplications{ExchangeOnline: true}, AllUsers: true}
			if err := k8s.Create(context.Background(), pol); err != nil {
				t.Fatal(err)
			}
			got := policyReady(t, pol)
			id, caID := got.Status.Platforms[0].PolicyID, got.Status.ConditionalAccessPolicyID
			deleteAndWait(t, pol, false)
			_, err := graphAs(t, tn).GetCompliancePolicy(context.Background(), id)
			_, caErr := graphAs(t, tn).GetConditionalAccessPolicy(context.Background(), caID)
			gone := outbound.IsNotFound(err) && outbound.IsNotFound(caErr)
			if kept := err == nil && caErr == nil; (policy == v1.DeletionPolicyDelete && !gone) || (policy == v1.DeletionPolicyOrphan && !kept) {
				t.Fatalf("deletionPolicy %s: compliance policy %v, CA policy %v", policy, err, caErr)
			}
		})
	}
}

func optInModelled(c *v1.MTDConnector) { c.Spec.UES.ModelledMobileAPI = true }

func TestPolicySteadyStateMakesNoWrites(t *testing.T) {
	_, conn := readyConnector(t, optInModelled) // the risk assessment is written, once
	pol := policyFor(conn, "steady", v1.PlatformAndroid, v1.PlatformIOS)
	pol.Spec.ConditionalAccess = &v1.ConditionalAccessSpec{Applications: v1.ConditionalAccessApplications{ExchangeOnline: true}, AllUsers: true}
	pol.Spec.RiskAssessment = &v1.RiskAssessment{Detections: []v1.DetectionRisk{{Type: "maliciousApplication", Risk: "high"}}}
	create(t, pol)
	policyReady(t, pol)
	before := writes(t)
	caWrites := calls(t, "PATCH /v1.0/identity/conditionalAccess/policies/{id}") + calls(t, "POST /v1.0/identity/conditionalAccess/policies")
	uesWrites := calls(t, "PUT /ues/mobilepolicies/v1/riskassessment")
	reads := calls(t, "GET /v1.0/deviceManagement/deviceCompliancePolicies/{id}")
	waitPolicySyncs(t, pol, 3)
	if w := wrote(t, before); len(w) != 0 {
		t.Fatalf("steady state wrote %v", w)
	}
	if d := calls(t, "PATCH /v1.0/identity/conditionalAccess/policies/{id}") + calls(t, "POST /v1.0/identity/conditionalAccess/policies") - caWrites; d != 0 {
		t.Fatalf("steady state wrote the CA policy %d times", d)
	}
	if d := calls(t, "PUT /ues/mobilepolicies/v1/riskassessment") - uesWrites; d != 0 {
		t.Fatalf("steady state wrote the risk assessment %d times", d)
	}
	t.Logf("steady state: %d compliance policy reads over 3+ passes of 2 platforms, 0 writes", calls(t, "GET /v1.0/deviceManagement/deviceCompliancePolicies/{id}")-reads)
}

// waitPolicySyncs waits for n more reconcile passes, seen as reads of the policy's
// device overview (one per platform per pass).
func waitPolicySyncs(t *testing.T, p *v1.DeviceRiskPolicy, n int) {
	t.Helper()
	route := "GET /v1.0/deviceManagement/deviceCompliancePolicies/{id}/deviceStatusOverview"
	start := calls(t, route)
	want := int64(n * len(p.Spec.Platforms))
	testkit.Eventually(t, time.Duration(n+2)*3*resync, "further policy passes", func() (bool, string) {
		return calls(t, route)-start >= want, "passes so far"
	})
}

func TestPolicyWaitsForItsConnector(t *testing.T) {
	tn := newTenant(t, true)
	ns := namespace(t, tn)
	conn := connectorFor(ns, tn)
	pol := policyFor(conn, "early", v1.PlatformIOS)
	create(t, pol)
	waitPolicy(t, pol, v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonConnectorNotFound)
	waitPolicy(t, pol, v1.ConditionReconciling, metav1.ConditionTrue, controllers.ReasonConnectorNotFound)
	create(t, conn)
	policyReady(t, pol)
	deleteAndWait(t, pol, false) // before the connector, whose deletion waits for it
}

// TestScenarioMaliciousAppBlocksMailUntilRemoved is the product page's first scenario on
// the twin: a malicious app raises the device to high risk, Intune marks it
// non-compliant, Conditional Access blocks Exchange and SharePoint; removing the app
// brings access back.
func TestScenarioMaliciousAppBlocksMailUntilRemoved(t *testing.T) {
	tn, conn := readyConnector(t)
	ctx := context.Background()
	user, err := admin.CreateUser(ctx, tn.ID, adminapi.User{UserPrincipalName: "alice@contoso.example"})
	if err != nil {
		t.Fatal(err)
	}
	group, err := admin.CreateGroup(ctx, tn.ID, adminapi.Group{DisplayName: "Mobile users", Members: []string{user.ID}})
	if err != nil {
		t.Fatal(err)
	}
	devs, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: "alice-pixel", Platform: "Android", OSVersion: "14", UserID: user.ID})
	if err != nil {
		t.Fatal(err)
	}
	phone := devs.Devices[0]

	pol := policyFor(conn, "scenario", v1.PlatformAndroid, v1.PlatformIOS)
	pol.Spec.Assignments = v1.Assignments{IncludeGroupIDs: []v1.GUID{v1.GUID(group.ID)}}
	pol.Spec.ConditionalAccess = &v1.ConditionalAccessSpec{
		State:           v1.CAStateEnabled,
		Applications:    v1.ConditionalAccessApplications{ExchangeOnline: true, SharePointOnline: true},
		IncludeGroupIDs: []v1.GUID{v1.GUID(group.ID)},
	}
	pol.Spec.RiskAssessment = &v1.RiskAssessment{Detections: []v1.DetectionRisk{{Type: "maliciousApplication", Risk: "high"}}}
	create(t, pol)
	policyReady(t, pol)
	// No documented API takes the assessment: the policy says so, and an administrator
	// sets it in the UES console (here, the twin's admin API).
	if c := waitPolicy(t, pol, controllers.ConditionRiskAssessment, metav1.ConditionFalse, controllers.ReasonConsoleOnly); !strings.Contains(
		conditionMessage(c.Status.Conditions, controllers.ConditionRiskAssessment), "maliciousApplication=high") {
		t.Fatalf("the console-only message lacks the declared mapping: %s", conditionsText(c.Status.Conditions))
	}
	if err := admin.SetRiskAssessment(ctx, tn.ID, map[string]world.Risk{"maliciousApplication": world.RiskHigh}); err != nil {
		t.Fatal(err)
	}

	access := func(app string) bool {
		res, err := admin.AppAccess(ctx, tn.ID, adminapi.AppAccess{Device: phone.EntraID, User: user.ID, App: app})
		if err != nil {
			t.Fatal(err)
		}
		return res.Allowed
	}
	if !access(controllers.AppExchangeOnline) || !access(controllers.AppSharePointOnline) {
		t.Fatal("a clean device must reach e-mail and files")
	}
	if _, err := admin.Detect(ctx, tn.ID, phone.EntraID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.flashlight.evil"}); err != nil {
		t.Fatal(err)
	}
	if access(controllers.AppExchangeOnline) || access(controllers.AppSharePointOnline) {
		t.Fatal("a device with a malicious app must lose e-mail and SharePoint")
	}
	got := waitPolicy(t, pol, v1.ConditionReady, metav1.ConditionTrue, "")
	testkit.Eventually(t, 4*resync, "the non-compliant count", func() (bool, string) {
		got = getPolicy(t, policyKey(pol))
		return got.Status.NonCompliantDevices == 1, conditionsText(got.Status.Conditions)
	})
	if _, err := admin.Remediate(ctx, tn.ID, phone.EntraID, "maliciousApplication"); err != nil {
		t.Fatal(err)
	}
	if !access(controllers.AppExchangeOnline) || !access(controllers.AppSharePointOnline) {
		t.Fatal("access must return once the app is removed")
	}
	testkit.Eventually(t, 4*resync, "the device counted compliant", func() (bool, string) {
		got = getPolicy(t, policyKey(pol))
		return got.Status.NonCompliantDevices == 0 && got.Status.CompliantDevices == 1, "counts"
	})
}

// TestRiskAssessmentIsWrittenOnlyThroughTheModelledAPI: a real UES tenant has no route
// for the risk assessment. Without the connector's opt-in the policy is Ready, says in
// its RiskAssessment condition what to set in the console, and never calls a modelled
// route; with it, the assessment is written and the condition is True.
func TestRiskAssessmentIsWrittenOnlyThroughTheModelledAPI(t *testing.T) {
	ra := &v1.RiskAssessment{Detections: []v1.DetectionRisk{{Type: "maliciousApplication", Risk: "high"}, {Type: "unsafeWifi", Risk: "low"}}}
	t.Run("documented", func(t *testing.T) {
		_, conn := readyConnector(t)
		modelled := modelledCalls(t)
		pol := policyFor(conn, "console-only", v1.PlatformIOS)
		pol.Spec.RiskAssessment = ra
		create(t, pol)
		policyReady(t, pol)
		got := waitPolicy(t, pol, controllers.ConditionRiskAssessment, metav1.ConditionFalse, controllers.ReasonConsoleOnly)
		if msg := conditionMessage(got.Status.Conditions, controllers.ConditionRiskAssessment); !strings.Contains(msg, "maliciousApplication=high, unsafeWifi=low") ||
			!strings.Contains(msg, "Risk assessment") {
			t.Fatalf("message = %q", msg)
		}
		if n := modelledCalls(t) - modelled; n != 0 {
			t.Fatalf("%d calls to modelled UES routes", n)
		}
	})
	t.Run("modelled", func(t *testing.T) {
		tn, conn := readyConnector(t, optInModelled)
		pol := policyFor(conn, "modelled", v1.PlatformIOS)
		pol.Spec.RiskAssessment = ra
		create(t, pol)
		policyReady(t, pol)
		waitPolicy(t, pol, controllers.ConditionRiskAssessment, metav1.ConditionTrue, "")
		snap, err := admin.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tv := range snap.Tenants {
			if tv.ID == tn.ID && (tv.RiskAssessment["maliciousApplication"] != world.RiskHigh || tv.RiskAssessment["unsafeWifi"] != world.RiskLow) {
				t.Fatalf("the twin's UES assessment = %v", tv.RiskAssessment)
			}
		}
	})
}

// TestEveryDeviceSecuredForDaysIsFlagged: UES reports every device as secured when no
// risk assessment is configured, which Intune's view alone can show: once the snapshot
// has seen every assessed device secured for three days, the policy says where to look,
// and stays Ready.
func TestEveryDeviceSecuredForDaysIsFlagged(t *testing.T) {
	tn, conn := readyConnector(t)
	enrolPhones(t, tn, 3)
	c := waitFor(t, conn, "every device secured", func(c *v1.MTDConnector) bool {
		return c.Status.Devices != nil && c.Status.Devices.Secured == 3 && c.Status.Devices.AllSecuredSince != nil
	})
	// Three days and more ago, as a long-running operator would have recorded it; the
	// snapshot keeps the earliest time while every device stays secured.
	patch := client.MergeFrom(c.DeepCopy())
	long := metav1.NewTime(time.Now().Add(-80 * time.Hour))
	c.Status.Devices.AllSecuredSince = &long
	if err := k8s.Status().Patch(context.Background(), c, patch); err != nil {
		t.Fatal(err)
	}
	pol := policyFor(conn, "all-secured", v1.PlatformAndroid)
	create(t, pol)
	got := waitPolicy(t, pol, controllers.ConditionRiskAssessment, metav1.ConditionFalse, controllers.ReasonAllDevicesSecured)
	if msg := conditionMessage(got.Status.Conditions, controllers.ConditionRiskAssessment); !strings.Contains(msg, "every assessed device (3) secured since") {
		t.Fatalf("message = %q", msg)
	}
	policyReady(t, pol)
	lists := calls(t, routeDevices)
	testkit.Eventually(t, 30*time.Second, "two more device snapshots", func() (bool, string) { return calls(t, routeDevices) >= lists+2, "" })
	if kept := getConnector(t, client.ObjectKeyFromObject(conn)).Status.Devices.AllSecuredSince; kept == nil || kept.Unix() != long.Unix() {
		t.Fatalf("allSecuredSince = %v after further snapshots, want %v kept", kept, long)
	}
}

func TestPolicyObserveOnlyReportsDriftWithoutWriting(t *testing.T) {
	tn, conn := readyConnector(t)
	pol := policyFor(conn, "observe", v1.PlatformAndroid)
	pol.Spec.ManagementPolicy = v1.ManagementPolicyObserveOnly
	if _, err := graphAs(t, tn).CreateCompliancePolicy(context.Background(), intune.CompliancePolicy{
		Type: intune.AndroidCompliancePolicy, DisplayName: pol.Spec.DisplayName, Description: pol.Spec.Description,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "medium", Actions: []intune.ScheduledAction{{ActionType: "block"}}}); err != nil {
		t.Fatal(err)
	}
	before := writes(t)
	create(t, pol)
	got := waitPolicy(t, pol, v1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonDriftDetected)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionSynced).Message
	for _, want := range []string{"deviceThreatProtectionRequiredSecurityLevel", "actions", "assignments"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("drift message %q lacks %q", msg, want)
		}
	}
	waitPolicySyncs(t, got, 2)
	if w := wrote(t, before); len(w) != 0 {
		t.Fatalf("ObserveOnly wrote %v", w)
	}
	waitEvent(t, got, "DriftDetected: ObserveOnly: Intune differs from the spec")
}

// TestAndroidEnterprisePolicyLivesOnGraphBeta: the platform for fully managed, dedicated
// and corporate-owned Android devices keeps an androidDeviceOwnerCompliancePolicy, a type
// only Graph beta serves, through the same ladder as the others: adoption of an existing
// one, drift corrected with one call, a crash between create and status leaving no
// duplicate. Device administrator (Android) is named for what it is.
func TestAndroidEnterprisePolicyLivesOnGraphBeta(t *testing.T) {
	const (
		betaCreate = "POST /beta/deviceManagement/deviceCompliancePolicies"
		betaPatch  = "PATCH /beta/deviceManagement/deviceCompliancePolicies/{id}"
	)
	tn, conn := readyConnector(t)
	g, ctx := graphAs(t, tn), context.Background()
	pol := policyFor(conn, "enterprise", v1.PlatformAndroidEnterprise)
	existing, err := g.CreateCompliancePolicy(ctx, intune.CompliancePolicy{
		Type: intune.AndroidDeviceOwnerCompliancePolicy, DisplayName: pol.Spec.DisplayName, Description: pol.Spec.Description,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "high", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	create(t, pol)
	got := policyReady(t, pol)
	if st := got.Status.Platforms[0]; st.PolicyID != existing.ID || !st.Adopted {
		t.Fatalf("status = %+v, want adoption of %s", st, existing.ID)
	}
	live, err := g.GetCompliancePolicy(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if live.Type != intune.AndroidDeviceOwnerCompliancePolicy || !live.ThreatProtectionEnabled || live.RequiredSecurityLevel != "low" {
		t.Fatalf("live policy = %+v, want the device owner type with the MTD rule at low", live)
	}
	if meta.FindStatusCondition(got.Status.Conditions, controllers.ConditionDeviceAdministrator) != nil {
		t.Fatal("an Android Enterprise policy is flagged as device administrator")
	}

	// Drift on the beta object is corrected with one beta PATCH.
	before := writes(t)
	if err := g.PatchCompliancePolicy(ctx, existing.ID, intune.AndroidDeviceOwnerCompliancePolicy, intune.CompliancePolicyPatch{RequiredSecurityLevel: ptr("high")}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 4*resync, "the level corrected", func() (bool, string) {
		live, err := g.GetCompliancePolicy(ctx, existing.ID)
		if err != nil {
			return false, err.Error()
		}
		return live.RequiredSecurityLevel == "low", live.RequiredSecurityLevel
	})
	if w := wrote(t, before); w[betaPatch] != 2 || w[routePatchPolicy] != 0 || w[betaCreate]+w[routePolicies] != 0 {
		t.Fatalf("drifting and correcting wrote %v, want two beta PATCHes (the drift, then one correction)", w)
	}

	// A crash after the create, before the status write: found again, never created twice.
	crashed := policyFor(conn, "enterprise-crash", v1.PlatformAndroidEnterprise)
	crashed.Spec.Adoption = v1.AdoptionCreateOnly
	crashed.Annotations = map[string]string{"mtd.operator.dev/create-pending-androidenterprise": "2026-11-26T00:00:00Z"}
	orphan, err := g.CreateCompliancePolicy(ctx, intune.CompliancePolicy{
		Type: intune.AndroidDeviceOwnerCompliancePolicy, DisplayName: crashed.Spec.DisplayName, Description: crashed.Spec.Description,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	before = writes(t)
	create(t, crashed)
	if got := policyReady(t, crashed); got.Status.Platforms[0].PolicyID != orphan.ID {
		t.Fatalf("status id %s, want the policy created before the crash %s", got.Status.Platforms[0].PolicyID, orphan.ID)
	}
	if n := len(namedPolicies(t, tn, crashed.Spec.DisplayName)); n != 1 {
		t.Fatalf("%d policies after the restart, want exactly 1", n)
	}
	if w := wrote(t, before); w[betaCreate]+w[routePolicies] != 0 {
		t.Fatalf("created again: %v", w)
	}

	admin := policyFor(conn, "device-admin", v1.PlatformAndroid)
	create(t, admin)
	waitPolicy(t, admin, controllers.ConditionDeviceAdministrator, metav1.ConditionTrue, controllers.ReasonDeviceAdministratorUnsupported)
	policyReady(t, admin) // a notice, never a failure
}
