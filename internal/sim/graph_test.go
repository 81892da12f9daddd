package sim_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const (
	connectorsPath = "/deviceManagement/mobileThreatDefenseConnectors"
	bbConnector    = connectorsPath + "/" + world.BlackBerryConnectorID
	policiesPath   = "/deviceManagement/deviceCompliancePolicies"
	devicesPath    = "/deviceManagement/managedDevices"
	caPath         = "/identity/conditionalAccess/policies"
)

func blockAction(grace int) []any {
	return []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
		map[string]any{"actionType": "block", "gracePeriodHours": grace}}}}
}

func policyBody(typ, name, level string) map[string]any {
	return map[string]any{"@odata.type": typ, "displayName": name, "deviceThreatProtectionEnabled": true,
		"deviceThreatProtectionRequiredSecurityLevel": level, "scheduledActionsForRule": blockAction(0)}
}

func TestGraphAuthAndRouting(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	ro := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{world.RoleConfigRead, world.RoleDevicesRead}}))
	roToken := tw.secretToken(ro.ClientID, ro.Secret)
	none := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{}}))
	noneToken := tw.secretToken(none.ClientID, none.Secret)
	g := tw.env[sim.EnvGraphURL]

	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code, msg                 string
	}{
		{"no bearer", "GET", devicesPath, "", nil, 401, "InvalidAuthenticationToken", "Access token is empty"},
		{"garbage bearer", "GET", devicesPath, "not.a.jwt", nil, 401, "InvalidAuthenticationToken", "validation failure"},
		{"no roles", "GET", devicesPath, noneToken, nil, 403, "Forbidden", world.RoleDevicesRead},
		{"read role cannot write", "POST", policiesPath, roToken, policyBody(world.IOSPolicyType, "x", "low"), 403, "Forbidden", world.RoleConfigReadWrite},
		{"read role cannot run actions", "POST", devicesPath + "/x/syncDevice", roToken, nil, 403, "Forbidden", world.RoleDevicesPrivileged},
		{"read role cannot read connectors", "GET", connectorsPath, roToken, nil, 403, "Forbidden", world.RoleServiceConfigRead},
		{"no roles for CA", "GET", caPath, noneToken, nil, 403, "Forbidden", world.RolePolicyRead},
		{"unknown route", "GET", "/deviceManagement/nothingHere", tw.token, nil, 400, "BadRequest", "No method match route template"},
		{"unknown method", "PUT", policiesPath, tw.token, map[string]any{}, 400, "BadRequest", "No method match route template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tw.call(tc.method, g+tc.path, tc.token, tc.body, "client-request-id", "req-42")
			expectGraphError(t, r, tc.status, tc.code, tc.msg)
			if got := r.body["error"].(map[string]any)["innerError"].(map[string]any)["client-request-id"]; got != "req-42" {
				t.Errorf("client-request-id %v", got)
			}
		})
	}
	t.Run("read role reads", func(t *testing.T) {
		expectStatus(t, tw.call("GET", g+devicesPath, roToken, nil), 200)
	})
	t.Run("revoked token", func(t *testing.T) {
		if err := tw.admin.RevokeTokens(ctx, tid, "entra"); err != nil {
			t.Fatal(err)
		}
		expectGraphError(t, tw.graph("GET", devicesPath, nil), 401, "InvalidAuthenticationToken", "revoked")
		tw.token = tw.secretToken(tw.env[sim.EnvClientID], tw.env[sim.EnvClientSecret])
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
	})
}

