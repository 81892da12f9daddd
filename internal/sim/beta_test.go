package sim_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// beta calls Graph beta with the default app's token; path is under /beta.
func (tw *twin) beta(method, path string, body any, hdr ...string) *resp {
	tw.t.Helper()
	return tw.call(method, strings.TrimSuffix(tw.env[sim.EnvGraphURL], "/v1.0")+"/beta"+path, tw.token, body, hdr...)
}

// TestGraphBetaDeviceOwnerPolicies: Graph beta serves androidDeviceOwnerCompliancePolicy
// on the compliance policy routes with the v1.0 types' rules; v1.0 shows such a policy
// as the base type without its MTD rule and refuses its properties.
func TestGraphBetaDeviceOwnerPolicies(t *testing.T) {
	tw := start(t, noThrottle)
	typ := world.AndroidDeviceOwnerPolicyType

	bad := func(mut func(map[string]any)) map[string]any {
		b := policyBody(typ, "bad", "low")
		mut(b)
		return b
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no block action", bad(func(b map[string]any) { delete(b, "scheduledActionsForRule") }), "Compliance policy must have one and only one block scheduled action"},
		{"two block actions", bad(func(b map[string]any) {
			b["scheduledActionsForRule"] = []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block"}, map[string]any{"actionType": "block", "gracePeriodHours": 2}}}}
		}), "one and only one block"},
		{"bad threat level", bad(func(b map[string]any) { b["deviceThreatProtectionRequiredSecurityLevel"] = "severe" }), "Requested value 'severe' was not found"},
		{"bad advanced threat level", bad(func(b map[string]any) { b["advancedThreatProtectionRequiredSecurityLevel"] = "critical" }), "critical"},
		{"bad password type", bad(func(b map[string]any) { b["passwordRequiredType"] = "any" }), "passwordRequiredType"},
		{"a device administrator property", bad(func(b map[string]any) { b["securityRequireVerifyApps"] = true }),
			"does not exist on type 'microsoft.graph.androidDeviceOwnerCompliancePolicy'"},
		{"missing displayName", bad(func(b map[string]any) { delete(b, "displayName") }), "displayName"},
		{"unknown type", bad(func(b map[string]any) { b["@odata.type"] = "#microsoft.graph.aospDeviceOwnerCompliancePolicy" }), "in beta"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.beta("POST", policiesPath, tc.body), 400, "BadRequest", tc.msg)
		})
	}
	// v1.0 does not have the type at all.
	expectGraphError(t, tw.graph("POST", policiesPath, policyBody(typ, "v1", "low")), 400, "BadRequest", "in v1.0")

	body := policyBody(typ, "MTD Android Enterprise", "medium")
	body["passwordRequiredType"], body["roleScopeTagIds"] = "numericComplex", []any{"0"}
	r := tw.beta("POST", policiesPath, gz(t, body), "Content-Encoding", "gzip")
	expectStatus(t, r, 201)
	if r.str("@odata.type") != typ || r.body["version"].(float64) != 1 || r.str("deviceThreatProtectionRequiredSecurityLevel") != "medium" ||
		r.body["deviceThreatProtectionEnabled"] != true || r.str("passwordRequiredType") != "numericComplex" ||
		r.str("securityRequiredAndroidSafetyNetEvaluationType") != "basic" || !strings.Contains(r.str("@odata.context"), "/beta/$metadata#") {
		t.Fatalf("created %s", r.raw)
	}
	id := r.str("id")
	p := policiesPath + "/" + id
	// A v1.0 policy alongside, which beta shows too.
	expectStatus(t, tw.graph("POST", policiesPath, policyBody(world.IOSPolicyType, "MTD iOS", "low")), 201)

	t.Run("v1.0 shows the base type without the MTD rule", func(t *testing.T) {
		for _, r := range []*resp{tw.graph("GET", p, nil), tw.graph("GET", policiesPath, nil)} {
			expectStatus(t, r, 200)
			v := r.body
			if l := r.list(); len(l) > 0 {
				i := slices.IndexFunc(l, func(m map[string]any) bool { return m["id"] == id })
				if len(l) != 2 || i < 0 {
					t.Fatalf("v1.0 list %s", r.raw)
				}
				v = l[i]
			}
			if v["@odata.type"] != "#microsoft.graph.deviceCompliancePolicy" || v["displayName"] != "MTD Android Enterprise" || v["version"].(float64) != 1 {
				t.Fatalf("v1.0 view %v", v)
			}
			for _, k := range []string{"deviceThreatProtectionEnabled", "deviceThreatProtectionRequiredSecurityLevel", "passwordRequiredType", "roleScopeTagIds"} {
				if _, ok := v[k]; ok {
					t.Errorf("v1.0 view has %s", k)
				}
			}
		}
		expectGraphError(t, tw.graph("PATCH", p, map[string]any{"deviceThreatProtectionRequiredSecurityLevel": "low"}), 400, "BadRequest",
			"does not exist on type 'microsoft.graph.deviceCompliancePolicy'")
		expectGraphError(t, tw.graph("PATCH", p, map[string]any{"@odata.type": typ}), 400, "BadRequest", "does not match")
	})
	t.Run("beta lists every type with its properties", func(t *testing.T) {
		r := tw.beta("GET", policiesPath+"?$expand=assignments", nil)
		expectStatus(t, r, 200)
		var types []string
		for _, m := range r.list() {
			if m["assignments"] == nil {
				t.Errorf("not expanded: %v", m)
			}
			types = append(types, m["@odata.type"].(string))
		}
		slices.Sort(types)
		if !slices.Equal(types, []string{typ, world.IOSPolicyType}) {
			t.Fatalf("beta list %s", r.raw)
		}
	})
	t.Run("patch on beta", func(t *testing.T) {
		r := tw.beta("PATCH", p, map[string]any{"@odata.type": typ, "deviceThreatProtectionRequiredSecurityLevel": "low"})
		expectStatus(t, r, 200)
		if r.body["version"].(float64) != 2 || r.str("deviceThreatProtectionRequiredSecurityLevel") != "low" || r.str("passwordRequiredType") != "numericComplex" {
			t.Fatalf("patched %s", r.raw)
		}
		expectGraphError(t, tw.beta("PATCH", p, map[string]any{"deviceThreatProtectionRequiredSecurityLevel": "severe"}), 400, "BadRequest", "severe")
		expectGraphError(t, tw.beta("PATCH", p, map[string]any{"@odata.type": world.AndroidPolicyType}), 400, "BadRequest", "does not match")
		// v1.0 may still rename it: displayName is a base property.
		expectStatus(t, tw.graph("PATCH", p, map[string]any{"displayName": "MTD Android Enterprise"}), 200)
	})
	t.Run("assign, actions and their navigation routes", func(t *testing.T) {
		r := tw.beta("POST", p+"/assign", map[string]any{"assignments": []any{
			map[string]any{"target": map[string]any{"@odata.type": world.AllDevicesTarget}}}})
		expectStatus(t, r, 200)
		if len(r.list()) != 1 || !strings.Contains(r.str("@odata.context"), "/beta/") {
			t.Fatalf("assign %s", r.raw)
		}
		expectStatus(t, tw.beta("POST", p+"/scheduleActionsForRules", map[string]any{"deviceComplianceScheduledActionForRules": []any{
			map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block", "gracePeriodHours": 6}}}}}), 204)
		expectGraphError(t, tw.beta("POST", p+"/scheduleActionsForRules", map[string]any{"deviceComplianceScheduledActionForRules": []any{}}),
			400, "BadRequest", "one and only one block")
		r = tw.beta("GET", p+"?$expand="+url.QueryEscape("scheduledActionsForRule($expand=scheduledActionConfigurations),assignments"), nil)
		expectStatus(t, r, 200)
		cfgs := r.body["scheduledActionsForRule"].([]any)[0].(map[string]any)["scheduledActionConfigurations"].([]any)
		if len(cfgs) != 1 || cfgs[0].(map[string]any)["gracePeriodHours"].(float64) != 6 || len(r.body["assignments"].([]any)) != 1 {
			t.Fatalf("expanded %s", r.raw)
		}
		for _, nav := range []string{"/assignments", "/scheduledActionsForRule", "/deviceStatusOverview"} {
			expectStatus(t, tw.beta("GET", p+nav, nil), 200)
		}
	})
	t.Run("unknown beta route", func(t *testing.T) {
		expectGraphError(t, tw.beta("GET", devicesPath, nil), 400, "BadRequest", "No method match route template")
	})
	t.Run("delete", func(t *testing.T) {
		expectStatus(t, tw.beta("DELETE", p, nil), 204)
		expectGraphError(t, tw.beta("GET", p, nil), 404, "ResourceNotFound", id)
		expectGraphError(t, tw.graph("GET", p, nil), 404, "ResourceNotFound", id)
	})
}

// TestGraphDeviceEnrollment: how a device is enrolled shows on managedDevices as Intune
// shows it, and decides which policy type governs it; a device enrolled without an
// enrolment is a device administrator one, as before.
func TestGraphDeviceEnrollment(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: "pat@contoso.example"}))

	for name, d := range map[string]adminapi.Device{
		"iOS with an enrolment":       {Platform: world.IOS, Enrollment: world.EnrollFullyManaged},
		"an unknown enrolment":        {Platform: world.Android, Enrollment: "kiosk"},
		"workProfile contradicting":   {Platform: world.Android, Enrollment: world.EnrollFullyManaged, WorkProfile: true},
		"workProfile on iOS, implied": {Platform: world.IOS, WorkProfile: true},
	} {
		t.Run("reject "+name, func(t *testing.T) {
			d.DeviceName, d.OSVersion = "x", "14"
			var e *simclient.Error
			if _, err := tw.admin.CreateDevices(ctx, tid, d); !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("enrolled: %v", err)
			}
		})
	}

	want := map[string][4]string{ // enrolment as the admin API shows it, deviceEnrollmentType, managementAgent, managedDeviceOwnerType
		"default":   {world.EnrollDeviceAdministrator, "userEnrollment", "mdm", "company"},
		"legacyWP":  {world.EnrollWorkProfile, "userEnrollment", "mdm", "personal"},
		"wp":        {world.EnrollWorkProfile, "userEnrollment", "mdm", "personal"},
		"fm":        {world.EnrollFullyManaged, "androidEnterpriseFullyManaged", "googleCloudDevicePolicyController", "company"},
		"dedicated": {world.EnrollDedicated, "androidEnterpriseDedicatedDevice", "googleCloudDevicePolicyController", "company"},
		"cope":      {world.EnrollCorporateWorkProfile, "androidEnterpriseCorporateWorkProfile", "googleCloudDevicePolicyController", "company"},
		"iphone":    {"", "appleBulkWithUser", "mdm", "company"},
	}
	ids := map[string]string{} // Intune id -> name
	views := map[string]adminapi.DeviceView{}
	for name, d := range map[string]adminapi.Device{
		"default": {}, "legacyWP": {WorkProfile: true}, "wp": {Enrollment: world.EnrollWorkProfile},
		"fm": {Enrollment: world.EnrollFullyManaged}, "dedicated": {Enrollment: world.EnrollDedicated},
		"cope": {Enrollment: world.EnrollCorporateWorkProfile}, "iphone": {Platform: world.IOS},
	} {
		d.DeviceName, d.OSVersion, d.UserID = name, "14", u.ID
		if d.Platform == "" {
			d.Platform = world.Android
		}
		v := must(tw.admin.CreateDevices(ctx, tid, d)).Devices[0]
		if v.Enrollment != want[name][0] || v.WorkProfile != (want[name][0] == world.EnrollWorkProfile) {
			t.Errorf("%s: admin view enrollment %q, workProfile %v", name, v.Enrollment, v.WorkProfile)
		}
		ids[v.IntuneID], views[name] = name, v
	}
	r := tw.graph("GET", devicesPath+"?$select=id,deviceEnrollmentType,managementAgent,managedDeviceOwnerType", nil)
	expectStatus(t, r, 200)
	if len(r.list()) != len(want) {
		t.Fatalf("devices %s", r.raw)
	}
	for _, md := range r.list() {
		name := ids[md["id"].(string)]
		if w := want[name]; md["deviceEnrollmentType"] != w[1] || md["managementAgent"] != w[2] || md["managedDeviceOwnerType"] != w[3] || len(md) != 4 {
			t.Errorf("%s: %v, want %v", name, md, w[1:])
		}
	}
	one := tw.graph("GET", devicesPath+"/"+views["fm"].IntuneID+"?$select=deviceEnrollmentType", nil)
	if expectStatus(t, one, 200); one.str("deviceEnrollmentType") != "androidEnterpriseFullyManaged" || len(one.body) != 1 {
		t.Fatalf("one device %s", one.raw)
	}

	// A fully managed phone with a high threat: governed by the device owner policy
	// (noncompliant, so no e-mail), not by the device administrator one.
	expectStatus(t, tw.graph("PATCH", bbConnector, map[string]any{"androidEnabled": true}), 200)
	if err := tw.admin.SetRiskAssessment(ctx, tid, map[string]world.Risk{"maliciousApplication": world.RiskHigh}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fm", "default"} {
		must(tw.admin.Detect(ctx, tid, views[name].EntraID, adminapi.Detection{Type: "maliciousApplication"}))
	}
	owner := tw.beta("POST", policiesPath, policyBody(world.AndroidDeviceOwnerPolicyType, "MTD corporate Android", "medium"))
	expectStatus(t, owner, 201)
	expectStatus(t, tw.beta("POST", policiesPath+"/"+owner.str("id")+"/assign", map[string]any{"assignments": []any{
		map[string]any{"target": map[string]any{"@odata.type": world.AllDevicesTarget}}}}), 200)
	state := func(name string) string {
		t.Helper()
		return tw.graph("GET", devicesPath+"/"+views[name].IntuneID, nil).str("complianceState")
	}
	if fm, def := state("fm"), state("default"); fm != "noncompliant" || def != "compliant" {
		t.Fatalf("fully managed %s, device administrator %s; want noncompliant, compliant", fm, def)
	}
	o := tw.beta("GET", policiesPath+"/"+owner.str("id")+"/deviceStatusOverview", nil)
	if o.body["failedCount"].(float64) != 1 || o.body["successCount"].(float64) != 2 || o.body["notApplicableCount"].(float64) != 4 {
		t.Fatalf("overview %s, want fm failed, dedicated and cope compliant, the rest not applicable", o.raw)
	}
	access := must(tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: views["fm"].IntuneID, User: u.ID, App: world.ExchangeOnlineApp}))
	if access.Compliance.State != "noncompliant" {
		t.Fatalf("access check %+v", access)
	}
	must(tw.admin.Remediate(ctx, tid, views["fm"].IntuneID, ""))
	if fm := state("fm"); fm != "compliant" {
		t.Fatalf("after remediation the fully managed phone is %s", fm)
	}
}
