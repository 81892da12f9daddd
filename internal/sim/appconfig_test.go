package sim_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

func setting(key, typ, value string) map[string]any {
	return map[string]any{"@odata.type": "microsoft.graph.appConfigurationSettingItem", "appConfigKey": key,
		"appConfigKeyType": typ, "appConfigKeyValue": value}
}

func appConfigBody(name string, apps []string, settings ...any) map[string]any {
	return map[string]any{"@odata.type": world.IOSAppConfigurationType, "displayName": name,
		"targetedMobileApps": apps, "settings": settings}
}

// TestGraphAppConfigurations: iosMobileAppConfiguration create, read, PATCH
// (version bumps, settings replaced whole), assign and delete, with Graph's
// validation of settings and targeted apps.
func TestGraphAppConfigurations(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	iosID := tw.createIOSApp("Protect", "com.example.protect")
	android := must(tw.admin.ApproveManagedStoreAppWithPublisher(ctx, tid, "com.example.protect", "Protect", "Example"))

	bad := func(mut func(map[string]any)) map[string]any {
		b := appConfigBody("cfg", []string{iosID}, setting("tenant", "stringType", "contoso"))
		mut(b)
		return b
	}
	missingApp := world.NewID()
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no type", bad(func(b map[string]any) { delete(b, "@odata.type") }), "abstract: @odata.type is required"},
		{"android type", bad(func(b map[string]any) { b["@odata.type"] = "#microsoft.graph.androidManagedStoreAppConfiguration" }), "only microsoft.graph.iosMobileAppConfiguration"},
		{"empty displayName", bad(func(b map[string]any) { b["displayName"] = "" }), "'displayName' is required"},
		{"unknown key type", bad(func(b map[string]any) { b["settings"] = []any{setting("k", "dateType", "2026-01-01")} }), "Requested value 'dateType' was not found"},
		{"no key type", bad(func(b map[string]any) {
			b["settings"] = []any{map[string]any{"appConfigKey": "k", "appConfigKeyValue": "v"}}
		}), "appConfigKeyType is required"},
		{"no key", bad(func(b map[string]any) { b["settings"] = []any{setting("", "stringType", "v")} }), "settings[0]: appConfigKey is required"},
		{"duplicate key", bad(func(b map[string]any) {
			b["settings"] = []any{setting("k", "stringType", "a"), setting("k", "integerType", "1")}
		}), "'k' appears more than once"},
		{"not an integer", bad(func(b map[string]any) { b["settings"] = []any{setting("port", "integerType", "443.5")} }), "'443.5' of appConfigKey 'port' is not a valid integer"},
		{"not a real", bad(func(b map[string]any) { b["settings"] = []any{setting("ratio", "realType", "NaN")} }), "is not a valid real"},
		{"not a boolean", bad(func(b map[string]any) { b["settings"] = []any{setting("on", "booleanType", "yes")} }), "is not a valid boolean"},
		{"wrong item type", bad(func(b map[string]any) {
			b["settings"] = []any{map[string]any{"@odata.type": "#microsoft.graph.keyValuePair", "appConfigKey": "k", "appConfigKeyType": "stringType"}}
		}), "expected 'microsoft.graph.appConfigurationSettingItem'"},
		{"unknown item property", bad(func(b map[string]any) {
			b["settings"] = []any{map[string]any{"appConfigKey": "k", "appConfigKeyType": "stringType", "name": "n"}}
		}), "'name' does not exist"},
		{"targeted app missing", bad(func(b map[string]any) { b["targetedMobileApps"] = []string{missingApp} }), "'" + missingApp + "' does not exist"},
		{"targeted app not iOS", bad(func(b map[string]any) { b["targetedMobileApps"] = []string{android.ID} }), "not an iOS app"},
		{"targeted app twice", bad(func(b map[string]any) { b["targetedMobileApps"] = []string{iosID, iosID} }), "more than once in targetedMobileApps"},
		{"settings and XML", bad(func(b map[string]any) { b["encodedSettingXml"] = base64.StdEncoding.EncodeToString([]byte("<dict/>")) }), "either settings or encodedSettingXml, not both"},
		{"XML not base64", bad(func(b map[string]any) { delete(b, "settings"); b["encodedSettingXml"] = "<dict/>" }), "must be base64"},
		{"unknown property", bad(func(b map[string]any) { b["roleScopeTagIds"] = []string{"0"} }), "'roleScopeTagIds' does not exist on type 'microsoft.graph.iosMobileAppConfiguration'"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.graph("POST", appConfigsPath, tc.body), 400, "BadRequest", tc.msg)
		})
	}

	r := tw.graph("POST", appConfigsPath, appConfigBody("Protect settings", []string{iosID},
		setting("tenant", "stringType", "contoso"), setting("port", "integerType", "-443"), setting("ratio", "realType", "0.5"),
		setting("strict", "booleanType", "true"), setting("user", "tokenType", "{{userprincipalname}}")))
	expectStatus(t, r, 201)
	id := r.str("id")
	if !isGUIDString(id) || r.body["version"].(float64) != 1 || r.str("createdDateTime") == "" || r.str("lastModifiedDateTime") == "" ||
		len(r.body["settings"].([]any)) != 5 || r.body["targetedMobileApps"].([]any)[0] != iosID || r.str("@odata.type") != world.IOSAppConfigurationType {
		t.Fatalf("created %s", r.raw)
	}
	xml := base64.StdEncoding.EncodeToString([]byte("<dict><key>k</key><string>v</string></dict>"))
	second := tw.graph("POST", appConfigsPath, map[string]any{"@odata.type": world.IOSAppConfigurationType, "displayName": "XML", "encodedSettingXml": xml})
	expectStatus(t, second, 201)
	p := appConfigsPath + "/" + id

	t.Run("list pages and expands", func(t *testing.T) {
		all, pages := tw.listAll(tw.env[sim.EnvGraphURL] + appConfigsPath + "?$top=1&$expand=assignments")
		if pages != 2 || !slices.Equal(ids(all), []string{id, second.str("id")}) || all[0]["assignments"] == nil || all[1]["encodedSettingXml"] != xml {
			t.Fatalf("%d pages %v", pages, all)
		}
		expectGraphError(t, tw.graph("GET", appConfigsPath+"?$expand=deviceStatuses", nil), 400, "BadRequest",
			"'deviceStatuses' on type 'microsoft.graph.managedDeviceMobileAppConfiguration'")
		r := tw.graph("GET", p+"?$expand=assignments", nil)
		if expectStatus(t, r, 200); r.str("displayName") != "Protect settings" || r.body["assignments"] == nil {
			t.Fatalf("get %s", r.raw)
		}
		expectGraphError(t, tw.graph("GET", appConfigsPath+"/"+world.NewID(), nil), 404, "ResourceNotFound", "managedDeviceMobileAppConfiguration")
	})
	t.Run("patch bumps the version and replaces settings", func(t *testing.T) {
		expectStatus(t, tw.graph("PATCH", p, map[string]any{"@odata.type": world.IOSAppConfigurationType, "description": "for Protect",
			"settings": []any{setting("tenant", "stringType", "fabrikam")}}), 204)
		r := tw.graph("GET", p, nil)
		if r.body["version"].(float64) != 2 || r.str("description") != "for Protect" || len(r.body["settings"].([]any)) != 1 ||
			r.body["settings"].([]any)[0].(map[string]any)["appConfigKeyValue"] != "fabrikam" || r.str("displayName") != "Protect settings" {
			t.Fatalf("after PATCH %s", r.raw)
		}
		for _, tc := range []struct {
			body map[string]any
			msg  string
		}{
			{map[string]any{"displayName": " "}, "'displayName' is required"},
			{map[string]any{"targetedMobileApps": []string{android.ID}}, "not an iOS app"},
			{map[string]any{"settings": []any{setting("n", "integerType", "ten")}}, "not a valid integer"},
			{map[string]any{"encodedSettingXml": xml}, "not both"},
			{map[string]any{"@odata.type": "#microsoft.graph.mobileAppConfiguration"}, "does not match"},
		} {
			expectGraphError(t, tw.graph("PATCH", p, tc.body), 400, "BadRequest", tc.msg)
		}
		if r := tw.graph("GET", p, nil); r.body["version"].(float64) != 2 {
			t.Fatalf("a refused PATCH bumped the version: %s", r.raw)
		}
		expectGraphError(t, tw.graph("PATCH", appConfigsPath+"/"+world.NewID(), map[string]any{"displayName": "x"}), 404, "ResourceNotFound", "managedDeviceMobileAppConfiguration")
	})
	t.Run("assign replaces the set and validates", func(t *testing.T) {
		g := world.NewID()
		item := func(tgt map[string]any) map[string]any {
			return map[string]any{"@odata.type": "#microsoft.graph.managedDeviceMobileAppConfigurationAssignment", "target": tgt}
		}
		r := tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{item(target(world.GroupTarget, g)), item(target(world.ExclusionTarget, world.NewID()))}})
		if expectStatus(t, r, 200); len(r.raw) != 0 {
			t.Fatalf("assign body %s", r.raw)
		}
		expectStatus(t, tw.graph("POST", p+"/assign", map[string]any{"assignments": []any{item(target(world.AllUsersTarget, ""))}}), 200)
		r = tw.graph("GET", p+"/assignments", nil)
		if l := r.list(); len(l) != 1 || l[0]["target"].(map[string]any)["@odata.type"] != world.AllUsersTarget {
			t.Fatalf("assignments %s", r.raw)
		}
		for _, tc := range []struct {
			body map[string]any
			msg  string
		}{
			{map[string]any{}, "The parameter 'assignments' is required"},
			{map[string]any{"assignments": []any{item(target(world.GroupTarget, "all-staff"))}}, "is not a GUID"},
			{map[string]any{"assignments": []any{item(target(world.GroupTarget, g)), item(target(world.GroupTarget, g))}}, "assigned twice"},
			{map[string]any{"assignments": []any{item(target("#microsoft.graph.someTarget", ""))}}, "Unsupported assignment target type"},
			{map[string]any{"assignments": []any{map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, "")}}}, "'intent' does not exist"},
		} {
			expectGraphError(t, tw.graph("POST", p+"/assign", tc.body), 400, "BadRequest", tc.msg)
		}
		expectGraphError(t, tw.graph("POST", appConfigsPath+"/"+world.NewID()+"/assign", map[string]any{"assignments": []any{}}), 404, "ResourceNotFound", "managedDeviceMobileAppConfiguration")
	})
	t.Run("deleting the app keeps targetedMobileApps; delete", func(t *testing.T) {
		expectStatus(t, tw.graph("DELETE", appsPath+"/"+iosID, nil), 204)
		if r := tw.graph("GET", p, nil); r.body["targetedMobileApps"].([]any)[0] != iosID {
			t.Fatalf("targets after the app's deletion %s", r.raw)
		}
		// A PATCH that leaves targetedMobileApps alone is still accepted.
		expectStatus(t, tw.graph("PATCH", p, map[string]any{"displayName": "Renamed"}), 204)
		cfgs := must(tw.admin.AppConfigurations(ctx, tid))
		if len(cfgs) != 2 || cfgs[0].Version != 3 || cfgs[0].DisplayName != "Renamed" || len(cfgs[0].Assignments) != 1 ||
			!slices.Equal(cfgs[0].TargetedMobileApps, []string{iosID}) || cfgs[1].EncodedSettingXML != xml {
			t.Fatalf("admin configurations %+v", cfgs)
		}
		expectStatus(t, tw.graph("DELETE", p, nil), 204)
		expectGraphError(t, tw.graph("DELETE", p, nil), 404, "ResourceNotFound", id)
		st := must(tw.admin.AppStats(ctx, tid))
		if want := (adminapi.AppStats{AppCreates: 1, AppDeletes: 1, ConfigCreates: 2, ConfigPatches: 2, ConfigDeletes: 1, ConfigAssigns: 2}); st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
		if snap := must(tw.admin.Snapshot(ctx)); len(snap.Tenants[0].AppConfigs) != 1 || snap.Tenants[0].AppStats != st ||
			len(snap.Tenants[0].MobileApps) != 1 || !strings.HasPrefix(snap.Tenants[0].MobileApps[0].AppStoreURL, "https://play.google.com/") {
			t.Fatalf("snapshot %+v", snap.Tenants[0])
		}
	})
}