func TestGraphConnector(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]

	r := tw.graph("GET", connectorsPath, nil)
	expectStatus(t, r, 200)
	if l := r.list(); len(l) != 1 || l[0]["id"] != world.BlackBerryConnectorID {
		t.Fatalf("list %s", r.raw)
	}
	r = tw.graph("GET", bbConnector, nil)
	expectStatus(t, r, 200)
	if r.str("partnerState") != "available" || r.body["androidEnabled"] != false || r.body["partnerUnresponsivenessThresholdInDays"].(float64) != 7 {
		t.Fatalf("connector %s", r.raw)
	}
	for _, k := range world.ConnectorFlags {
		if _, ok := r.body[k]; !ok {
			t.Errorf("connector lacks %s", k)
		}
	}

	t.Run("patch answers 200 with the object, gzip body", func(t *testing.T) {
		r := tw.graph("PATCH", bbConnector, gz(t, map[string]any{"androidEnabled": true, "iosEnabled": true,
			"partnerUnresponsivenessThresholdInDays": 3}), "Content-Encoding", "gzip")
		expectStatus(t, r, 200)
		if r.body["androidEnabled"] != true || r.str("partnerState") != "enabled" || r.body["partnerUnresponsivenessThresholdInDays"].(float64) != 3 {
			t.Fatalf("patched %s", r.raw)
		}
	})
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"wrong type", map[string]any{"androidEnabled": "yes"}, "Edm.Boolean"},
		{"unknown property", map[string]any{"macEnabled": true}, "does not exist"},
		{"fractional int", map[string]any{"partnerUnresponsivenessThresholdInDays": 1.5}, "Edm.Int32"},
	} {
		t.Run("patch "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.graph("PATCH", bbConnector, tc.body), 400, "BadRequest", tc.msg)
		})
	}
	t.Run("unsupported content encoding", func(t *testing.T) {
		expectGraphError(t, tw.graph("PATCH", bbConnector, "{}", "Content-Encoding", "br"), 415, "UnsupportedMediaType", "br")
	})
	t.Run("not onboarded is 404", func(t *testing.T) {
		if err := tw.admin.Offboard(ctx, tid, ""); err != nil {
			t.Fatal(err)
		}
		expectGraphError(t, tw.graph("GET", bbConnector, nil), 404, "ResourceNotFound", world.BlackBerryConnectorID)
		expectGraphError(t, tw.graph("PATCH", bbConnector, map[string]any{"iosEnabled": true}), 404, "ResourceNotFound", "")
	})
	t.Run("create and delete", func(t *testing.T) {
		r := tw.graph("POST", connectorsPath, map[string]any{"id": world.BlackBerryConnectorID, "iosEnabled": true})
		expectStatus(t, r, 201)
		if r.body["iosEnabled"] != true {
			t.Fatalf("created %s", r.raw)
		}
		expectGraphError(t, tw.graph("POST", connectorsPath, map[string]any{"id": world.BlackBerryConnectorID}), 409, "Conflict", "")
		expectGraphError(t, tw.graph("POST", connectorsPath, map[string]any{"id": world.NewID()}), 400, "BadRequest", "partner")
		expectStatus(t, tw.graph("DELETE", bbConnector, nil), 204)
		expectStatus(t, tw.graph("GET", bbConnector, nil), 404)
	})
}

