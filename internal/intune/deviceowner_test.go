package intune_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// Graph beta's compliance policy routes, where androidDeviceOwnerCompliancePolicy lives.
const (
	routeBetaPolicies = "/beta/deviceManagement/deviceCompliancePolicies"
	routeBetaPolicy   = routeBetaPolicies + "/{id}"
)

// calls counts the twin's calls of each "METHOD route".
func calls(t *testing.T, keys ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, k := range keys {
		out[k] = testkit.Calls(t, admin, k)
	}
	return out
}

// deviceOwnerPolicy is a policy of the beta-only type with the MTD rule at level.
func deviceOwnerPolicy(name, level string) intune.CompliancePolicy {
	return intune.CompliancePolicy{
		Type: intune.AndroidDeviceOwnerCompliancePolicy, DisplayName: name, Description: "managed by mtd-operator",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: level,
		Actions: []intune.ScheduledAction{{ActionType: "block"}, {ActionType: "notification", GracePeriodHours: 24, NotificationTemplateID: "tmpl-1"}},
	}
}

// TestDeviceOwnerPolicyLifecycle: every call about an androidDeviceOwnerCompliancePolicy
// goes to Graph beta, through msgraph-sdk-go's adapter, and none to v1.0; the MTD rule
// survives each step.
func TestDeviceOwnerPolicyLifecycle(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	g, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "Corporate Android"})
	if err != nil {
		t.Fatal(err)
	}
	// Another type's policy, so that both lists have something to leave out.
	ios, err := c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "MTD iOS",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}

	in := deviceOwnerPolicy("MTD Android Enterprise", "medium")
	created, err := c.CreateCompliancePolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Type != in.Type || created.Version != 1 || created.RequiredSecurityLevel != "medium" ||
		!created.ThreatProtectionEnabled || !reflect.DeepEqual(created.Actions, in.Actions) {
		t.Fatalf("created = %+v", created)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(rec.last("POST "+routeBetaPolicies)), &sent); err != nil {
		t.Fatal(err)
	}
	if sent["@odata.type"] != string(intune.AndroidDeviceOwnerCompliancePolicy) || sent["deviceThreatProtectionEnabled"] != true ||
		sent["deviceThreatProtectionRequiredSecurityLevel"] != "medium" || sent["scheduledActionsForRule"] == nil {
		t.Fatalf("POST body = %v", sent)
	}
	if !rec.gzipped("POST " + routeBetaPolicies) {
		t.Error("the beta POST did not go through the SDK's compression middleware")
	}

	get := func() *intune.CompliancePolicy {
		t.Helper()
		p, err := c.GetCompliancePolicy(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := get()
	if p.Type != in.Type || p.DisplayName != in.DisplayName || p.Description != in.Description || !p.ThreatProtectionEnabled ||
		p.RequiredSecurityLevel != "medium" || p.Version != 1 || p.Created.IsZero() || len(p.Assignments) != 0 ||
		!reflect.DeepEqual(p.Actions, in.Actions) {
		t.Fatalf("read back = %+v", p)
	}

	if err := c.PatchCompliancePolicy(ctx, p.ID, p.Type, intune.CompliancePolicyPatch{RequiredSecurityLevel: ptr("low")}); err != nil {
		t.Fatal(err)
	}
	var patched map[string]any
	if err := json.Unmarshal([]byte(rec.last("PATCH "+routeBetaPolicies+"/"+p.ID)), &patched); err != nil ||
		!reflect.DeepEqual(patched, map[string]any{"@odata.type": string(intune.AndroidDeviceOwnerCompliancePolicy), "deviceThreatProtectionRequiredSecurityLevel": "low"}) {
		t.Fatalf("PATCH body = %v (%v)", patched, err)
	}
	if p = get(); p.Version != 2 || p.RequiredSecurityLevel != "low" || !p.ThreatProtectionEnabled || p.DisplayName != in.DisplayName {
		t.Fatalf("patched = %+v", p)
	}

	targets := []intune.AssignmentTarget{{Kind: intune.TargetGroup, GroupID: g.ID}, {Kind: intune.TargetAllDevices}}
	if err := c.AssignCompliancePolicy(ctx, p.ID, targets); err != nil {
		t.Fatal(err)
	}
	actions := []intune.ScheduledAction{{ActionType: "block", GracePeriodHours: 12}}
	if err := c.ScheduleComplianceActions(ctx, p.ID, actions); err != nil {
		t.Fatal(err)
	}
	if p = get(); !reflect.DeepEqual(p.Assignments, targets) || !reflect.DeepEqual(p.Actions, actions) || p.RequiredSecurityLevel != "low" {
		t.Fatalf("after assign and actions = %+v", p)
	}
	if o, err := c.GetCompliancePolicyDeviceOverview(ctx, p.ID); err != nil || o.Success+o.Failed+o.NotApplicable != 0 {
		t.Fatalf("overview of an empty tenant = %+v, %v", o, err)
	}

	list, err := c.ListCompliancePolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(x intune.CompliancePolicy) bool { return x.ID == p.ID })
	if len(list) != 2 || i < 0 || !reflect.DeepEqual(list[i], *p) || !slices.ContainsFunc(list, func(x intune.CompliancePolicy) bool { return x.ID == ios.ID }) {
		t.Fatalf("list = %+v, want the iOS policy and %+v", list, *p)
	}

	if err := c.DeleteCompliancePolicy(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetCompliancePolicy(ctx, p.ID)
	asOutbound(t, err, outbound.NotFound)

	got := calls(t, "POST "+routeBetaPolicies, "GET "+routeBetaPolicy, "PATCH "+routeBetaPolicy, "DELETE "+routeBetaPolicy,
		"POST "+routeBetaPolicy+"/assign", "POST "+routeBetaPolicy+"/scheduleActionsForRules", "GET "+routeBetaPolicy+"/deviceStatusOverview",
		"GET "+routeBetaPolicies, "GET "+routePolicies, "POST "+routePolicies, "GET "+routePolicy, "PATCH "+routePolicy, "DELETE "+routePolicy,
		"POST "+routePolicy+"/assign", "POST "+routePolicy+"/scheduleActionsForRules", "GET "+routePolicy+"/deviceStatusOverview")
	want := map[string]int64{
		"POST " + routeBetaPolicies: 1, "GET " + routeBetaPolicy: 3, "PATCH " + routeBetaPolicy: 1, "DELETE " + routeBetaPolicy: 1,
		"POST " + routeBetaPolicy + "/assign": 1, "POST " + routeBetaPolicy + "/scheduleActionsForRules": 1,
		"GET " + routeBetaPolicy + "/deviceStatusOverview": 1, "GET " + routeBetaPolicies: 1,
		// Only the iOS policy's create and the list's v1.0 half touch v1.0; the last GET
		// of the deleted policy goes to v1.0, which no longer knows it either.
		"GET " + routePolicies: 1, "POST " + routePolicies: 1, "GET " + routePolicy: 1, "PATCH " + routePolicy: 0, "DELETE " + routePolicy: 0,
		"POST " + routePolicy + "/assign": 0, "POST " + routePolicy + "/scheduleActionsForRules": 0, "GET " + routePolicy + "/deviceStatusOverview": 0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("calls by route\n got %v\nwant %v", got, want)
	}
}

// TestDeviceOwnerPolicyV1View: Graph v1.0 shows the beta-only type as the base
// deviceCompliancePolicy without its MTD rule. A client that has not seen the policy
// (after a restart, say) reads it there first, sees the base type, reads it again on
// beta with the rule intact, and from then on sends its calls to beta.
func TestDeviceOwnerPolicyV1View(t *testing.T) {
	fresh(t)
	created, err := newClient(t, nil).CreateCompliancePolicy(ctx, deviceOwnerPolicy("MTD Android Enterprise", "high"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	p, err := c.GetCompliancePolicy(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != intune.AndroidDeviceOwnerCompliancePolicy || !p.ThreatProtectionEnabled || p.RequiredSecurityLevel != "high" || len(p.Actions) != 2 {
		t.Fatalf("read = %+v", p)
	}
	v1 := rec.answered("GET /v1.0/deviceManagement/deviceCompliancePolicies/" + created.ID)
	beta := rec.answered("GET /beta/deviceManagement/deviceCompliancePolicies/" + created.ID)
	if len(v1) != 1 || len(beta) != 1 {
		t.Fatalf("v1.0 answers %d, beta answers %d, want one each", len(v1), len(beta))
	}
	var v1Body, betaBody map[string]any
	if err := json.Unmarshal([]byte(v1[0]), &v1Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(beta[0]), &betaBody); err != nil {
		t.Fatal(err)
	}
	if _, has := v1Body["deviceThreatProtectionEnabled"]; has || v1Body["@odata.type"] != "#microsoft.graph.deviceCompliancePolicy" ||
		v1Body["displayName"] != "MTD Android Enterprise" {
		t.Fatalf("v1.0 view = %v", v1Body)
	}
	if betaBody["@odata.type"] != string(intune.AndroidDeviceOwnerCompliancePolicy) || betaBody["deviceThreatProtectionRequiredSecurityLevel"] != "high" {
		t.Fatalf("beta view = %v", betaBody)
	}

	// The v1.0 list leaves the base type out; the beta list brings it back.
	list, err := c.ListCompliancePolicies(ctx)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], *p) {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// Now seen, the policy's calls go to beta.
	before := calls(t, "POST "+routePolicy+"/assign", "POST "+routeBetaPolicy+"/assign")
	if err := c.AssignCompliancePolicy(ctx, p.ID, []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}); err != nil {
		t.Fatal(err)
	}
	after := calls(t, "POST "+routePolicy+"/assign", "POST "+routeBetaPolicy+"/assign")
	if after["POST "+routePolicy+"/assign"] != before["POST "+routePolicy+"/assign"] || after["POST "+routeBetaPolicy+"/assign"] != before["POST "+routeBetaPolicy+"/assign"]+1 {
		t.Fatalf("assign calls before %v, after %v", before, after)
	}

	// A client that never saw it deletes it through v1.0, which serves delete for every
	// type.
	if err := newClient(t, nil).DeleteCompliancePolicy(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if n := testkit.Calls(t, admin, "DELETE "+routePolicy); n != 1 {
		t.Fatalf("v1.0 DELETE calls = %d", n)
	}
	_, err = c.GetCompliancePolicy(ctx, p.ID)
	asOutbound(t, err, outbound.NotFound)
}

// TestDeviceOwnerPolicyValidation: the beta type is held to the same rules as the v1.0
// types: exactly one block action, and only the service's threat levels, the latter
// refused before any call.
func TestDeviceOwnerPolicyValidation(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	for _, tc := range []struct {
		name    string
		actions []intune.ScheduledAction
	}{
		{"two blocks", []intune.ScheduledAction{{ActionType: "block"}, {ActionType: "block", GracePeriodHours: 1}}},
		{"no block", []intune.ScheduledAction{{ActionType: "notification"}}},
	} {
		p := deviceOwnerPolicy("bad", "low")
		p.Actions = tc.actions
		_, err := c.CreateCompliancePolicy(ctx, p)
		if e := asOutbound(t, err, outbound.Terminal); e.StatusCode != 400 || e.Code != "BadRequest" || !strings.Contains(e.Message, "one and only one block") {
			t.Fatalf("%s = %+v", tc.name, e)
		}
	}
	if n := testkit.Calls(t, admin, "POST "+routeBetaPolicies); n != 2 {
		t.Fatalf("beta POST calls = %d, want 2", n)
	}

	_, err := c.CreateCompliancePolicy(ctx, deviceOwnerPolicy("bad", "severe"))
	asOutbound(t, err, outbound.Terminal)
	ok, err := c.CreateCompliancePolicy(ctx, deviceOwnerPolicy("good", "secured"))
	if err != nil {
		t.Fatal(err)
	}
	asOutbound(t, c.PatchCompliancePolicy(ctx, ok.ID, ok.Type, intune.CompliancePolicyPatch{RequiredSecurityLevel: ptr("severe")}), outbound.Terminal)
	e := asOutbound(t, c.ScheduleComplianceActions(ctx, ok.ID, []intune.ScheduledAction{{ActionType: "notification"}}), outbound.Terminal)
	if e.StatusCode != 400 || !strings.Contains(e.Message, "one and only one block") {
		t.Fatalf("actions without a block = %+v", e)
	}
	if n := testkit.Calls(t, admin, "POST "+routeBetaPolicies); n != 3 {
		t.Fatalf("beta POST calls = %d, want 3: the unknown level was sent", n)
	}
	if n := testkit.Calls(t, admin, "PATCH "+routeBetaPolicy); n != 0 {
		t.Fatalf("beta PATCH calls = %d: the unknown level was sent", n)
	}
	if p, err := c.GetCompliancePolicy(ctx, ok.ID); err != nil || p.RequiredSecurityLevel != "secured" || p.Version != 1 || len(p.Actions) != 2 {
		t.Fatalf("after refused changes = %+v, %v", p, err)
	}
}

// TestManagedDeviceEnrollment: the device fields that tell Android device
// administrator, work profile and corporate-owned Android Enterprise devices apart come
// through the real SDK, including the enrolment types its v1.0 enum lacks, and a fully
// managed phone is governed by the beta-only policy type, not by the device
// administrator one.
func TestManagedDeviceEnrollment(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	if _, err := c.PatchConnector(ctx, intune.BlackBerryConnectorID, intune.ConnectorSettings{AndroidEnabled: ptr(true), IOSEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetRiskAssessment(ctx, tenant(), map[string]world.Risk{"maliciousApplication": "high"}); err != nil {
		t.Fatal(err)
	}
	type kind struct {
		enrollment, platform      string
		typ, agent, owner         string
		policy                    intune.PolicyType
		governedByDeviceOwnerType bool
	}
	kinds := []kind{
		{"", "Android", "userEnrollment", "mdm", "company", intune.AndroidCompliancePolicy, false},
		{world.EnrollWorkProfile, "Android", "userEnrollment", "mdm", "personal", intune.AndroidWorkProfileCompliancePolicy, false},
		{world.EnrollFullyManaged, "Android", "androidEnterpriseFullyManaged", "googleCloudDevicePolicyController", "company", intune.AndroidDeviceOwnerCompliancePolicy, true},
		{world.EnrollDedicated, "Android", "androidEnterpriseDedicatedDevice", "googleCloudDevicePolicyController", "company", intune.AndroidDeviceOwnerCompliancePolicy, true},
		{world.EnrollCorporateWorkProfile, "Android", "androidEnterpriseCorporateWorkProfile", "googleCloudDevicePolicyController", "company", intune.AndroidDeviceOwnerCompliancePolicy, true},
		{"", "iOS", "appleBulkWithUser", "mdm", "company", intune.IOSCompliancePolicy, false},
	}
	byID := map[string]kind{}
	for _, k := range kinds {
		d := enrol(t, 1, adminapi.Device{DeviceName: "phone-" + k.enrollment, Platform: k.platform, OSVersion: "14", Enrollment: k.enrollment})[0]
		byID[d.IntuneID] = k
		// Every phone runs the malicious app: only the policies that govern it can tell.
		if _, err := admin.Detect(ctx, tenant(), d.EntraID, adminapi.Detection{Type: "maliciousApplication"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []intune.PolicyType{intune.AndroidDeviceOwnerCompliancePolicy, intune.AndroidCompliancePolicy} {
		p := deviceOwnerPolicy("MTD "+string(typ), "low")
		p.Type = typ
		created, err := c.CreateCompliancePolicy(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AssignCompliancePolicy(ctx, created.ID, []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}); err != nil {
			t.Fatal(err)
		}
		o, err := c.GetCompliancePolicyDeviceOverview(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := intune.DeviceOverview{Failed: 3, NotApplicable: 3} // the three corporate phones
		if typ == intune.AndroidCompliancePolicy {
			want = intune.DeviceOverview{Failed: 1, NotApplicable: 5} // the device administrator phone
		}
		if *o != want {
			t.Fatalf("%s overview = %+v, want %+v", typ, *o, want)
		}
	}

	list, err := c.ListManagedDevices(ctx, intune.DeviceFilter{})
	if err != nil || len(list) != len(kinds) {
		t.Fatalf("list = %d devices, %v", len(list), err)
	}
	for _, d := range list {
		k := byID[d.ID]
		wantState := "compliant"
		if k.policy == intune.AndroidCompliancePolicy || k.governedByDeviceOwnerType {
			wantState = "noncompliant"
		}
		if d.EnrollmentType != k.typ || d.ManagementAgent != k.agent || d.OwnerType != k.owner || d.PolicyType() != k.policy || d.ComplianceState != wantState {
			t.Errorf("%q %s device = %+v (policy type %q), want %s/%s/%s, %s, %s", k.enrollment, k.platform, d, d.PolicyType(), k.typ, k.agent, k.owner, k.policy, wantState)
		}
		one, err := c.GetManagedDevice(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if one.EnrollmentType != d.EnrollmentType || one.ManagementAgent != d.ManagementAgent || one.OwnerType != d.OwnerType {
			t.Errorf("GetManagedDevice = %+v, list = %+v", one, d)
		}
	}
}