func TestGraphCompliancePolicies(t *testing.T) {
	tw := start(t, noThrottle)

	for _, typ := range []string{world.AndroidPolicyType, world.AndroidWorkPolicyType, world.IOSPolicyType} {
		t.Run("create "+typ, func(t *testing.T) {
			r := tw.graph("POST", policiesPath, gz(t, policyBody(typ, "MTD "+typ, "low")), "Content-Encoding", "gzip")
			expectStatus(t, r, 201)
			if r.str("@odata.type") != typ || r.body["version"].(float64) != 1 || r.str("id") == "" ||
				r.str("deviceThreatProtectionRequiredSecurityLevel") != "low" || r.body["deviceThreatProtectionEnabled"] != true {
				t.Fatalf("created %s", r.raw)
			}
			if _, ok := r.body["scheduledActionsForRule"]; ok {
				t.Error("create answer carries scheduledActionsForRule")
			}
			if _, ok := r.body["osMinimumVersion"]; !ok {
				t.Error("unset properties are not shown with their defaults")
			}
		})
	}

	bad := func(mut func(map[string]any)) map[string]any {
		b := policyBody(world.AndroidPolicyType, "bad", "low")
		mut(b)
		return b
	}
	twoBlocks := []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
		map[string]any{"actionType": "block"}, map[string]any{"actionType": "block", "gracePeriodHours": 2}}}}
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no block action", bad(func(b map[string]any) { delete(b, "scheduledActionsForRule") }), "Compliance policy must have one and only one block scheduled action"},
		{"only a notification", bad(func(b map[string]any) {
			b["scheduledActionsForRule"] = []any{map[string]any{"ruleName": "x", "scheduledActionConfigurations": []any{map[string]any{"actionType": "notification"}}}}
		}), "one and only one block"},
		{"two block actions", bad(func(b map[string]any) { b["scheduledActionsForRule"] = twoBlocks }), "one and only one block"},
		{"no @odata.type", bad(func(b map[string]any) { delete(b, "@odata.type") }), "@odata.type"},
		{"beta-only type", bad(func(b map[string]any) { b["@odata.type"] = "#microsoft.graph.androidDeviceOwnerCompliancePolicy" }), "androidDeviceOwnerCompliancePolicy"},
		{"bad threat level", bad(func(b map[string]any) { b["deviceThreatProtectionRequiredSecurityLevel"] = "severe" }), "severe"},
		{"bad action type", bad(func(b map[string]any) {
			b["scheduledActionsForRule"] = []any{map[string]any{"ruleName": "x", "scheduledActionConfigurations": []any{map[string]any{"actionType": "explode"}}}}
		}), "explode"},
		{"unknown property", bad(func(b map[string]any) { b["passcodeRequired"] = true }), "does not exist on type 'microsoft.graph.androidCompliancePolicy'"},
		{"beta-only property", bad(func(b map[string]any) { b["advancedThreatProtectionRequiredSecurityLevel"] = "low" }), "advancedThreatProtectionRequiredSecurityLevel"},
		{"missing displayName", bad(func(b map[string]any) { delete(b, "displayName") }), "displayName"},
		{"bool as string", bad(func(b map[string]any) { b["deviceThreatProtectionEnabled"] = "true" }), "Edm.Boolean"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.graph("POST", policiesPath, tc.body), 400, "BadRequest", tc.msg)
		})
	}
	expectGraphError(t, tw.graph("POST", policiesPath, "{not json"), 400, "BadRequest", "JSON")

	r := tw.graph("POST", policiesPath, policyBody(world.AndroidPolicyType, "Android MTD", "medium"))
	expectStatus(t, r, 201)
	id := r.str("id")
	p := policiesPath + "/" + id

	t.Run("what a read returns is accepted back", func(t *testing.T) {
		body := tw.graph("GET", p, nil).body
		delete(body, "@odata.context")
		body["scheduledActionsForRule"] = blockAction(1)
		expectStatus(t, tw.graph("POST", policiesPath, body), 201)
		expectStatus(t, tw.graph("DELETE", policiesPath+"/"+tw.graph("GET", policiesPath, nil).list()[4]["id"].(string), nil), 204)
	})
	t.Run("plain get has no navigation properties", func(t *testing.T) {
		r := tw.graph("GET", p, nil)
		expectStatus(t, r, 200)
		for _, k := range []string{"scheduledActionsForRule", "assignments"} {
			if _, ok := r.body[k]; ok {
				t.Errorf("plain GET returned %s", k)
			}
		}
	})
	t.Run("expand", func(t *testing.T) {
		r := tw.graph("GET", p+"?$expand="+url.QueryEscape("scheduledActionsForRule($expand=scheduledActionConfigurations),assignments"), nil)
		expectStatus(t, r, 200)
		rules := r.body["scheduledActionsForRule"].([]any)
		cfgs := rules[0].(map[string]any)["scheduledActionConfigurations"].([]any)
		if len(cfgs) != 1 || cfgs[0].(map[string]any)["actionType"] != "block" {
			t.Fatalf("expanded %s", r.raw)
		}
		if a, ok := r.body["assignments"].([]any); !ok || len(a) != 0 {
			t.Fatalf("assignments %s", r.raw)
		}
		r = tw.graph("GET", p+"?$expand=scheduledActionsForRule", nil)
		if _, ok := r.body["scheduledActionsForRule"].([]any)[0].(map[string]any)["scheduledActionConfigurations"]; ok {
			t.Error("configurations returned without the nested $expand")
		}
		expectGraphError(t, tw.graph("GET", p+"?$expand=deviceSettings", nil), 400, "BadRequest", "deviceSettings")
		r = tw.graph("GET", policiesPath+"?$expand=assignments", nil)
		if l := r.list(); len(l) != 4 || l[0]["assignments"] == nil {
			t.Fatalf("list with expand %s", r.raw)
		}
	})
	t.Run("patch bumps version", func(t *testing.T) {
		r := tw.graph("PATCH", p, map[string]any{"@odata.type": world.AndroidPolicyType, "deviceThreatProtectionRequiredSecurityLevel": "secured"})
		expectStatus(t, r, 200)
		if r.body["version"].(float64) != 2 || r.str("deviceThreatProtectionRequiredSecurityLevel") != "secured" || r.str("displayName") != "Android MTD" {
			t.Fatalf("patched %s", r.raw)
		}
		expectGraphError(t, tw.graph("PATCH", p, map[string]any{"@odata.type": world.IOSPolicyType}), 400, "BadRequest", "does not match")
		expectGraphError(t, tw.graph("PATCH", p, map[string]any{"deviceThreatProtectionRequiredSecurityLevel": "bad"}), 400, "BadRequest", "bad")
	})
	t.Run("assign replaces the set", func(t *testing.T) {
		g1, g2 := world.NewID(), world.NewID()
		r := tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{
			map[string]any{"target": map[string]any{"@odata.type": world.GroupTarget, "groupId": g1}},
			map[string]any{"target": map[string]any{"@odata.type": world.ExclusionTarget, "groupId": g2}},
		}})
		expectStatus(t, r, 200)
		if len(r.list()) != 2 {
			t.Fatalf("assign %s", r.raw)
		}
		r = tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{
			map[string]any{"target": map[string]any{"@odata.type": world.AllDevicesTarget}}}})
		expectStatus(t, r, 200)
		r = tw.graph("GET", p+"?$expand=assignments", nil)
		as := r.body["assignments"].([]any)
		if len(as) != 1 || as[0].(map[string]any)["target"].(map[string]any)["@odata.type"] != world.AllDevicesTarget {
			t.Fatalf("assignments after replace %s", r.raw)
		}
		expectGraphError(t, tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{
			map[string]any{"target": map[string]any{"@odata.type": world.GroupTarget}}}}), 400, "BadRequest", "groupId")
		expectGraphError(t, tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{
			map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.nope"}}}}), 400, "BadRequest", "nope")
	})
	t.Run("scheduleActionsForRules", func(t *testing.T) {
		r := tw.graph("POST", p+"/scheduleActionsForRules", map[string]any{"deviceComplianceScheduledActionForRules": []any{
			map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block", "gracePeriodHours": 12},
				map[string]any{"actionType": "notification", "gracePeriodHours": 0, "notificationTemplateId": world.NewID()}}}}})
		expectStatus(t, r, 204)
		r = tw.graph("GET", p+"?$expand="+url.QueryEscape("scheduledActionsForRule($expand=scheduledActionConfigurations)"), nil)
		cfgs := r.body["scheduledActionsForRule"].([]any)[0].(map[string]any)["scheduledActionConfigurations"].([]any)
		if len(cfgs) != 2 || cfgs[0].(map[string]any)["gracePeriodHours"].(float64) != 12 {
			t.Fatalf("actions %s", r.raw)
		}
		expectGraphError(t, tw.graph("POST", p+"/scheduleActionsForRules", map[string]any{"deviceComplianceScheduledActionForRules": []any{}}), 400, "BadRequest", "one and only one block")
	})
	t.Run("delete", func(t *testing.T) {
		expectStatus(t, tw.graph("DELETE", p, nil), 204)
		expectGraphError(t, tw.graph("GET", p, nil), 404, "ResourceNotFound", id)
		expectGraphError(t, tw.graph("DELETE", p, nil), 404, "ResourceNotFound", id)
	})
}

func TestGraphManagedDevicesPaging(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: "pat@contoso.example"}))
	must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "and", Platform: world.Android, OSVersion: "14", UserID: u.ID, Count: 1500}))
	ios := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "ios", Platform: world.IOS, OSVersion: "17.5", UserID: u.ID, Count: 1000}))

	collect := func(query string) ([]map[string]any, int) {
		t.Helper()
		next := tw.env[sim.EnvGraphURL] + devicesPath + query
		var all []map[string]any
		pages := 0
		for next != "" {
			r := tw.call("GET", next, tw.token, nil)
			expectStatus(t, r, 200)
			all = append(all, r.list()...)
			pages++
			next = r.str("@odata.nextLink")
			if next != "" && (!strings.HasPrefix(next, tw.srv.URL+"/v1.0/") || !strings.Contains(next, "$skiptoken=")) {
				t.Fatalf("nextLink not absolute: %s", next)
			}
		}
		return all, pages
	}
	t.Run("all 2500 in default pages", func(t *testing.T) {
		all, pages := collect("")
		if len(all) != 2500 || pages != 3 {
			t.Fatalf("%d devices in %d pages", len(all), pages)
		}
		seen := map[string]bool{}
		for _, d := range all {
			if seen[d["id"].(string)] {
				t.Fatalf("duplicate %v", d["id"])
			}
			seen[d["id"].(string)] = true
		}
	})
	t.Run("$top pages and carries $select", func(t *testing.T) {
		all, pages := collect("?$top=300&$select=id,deviceName,operatingSystem")
		if len(all) != 2500 || pages != 9 {
			t.Fatalf("%d devices in %d pages", len(all), pages)
		}
		for _, d := range all {
			if len(d) != 3 || d["operatingSystem"] == nil {
				t.Fatalf("selected %v", d)
			}
		}
	})
	// One device synced an hour later, for lastSyncDateTime.
	t0 := must(tw.admin.Now(ctx))
	must(tw.admin.Advance(ctx, time.Hour))
	synced := ios.Devices[1]
	expectStatus(t, tw.graph("POST", devicesPath+"/"+synced.IntuneID+"/syncDevice", nil), 204)
	at := func(d time.Duration) string { return t0.Add(d).UTC().Format(time.RFC3339) }
	a, b := ios.Devices[0].EntraID, ios.Devices[2].EntraID
	for _, tc := range []struct {
		filter string
		want   int
		only   string // the single device expected, by azureADDeviceId
	}{
		// Honoured: azureADDeviceId/complianceState/operatingSystem eq, lastSyncDateTime lt, joined by and.
		{"operatingSystem eq 'iOS'", 1000, ""},
		{"OperatingSystem EQ 'ios'", 1000, ""}, // names and values compared case-insensitively
		{"complianceState eq 'compliant'", 2500, ""},
		{"complianceState eq 'noncompliant'", 0, ""},
		{"operatingSystem eq 'iOS' and complianceState eq 'compliant'", 1000, ""},
		{"azureADDeviceId eq '" + a + "'", 1, a},
		{"lastSyncDateTime lt " + at(30*time.Minute), 2499, ""},
		{"lastSyncDateTime lt " + at(2*time.Hour), 2500, ""},
		{"lastSyncDateTime lt " + at(-time.Hour), 0, ""},
		{"lastSyncDateTime lt " + at(2*time.Hour) + " and azureADDeviceId eq '" + synced.EntraID + "'", 1, synced.EntraID},
		// An or chain answers its first alternative only.
		{"azureADDeviceId eq '" + a + "' or azureADDeviceId eq '" + b + "'", 1, a},
		{"azureADDeviceId eq '" + b + "' or azureADDeviceId eq '" + a + "'", 1, b},
		// Anything else is ignored: every device comes back.
		{"userId eq '" + u.ID + "'", 2500, ""},
		{"partnerReportedThreatState eq 'highSeverity'", 2500, ""},
		{"userPrincipalName eq 'nobody@contoso.example'", 2500, ""},
		{"deviceName eq 'and-7'", 2500, ""},
		{"id eq '" + ios.Devices[0].IntuneID + "'", 2500, ""},
		{"operatingSystem eq 'Android' and deviceName eq 'and-7'", 2500, ""}, // one unsupported clause spoils all
		{"azureADDeviceId eq '" + a + "' or deviceName eq 'x'", 2500, ""},
		{"complianceState ne 'compliant'", 2500, ""},
		{"lastSyncDateTime gt " + at(2*time.Hour), 2500, ""},
		{"lastSyncDateTime lt '" + at(-time.Hour) + "'", 2500, ""}, // a string is no DateTimeOffset
		{"lastSyncDateTime lt yesterday", 2500, ""},
		{"startswith(deviceName,'ios')", 2500, ""},
		{"osVersion eq '17.5'", 2500, ""},
		{"(operatingSystem eq 'iOS')", 2500, ""},
	} {
		t.Run("$filter "+tc.filter, func(t *testing.T) {
			all, _ := collect("?$filter=" + url.QueryEscape(tc.filter))
			if len(all) != tc.want {
				t.Fatalf("%d devices, want %d", len(all), tc.want)
			}
			if tc.only != "" && all[0]["azureADDeviceId"] != tc.only {
				t.Fatalf("got %v, want azureADDeviceId %s", all[0]["azureADDeviceId"], tc.only)
			}
		})
	}
	t.Run("$filter pages with $top and $select", func(t *testing.T) {
		all, pages := collect("?$top=300&$select=id,azureADDeviceId&$filter=" + url.QueryEscape("operatingSystem eq 'iOS'"))
		if len(all) != 1000 || pages != 4 {
			t.Fatalf("%d devices in %d pages", len(all), pages)
		}
		seen := map[string]bool{}
		for _, d := range all {
			if len(d) != 2 || seen[d["id"].(string)] {
				t.Fatalf("item %v (duplicate or not selected)", d)
			}
			seen[d["id"].(string)] = true
		}
		if !seen[ios.Devices[999].IntuneID] {
			t.Fatal("last iOS device missing")
		}
		r := tw.graph("GET", devicesPath+"?$top=300&$filter="+url.QueryEscape("operatingSystem eq 'iOS'"), nil)
		if next := r.str("@odata.nextLink"); !strings.Contains(next, "$filter=") || !strings.Contains(next, "$top=300") {
			t.Fatalf("nextLink %s does not repeat the query", next)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		expectGraphError(t, tw.graph("GET", devicesPath+"?$top=0", nil), 400, "BadRequest", "$top")
		expectGraphError(t, tw.graph("GET", devicesPath+"?$select=nope", nil), 400, "BadRequest", "nope")
	})
	t.Run("get by id", func(t *testing.T) {
		d := ios.Devices[0]
		r := tw.graph("GET", devicesPath+"/"+d.IntuneID, nil)
		expectStatus(t, r, 200)
		if r.str("azureADDeviceId") != d.EntraID || r.str("operatingSystem") != "iOS" || r.str("osVersion") != "17.5" ||
			r.str("userPrincipalName") != "pat@contoso.example" || r.str("partnerReportedThreatState") != "unknown" {
			t.Fatalf("device %s", r.raw)
		}
		r = tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select=complianceState", nil)
		if len(r.body) != 1 || r.str("complianceState") != "compliant" {
			t.Fatalf("selected %s", r.raw)
		}
		expectGraphError(t, tw.graph("GET", devicesPath+"/"+d.EntraID, nil), 404, "ResourceNotFound", d.EntraID)
	})
}

func TestGraphDeviceActions(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	c := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "d", Platform: world.Android, OSVersion: "13", Count: 4}))
	ds := c.Devices
	for _, tc := range []struct {
		action, id string
		body       any
		managed    bool
		activated  bool
	}{
		{"syncDevice", ds[0].IntuneID, nil, true, true},
		{"remoteLock", ds[1].IntuneID, nil, true, true},
		{"retire", ds[2].IntuneID, nil, false, true},
		{"wipe", ds[3].IntuneID, map[string]any{"keepEnrollmentData": false, "keepUserData": false}, false, false},
	} {
		t.Run(tc.action, func(t *testing.T) {
			expectStatus(t, tw.graph("POST", devicesPath+"/"+tc.id+"/"+tc.action, tc.body), 204)
			v := must(tw.admin.Device(ctx, tid, tc.id))
			if v.Managed != tc.managed || v.Activated != tc.activated || !slices.Contains(v.Actions, tc.action) {
				t.Fatalf("after %s: %+v", tc.action, v)
			}
			if !tc.managed {
				expectStatus(t, tw.graph("GET", devicesPath+"/"+tc.id, nil), 404)
				expectStatus(t, tw.graph("POST", devicesPath+"/"+tc.id+"/syncDevice", nil), 404)
			}
		})
	}
	expectGraphError(t, tw.graph("POST", devicesPath+"/"+ds[0].IntuneID+"/wipe", map[string]any{"keepUserData": "no"}), 400, "BadRequest", "Edm.Boolean")
	expectGraphError(t, tw.graph("POST", devicesPath+"/"+ds[0].IntuneID+"/remoteLock", map[string]any{"x": 1}), 400, "BadRequest", "does not exist")
}

func caBody(name, state string, apps []string, groups []string) map[string]any {
	users := map[string]any{"includeUsers": []string{"All"}}
	if groups != nil {
		users = map[string]any{"includeGroups": groups}
	}
	return map[string]any{
		"displayName": name, "state": state,
		"conditions": map[string]any{
			"applications":   map[string]any{"includeApplications": apps},
			"users":          users,
			"platforms":      map[string]any{"includePlatforms": []string{"android", "iOS"}},
			"clientAppTypes": []string{"all"},
		},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"compliantDevice"}},
	}
}

func TestGraphConditionalAccess(t *testing.T) {
	tw := start(t, noThrottle)
	t.Run("kiota-shaped body with nested @odata.type", func(t *testing.T) {
		b := caBody("kiota", "disabled", []string{"All"}, nil)
		b["@odata.type"] = "#microsoft.graph.conditionalAccessPolicy"
		cond := b["conditions"].(map[string]any)
		cond["@odata.type"] = "#microsoft.graph.conditionalAccessConditionSet"
		cond["platforms"].(map[string]any)["@odata.type"] = "#microsoft.graph.conditionalAccessPlatforms"
		b["grantControls"].(map[string]any)["@odata.type"] = "#microsoft.graph.conditionalAccessGrantControls"
		r := tw.graph("POST", caPath, gz(t, b), "Content-Encoding", "gzip")
		expectStatus(t, r, 201)
		expectStatus(t, tw.graph("DELETE", caPath+"/"+r.str("id"), nil), 204)
	})
	r := tw.graph("POST", caPath, caBody("Require compliant phones", "enabled", []string{world.ExchangeOnlineApp}, nil))
	expectStatus(t, r, 201)
	id := r.str("id")
	if r.str("state") != "enabled" || r.str("createdDateTime") == "" {
		t.Fatalf("created %s", r.raw)
	}
	expectStatus(t, tw.graph("PATCH", caPath+"/"+id, map[string]any{"state": "enabledForReportingButNotEnforced",
		"conditions": map[string]any{"applications": map[string]any{"includeApplications": []string{"Office365"}}}}), 204)
	r = tw.graph("GET", caPath+"/"+id, nil)
	if r.str("state") != "enabledForReportingButNotEnforced" || r.body["conditions"].(map[string]any)["users"] == nil {
		t.Fatalf("patched %s", r.raw)
	}
	if l := tw.graph("GET", caPath, nil).list(); len(l) != 1 {
		t.Fatalf("list %v", l)
	}
	for _, tc := range []struct {
		name string
		mut  func(map[string]any)
		msg  string
	}{
		{"bad state", func(b map[string]any) { b["state"] = "on" }, "state"},
		{"no users", func(b map[string]any) { delete(b["conditions"].(map[string]any), "users") }, "users"},
		{"bad control", func(b map[string]any) { b["grantControls"].(map[string]any)["builtInControls"] = []string{"prayer"} }, "prayer"},
		{"bad platform", func(b map[string]any) {
			b["conditions"].(map[string]any)["platforms"] = map[string]any{"includePlatforms": []string{"symbian"}}
		}, "symbian"},
		{"no controls", func(b map[string]any) { delete(b, "grantControls") }, "grantControls"},
		{"unknown property", func(b map[string]any) { b["priority"] = 1 }, "priority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := caBody("x", "enabled", []string{"All"}, nil)
			tc.mut(b)
			expectGraphError(t, tw.graph("POST", caPath, b), 400, "BadRequest", tc.msg)
		})
	}
	expectGraphError(t, tw.graph("PATCH", caPath+"/"+id, map[string]any{"state": "maybe"}), 400, "BadRequest", "state")
	expectStatus(t, tw.graph("DELETE", caPath+"/"+id, nil), 204)
	expectGraphError(t, tw.graph("GET", caPath+"/"+id, nil), 404, "ResourceNotFound", id)
}

func TestGraphThrottling(t *testing.T) {
	tw := start(t) // documented limits, on by default
	tid := tw.env[sim.EnvTenantID]
	lim := must(tw.admin.Throttling(ctx))
	if !lim.Enabled || lim.ConfigWrites != 100 || lim.ConfigRequests != 1000 || lim.DevicesWrites != 200 ||
		lim.DevicesRequests != 2000 || lim.WindowSeconds != 20 || lim.TenantFactor != 2 {
		t.Fatalf("default limits %+v", lim)
	}
	write := func(token string, i int) *resp {
		return tw.call("POST", tw.env[sim.EnvGraphURL]+policiesPath, token, policyBody(world.IOSPolicyType, fmt.Sprint("p", i), "low"))
	}
	for i := range 100 {
		expectStatus(t, write(tw.token, i), 201)
	}
	r := write(tw.token, 100)
	expectGraphError(t, r, 429, "TooManyRequests", "retry")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" || len(ra) > 2 {
		t.Fatalf("Retry-After %q", ra)
	}
	// Reads have their own, larger budget; other services are unaffected.
	expectStatus(t, tw.graph("GET", policiesPath, nil), 200)
	expectStatus(t, tw.graph("GET", devicesPath, nil), 200)

	// A second app has its own per-app budget until the tenant-wide one (200) is spent.
	other := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{world.RoleConfigReadWrite}}))
	otherTok := tw.secretToken(other.ClientID, other.Secret)
	for i := range 100 {
		expectStatus(t, write(otherTok, 1000+i), 201)
	}
	third := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{world.RoleConfigReadWrite}}))
	expectStatus(t, write(tw.secretToken(third.ClientID, third.Secret), 0), 429)

	calls := must(tw.admin.Calls(ctx))
	if c := calls["POST /v1.0"+policiesPath]; c.Throttled != 2 || c.Calls != 202 || c.Status[201] != 200 {
		t.Fatalf("call counts %+v", c)
	}

	lim.Enabled = false
	must(tw.admin.SetThrottling(ctx, lim))
	expectStatus(t, write(tw.token, 5000), 201)
	lim.Enabled, lim.DevicesRequests = true, 3
	must(tw.admin.SetThrottling(ctx, lim))
	for range 3 {
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
	}
	expectStatus(t, tw.graph("GET", devicesPath+"/x", nil), 429)
}

func TestGraphPolicyNavigationRoutes(t *testing.T) {
	tw := start(t, noThrottle)
	r := tw.graph("POST", policiesPath, policyBody(world.IOSPolicyType, "iOS MTD", "secured"))
	expectStatus(t, r, 201)
	p := policiesPath + "/" + r.str("id")
	expectStatus(t, tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{
		map[string]any{"target": map[string]any{"@odata.type": world.AllUsersTarget}}}}), 200)

	r = tw.graph("GET", p+"/assignments", nil)
	expectStatus(t, r, 200)
	if l := r.list(); len(l) != 1 || l[0]["target"].(map[string]any)["@odata.type"] != world.AllUsersTarget {
		t.Fatalf("assignments %s", r.raw)
	}
	r = tw.graph("GET", p+"/scheduledActionsForRule", nil)
	if l := r.list(); len(l) != 1 || l[0]["scheduledActionConfigurations"] != nil {
		t.Fatalf("rules without expand %s", r.raw)
	}
	r = tw.graph("GET", p+"/scheduledActionsForRule?$expand=scheduledActionConfigurations", nil)
	if l := r.list(); len(l) != 1 || len(l[0]["scheduledActionConfigurations"].([]any)) != 1 {
		t.Fatalf("rules with expand %s", r.raw)
	}
	expectGraphError(t, tw.graph("GET", p+"/scheduledActionsForRule?$expand=nope", nil), 400, "BadRequest", "nope")
	expectGraphError(t, tw.graph("GET", policiesPath+"/"+world.NewID()+"/assignments", nil), 404, "ResourceNotFound", "")
}

// actionResult is a deviceActionResults item as Graph serves it.
type actionResult struct {
	name, state      string
	started, updated time.Time
}

func (a actionResult) is(name, state string, started, updated time.Time) bool {
	return a.name == name && a.state == state && a.started.Equal(started) && a.updated.Equal(updated)
}

// graphActionResults decodes a device's deviceActionResults, insisting on
// Graph's date format.
func graphActionResults(t *testing.T, r *resp) []actionResult {
	t.Helper()
	raw, ok := r.body["deviceActionResults"].([]any)
	if !ok {
		t.Fatalf("deviceActionResults is not an array: %s", r.raw)
	}
	out := []actionResult{}
	for _, x := range raw {
		m := x.(map[string]any)
		a := actionResult{name: m["actionName"].(string), state: m["actionState"].(string)}
		for _, f := range []struct {
			key string
			to  *time.Time
		}{{"startDateTime", &a.started}, {"lastUpdatedDateTime", &a.updated}} {
			s, _ := m[f.key].(string)
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !strings.HasSuffix(s, "Z") || len(s) != len("2006-01-02T15:04:05.0000000Z") {
				t.Fatalf("%s %q is not a Graph date (%v)", f.key, s, err)
			}
			*f.to = tm
		}
		out = append(out, a)
	}
	return out
}

// TestGraphDeviceActionResults: deviceActionResults is [] for a device with no
// action, selectable on its own, and lists each action done with its times.
func TestGraphDeviceActionResults(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	d := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "d", Platform: world.IOS, OSVersion: "17"})).Devices[0]

	r := tw.graph("GET", devicesPath+"/"+d.IntuneID, nil)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.raw), `"deviceActionResults":[]`) {
		t.Fatalf("no action yet: %s", r.raw)
	}
	for _, sel := range []string{"deviceActionResults", "DEVICEACTIONRESULTS"} {
		r = tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select="+sel, nil)
		expectStatus(t, r, 200)
		if len(r.body) != 1 || string(r.raw) != `{"deviceActionResults":[]}` {
			t.Fatalf("$select=%s: %s", sel, r.raw)
		}
	}

	before := must(tw.admin.Now(ctx))
	for _, a := range []string{"syncDevice", "remoteLock"} {
		expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/"+a, nil), 204)
	}
	after := must(tw.admin.Now(ctx))
	r = tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select=id,deviceActionResults", nil)
	expectStatus(t, r, 200)
	got := graphActionResults(t, r)
	if len(r.body) != 2 || len(got) != 2 || got[0].name != "syncDevice" || got[1].name != "remoteLock" {
		t.Fatalf("after sync and lock: %s", r.raw)
	}
	for _, a := range got {
		if a.state != "done" || a.started.Before(before) || a.started.After(after) || !a.updated.Equal(a.started) {
			t.Fatalf("%+v, want done at once, in [%v, %v]", a, before, after)
		}
	}
	// The list serves it too, when selected.
	r = tw.graph("GET", devicesPath+"?$select=id,deviceActionResults", nil)
	expectStatus(t, r, 200)
	if items := r.list(); len(items) != 1 || len(items[0]["deviceActionResults"].([]any)) != 2 {
		t.Fatalf("list %s", r.raw)
	}
}
