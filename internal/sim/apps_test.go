package sim_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const (
	appsPath         = "/deviceAppManagement/mobileApps"
	iosAppsPath      = appsPath + "/graph.iosStoreApp"
	appConfigsPath   = "/deviceAppManagement/mobileAppConfigurations"
	detectedAppsPath = "/deviceManagement/detectedApps"
)

// isof is the $filter query of a mobileApps list of one type.
func isof(typ string) string {
	return "?$filter=" + url.QueryEscape("isof('"+strings.TrimPrefix(typ, "#")+"')")
}

func iosAppBody(name, bundle string) map[string]any {
	return map[string]any{"@odata.type": world.IOSStoreAppType, "displayName": name, "publisher": "BlackBerry",
		"description": "MTD agent", "bundleId": bundle, "appStoreUrl": "https://apps.apple.com/app/id0000000001",
		"applicableDeviceType":            map[string]any{"@odata.type": "#microsoft.graph.iosDeviceType", "iPad": true, "iPhoneAndIPod": true},
		"minimumSupportedOperatingSystem": map[string]any{"@odata.type": "#microsoft.graph.iosMinimumOperatingSystem", "v13_0": true}}
}

func target(typ, group string) map[string]any {
	t := map[string]any{"@odata.type": typ}
	if group != "" {
		t["groupId"] = group
	}
	return t
}

func appAssignment(intent string, tgt map[string]any) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": intent, "target": tgt, "settings": nil}
}

// listAll follows @odata.nextLink from url (absolute) and returns every item
// and the number of pages.
func (tw *twin) listAll(u string) ([]map[string]any, int) {
	tw.t.Helper()
	var all []map[string]any
	pages := 0
	for u != "" {
		r := tw.call("GET", u, tw.token, nil)
		expectStatus(tw.t, r, 200)
		all = append(all, r.list()...)
		pages++
		u = r.str("@odata.nextLink")
		if u != "" && (!strings.HasPrefix(u, tw.srv.URL+"/") || !strings.Contains(u, "$skiptoken=")) {
			tw.t.Fatalf("nextLink not absolute: %s", u)
		}
	}
	return all, pages
}

// createIOSApp creates an iosStoreApp and returns its id.
func (tw *twin) createIOSApp(name, bundle string) string {
	tw.t.Helper()
	r := tw.graph("POST", appsPath, iosAppBody(name, bundle))
	expectStatus(tw.t, r, 201)
	return r.str("id")
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, m := range items {
		out = append(out, m["id"].(string))
	}
	return out
}

// TestGraphIOSStoreApps: create with Graph's validation, the type-cast list with
// paging and $expand, get, PATCH (bundleId fixed) and delete, counted per tenant.
func TestGraphIOSStoreApps(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]

	bad := func(mut func(map[string]any)) map[string]any {
		b := iosAppBody("Protect", "com.example.protect")
		mut(b)
		return b
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no type", bad(func(b map[string]any) { delete(b, "@odata.type") }), "abstract: @odata.type is required"},
		{"unknown type", bad(func(b map[string]any) { b["@odata.type"] = "#microsoft.graph.webApp" }), "only microsoft.graph.iosStoreApp"},
		{"managed store app on v1.0", bad(func(b map[string]any) { b["@odata.type"] = world.AndroidManagedStoreAppType }), "in v1.0"},
		{"empty displayName", bad(func(b map[string]any) { b["displayName"] = " " }), "'displayName' is required"},
		{"no publisher", bad(func(b map[string]any) { delete(b, "publisher") }), "'publisher' is required"},
		{"empty bundleId", bad(func(b map[string]any) { b["bundleId"] = "" }), "'bundleId' is required"},
		{"http store URL", bad(func(b map[string]any) { b["appStoreUrl"] = "http://apps.apple.com/app/id1" }), "must be an absolute https URL"},
		{"relative store URL", bad(func(b map[string]any) { b["appStoreUrl"] = "/app/id1" }), "'appStoreUrl'"},
		{"no minimum OS", bad(func(b map[string]any) { delete(b, "minimumSupportedOperatingSystem") }), "'minimumSupportedOperatingSystem' is required"},
		{"no minimum OS flag set", bad(func(b map[string]any) {
			b["minimumSupportedOperatingSystem"] = map[string]any{"v13_0": false}
		}), "must set one of v8_0"},
		{"unknown OS flag", bad(func(b map[string]any) { b["minimumSupportedOperatingSystem"] = map[string]any{"v99_0": true} }),
			"'v99_0' does not exist on type 'microsoft.graph.iosMinimumOperatingSystem'"},
		{"flag not a bool", bad(func(b map[string]any) { b["applicableDeviceType"] = map[string]any{"iPad": "yes"} }), "Edm.Boolean"},
		{"wrong complex type", bad(func(b map[string]any) {
			b["applicableDeviceType"] = map[string]any{"@odata.type": "#microsoft.graph.androidMinimumOperatingSystem"}
		}), "expected 'microsoft.graph.iosDeviceType'"},
		{"unknown property", bad(func(b map[string]any) { b["packageId"] = "com.example" }), "'packageId' does not exist on type 'microsoft.graph.iosStoreApp'"},
		{"displayName not a string", bad(func(b map[string]any) { b["displayName"] = 7 }), "Edm.String"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.graph("POST", appsPath, tc.body), 400, "BadRequest", tc.msg)
		})
	}
	expectGraphError(t, tw.graph("POST", appsPath, "not json"), 400, "BadRequest", "Invalid JSON")
	if st := must(tw.admin.AppStats(ctx, tid)); st.AppCreates != 0 {
		t.Fatalf("refused creates counted: %+v", st)
	}

	r := tw.graph("POST", appsPath, gz(t, iosAppBody("BlackBerry Protect Mobile", "com.blackberry.protect.sample")), "Content-Encoding", "gzip")
	expectStatus(t, r, 201)
	id := r.str("id")
	if !isGUIDString(id) || r.str("@odata.type") != world.IOSStoreAppType || r.str("publishingState") != "published" ||
		r.str("createdDateTime") == "" || r.str("lastModifiedDateTime") == "" || r.str("bundleId") != "com.blackberry.protect.sample" ||
		r.body["minimumSupportedOperatingSystem"].(map[string]any)["v13_0"] != true ||
		r.body["minimumSupportedOperatingSystem"].(map[string]any)["v12_0"] != false || r.body["assignments"] != nil {
		t.Fatalf("created %s", r.raw)
	}
	others := []string{tw.createIOSApp("Second", "com.example.two"), tw.createIOSApp("Third", "com.example.three")}
	must(tw.admin.ApproveManagedStoreAppWithPublisher(ctx, tid, "com.example.android", "Android app", "Example"))

	t.Run("type-cast list pages and expands", func(t *testing.T) {
		all, pages := tw.listAll(tw.env[sim.EnvGraphURL] + iosAppsPath + "?$top=2&$expand=assignments")
		if pages != 2 || !slices.Equal(ids(all), append([]string{id}, others...)) {
			t.Fatalf("%d pages: %v", pages, ids(all))
		}
		for _, m := range all {
			if m["@odata.type"] != world.IOSStoreAppType || m["assignments"] == nil {
				t.Fatalf("item %v", m)
			}
		}
		r := tw.graph("GET", iosAppsPath, nil)
		if expectStatus(t, r, 200); len(r.list()) != 3 || r.str("@odata.nextLink") != "" ||
			!strings.HasSuffix(r.str("@odata.context"), "$metadata#deviceAppManagement/mobileApps/microsoft.graph.iosStoreApp") {
			t.Fatalf("one page %s", r.raw)
		}
		expectGraphError(t, tw.graph("GET", iosAppsPath+"?$expand=categories", nil), 400, "BadRequest", "'categories'")
		expectGraphError(t, tw.graph("GET", iosAppsPath+"?$top=0", nil), 400, "BadRequest", "$top")
		expectGraphError(t, tw.graph("GET", iosAppsPath+"?$filter="+url.QueryEscape("displayName eq 'x'"), nil), 400, "BadRequest", "no $filter")
	})
	t.Run("v1.0 list filters by isof", func(t *testing.T) {
		r := tw.graph("GET", appsPath+isof(world.IOSStoreAppType), nil)
		if expectStatus(t, r, 200); len(r.list()) != 3 {
			t.Fatalf("isof iosStoreApp %s", r.raw)
		}
		all := tw.graph("GET", appsPath, nil)
		if expectStatus(t, all, 200); len(all.list()) != 4 {
			t.Fatalf("every app %s", all.raw)
		}
		expectGraphError(t, tw.graph("GET", appsPath+"?$filter="+url.QueryEscape("startswith(displayName,'B')"), nil), 400, "BadRequest",
			"supports only isof('microsoft.graph.<type>')")
	})
	t.Run("get", func(t *testing.T) {
		r := tw.graph("GET", appsPath+"/"+id+"?$expand=assignments", nil)
		if expectStatus(t, r, 200); r.str("displayName") != "BlackBerry Protect Mobile" || r.body["assignments"] == nil ||
			!strings.HasSuffix(r.str("@odata.context"), "#deviceAppManagement/mobileApps/$entity") {
			t.Fatalf("get %s", r.raw)
		}
		expectGraphError(t, tw.graph("GET", appsPath+"/"+world.NewID(), nil), 404, "ResourceNotFound", "mobileApp")
	})
	t.Run("patch", func(t *testing.T) {
		p := appsPath + "/" + id
		r := tw.graph("PATCH", p, map[string]any{"@odata.type": world.IOSStoreAppType, "displayName": "Protect",
			"minimumSupportedOperatingSystem": map[string]any{"v14_0": true}, "bundleId": "com.blackberry.protect.sample"})
		if expectStatus(t, r, 204); len(r.raw) != 0 {
			t.Fatalf("PATCH body %s", r.raw)
		}
		got := tw.graph("GET", p, nil)
		os := got.body["minimumSupportedOperatingSystem"].(map[string]any)
		if got.str("displayName") != "Protect" || os["v14_0"] != true || os["v13_0"] != false || got.str("publisher") != "BlackBerry" {
			t.Fatalf("after PATCH %s", got.raw)
		}
		for _, tc := range []struct {
			body map[string]any
			msg  string
		}{
			{map[string]any{"bundleId": "com.example.other"}, "'bundleId' cannot be changed"},
			{map[string]any{"appStoreUrl": "ftp://example.com"}, "https URL"},
			{map[string]any{"displayName": ""}, "'displayName' is required"},
			{map[string]any{"minimumSupportedOperatingSystem": nil}, "'minimumSupportedOperatingSystem' is required"},
			{map[string]any{"@odata.type": world.AndroidManagedStoreAppType}, "does not match"},
			{map[string]any{"usedLicenseCount": 3}, "does not exist"},
		} {
			expectGraphError(t, tw.graph("PATCH", p, tc.body), 400, "BadRequest", tc.msg)
		}
		if n := tw.graph("GET", p, nil); n.str("displayName") != "Protect" {
			t.Fatalf("a refused PATCH changed the app: %s", n.raw)
		}
		expectGraphError(t, tw.graph("PATCH", appsPath+"/"+world.NewID(), map[string]any{"displayName": "x"}), 404, "ResourceNotFound", "mobileApp")
	})
	t.Run("delete and counts", func(t *testing.T) {
		expectStatus(t, tw.graph("DELETE", appsPath+"/"+others[1], nil), 204)
		expectGraphError(t, tw.graph("GET", appsPath+"/"+others[1], nil), 404, "ResourceNotFound", others[1])
		expectGraphError(t, tw.graph("DELETE", appsPath+"/"+others[1], nil), 404, "ResourceNotFound", others[1])
		st := must(tw.admin.AppStats(ctx, tid))
		if st != (adminapi.AppStats{AppCreates: 3, AppPatches: 1, AppDeletes: 1}) {
			t.Fatalf("stats %+v", st)
		}
		apps := must(tw.admin.MobileApps(ctx, tid))
		if len(apps) != 3 || apps[0].ID != id || apps[0].BundleID != "com.blackberry.protect.sample" ||
			!slices.Equal(apps[0].MinimumOS, []string{"v14_0"}) || !slices.Equal(apps[0].DeviceTypes, []string{"iPad", "iPhoneAndIPod"}) ||
			apps[2].PackageID != "com.example.android" {
			t.Fatalf("admin apps %+v", apps)
		}
		must(0, tw.admin.ResetAppStats(ctx, tid))
		if st := must(tw.admin.AppStats(ctx, tid)); st != (adminapi.AppStats{}) {
			t.Fatalf("after reset %+v", st)
		}
	})
}

func isGUIDString(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }

// TestGraphMobileAppAssign: assign replaces the whole set in one call, answers
// 200 without a body, and refuses what Intune refuses.
func TestGraphMobileAppAssign(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	id := tw.createIOSApp("Protect", "com.example.protect")
	assign := appsPath + "/" + id + "/assign"
	g1, g2 := world.NewID(), world.NewID()

	r := tw.graph("POST", assign, map[string]any{"mobileAppAssignments": []any{
		appAssignment("required", target(world.GroupTarget, g1)),
		appAssignment("available", target(world.AllUsersTarget, "")),
		map[string]any{"intent": "required", "target": target(world.ExclusionTarget, g2), "settings": map[string]any{
			"@odata.type": "#microsoft.graph.iosStoreAppAssignmentSettings", "uninstallOnDeviceRemoval": true, "isRemovable": false}},
	}})
	if expectStatus(t, r, 200); len(r.raw) != 0 {
		t.Fatalf("assign answered a body: %s", r.raw)
	}
	r = tw.graph("GET", appsPath+"/"+id+"/assignments", nil)
	expectStatus(t, r, 200)
	if l := r.list(); len(l) != 3 || l[0]["intent"] != "required" || l[0]["target"].(map[string]any)["groupId"] != g1 || l[0]["settings"] != nil ||
		l[2]["settings"].(map[string]any)["uninstallOnDeviceRemoval"] != true || l[1]["target"].(map[string]any)["groupId"] != nil {
		t.Fatalf("assignments %s", r.raw)
	}

	// A second assign replaces the set.
	expectStatus(t, tw.graph("POST", assign, map[string]any{"mobileAppAssignments": []any{appAssignment("uninstall", target(world.AllDevicesTarget, ""))}}), 200)
	got := tw.graph("GET", appsPath+"/"+id+"?$expand=assignments", nil)
	if as := got.body["assignments"].([]any); len(as) != 1 || as[0].(map[string]any)["intent"] != "uninstall" {
		t.Fatalf("after a second assign %s", got.raw)
	}

	bad := func(items ...any) map[string]any { return map[string]any{"mobileAppAssignments": items} }
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no parameter", map[string]any{}, "The parameter 'mobileAppAssignments' is required"},
		{"not a collection", map[string]any{"mobileAppAssignments": "all"}, "must be a collection"},
		{"unknown intent", bad(appAssignment("mandatory", target(world.AllDevicesTarget, ""))), "Requested value 'mandatory' was not found"},
		{"no intent", bad(map[string]any{"target": target(world.AllDevicesTarget, "")}), "'intent' is required"},
		{"no target", bad(map[string]any{"intent": "required"}), "must have a target"},
		{"unknown target type", bad(appAssignment("required", target("#microsoft.graph.configurationManagerCollectionAssignmentTarget", ""))), "Unsupported assignment target type"},
		{"group id not a GUID", bad(appAssignment("required", target(world.GroupTarget, "mobile-users"))), "'mobile-users' of target type '#microsoft.graph.groupAssignmentTarget' is not a GUID"},
		{"group target without group", bad(appAssignment("required", target(world.GroupTarget, ""))), "is not a GUID"},
		{"same target twice", bad(appAssignment("required", target(world.GroupTarget, g1)), appAssignment("available", target(world.GroupTarget, g1))),
			"for group " + g1 + " is assigned twice"},
		{"all devices twice", bad(appAssignment("required", target(world.AllDevicesTarget, "")), appAssignment("required", target(world.AllDevicesTarget, ""))), "assigned twice"},
		{"wrong item type", bad(map[string]any{"@odata.type": "#microsoft.graph.deviceCompliancePolicyAssignment", "intent": "required", "target": target(world.AllDevicesTarget, "")}),
			"expected '#microsoft.graph.mobileAppAssignment'"},
		{"unknown settings type", bad(map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, ""),
			"settings": map[string]any{"@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings"}}), "Unsupported assignment settings type"},
		{"android settings on v1.0", bad(map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, ""),
			"settings": map[string]any{"@odata.type": "#microsoft.graph.androidManagedStoreAppAssignmentSettings"}}), "in v1.0"},
		{"unknown settings property", bad(map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, ""),
			"settings": map[string]any{"@odata.type": "#microsoft.graph.iosStoreAppAssignmentSettings", "preventAutoAppUpdate": true}}), "'preventAutoAppUpdate' does not exist"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			expectGraphError(t, tw.graph("POST", assign, tc.body), 400, "BadRequest", tc.msg)
		})
	}
	expectGraphError(t, tw.graph("POST", appsPath+"/"+world.NewID()+"/assign", bad()), 404, "ResourceNotFound", "mobileApp")
	expectGraphError(t, tw.graph("GET", appsPath+"/"+world.NewID()+"/assignments", nil), 404, "ResourceNotFound", "mobileApp")

	t.Run("an app not published cannot be assigned", func(t *testing.T) {
		must(0, tw.admin.SetAppPublishingState(ctx, tid, id, world.PublishingProcessing))
		expectGraphError(t, tw.graph("POST", assign, bad()), 400, "BadRequest", "publishingState is 'processing'")
		must(0, tw.admin.SetAppPublishingState(ctx, tid, id, world.PublishingPublished))
		var e *simclient.Error
		if err := tw.admin.SetAppPublishingState(ctx, tid, id, "live"); !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("bad state: %v", err)
		}
	})
	t.Run("one call per assign, counted and visible to the admin API", func(t *testing.T) {
		if st := must(tw.admin.AppStats(ctx, tid)); st.AppAssigns != 2 || st.AppCreates != 1 {
			t.Fatalf("stats %+v", st)
		}
		apps := must(tw.admin.MobileApps(ctx, tid))
		if len(apps) != 1 || len(apps[0].Assignments) != 1 || apps[0].Assignments[0].Target.ODataType != world.AllDevicesTarget {
			t.Fatalf("admin view %+v", apps)
		}
		expectStatus(t, tw.graph("POST", assign, bad()), 200)
		if apps := must(tw.admin.MobileApps(ctx, tid)); len(apps[0].Assignments) != 0 {
			t.Fatalf("an empty assign keeps %+v", apps[0].Assignments)
		}
	})
	t.Run("delete takes the assignments", func(t *testing.T) {
		expectStatus(t, tw.graph("DELETE", appsPath+"/"+id, nil), 204)
		expectGraphError(t, tw.graph("GET", appsPath+"/"+id+"/assignments", nil), 404, "ResourceNotFound", id)
	})
}

// TestGraphManagedStoreApps: an androidManagedStoreApp comes from the Managed
// Google Play approval (admin API), is listed on beta with isof, shows as the base
// type on v1.0, and is assigned by id on v1.0 like any app.
func TestGraphManagedStoreApps(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	iosID := tw.createIOSApp("Protect iOS", "com.example.protect")
	app := must(tw.admin.ApproveManagedStoreAppWithPublisher(ctx, tid, "com.example.protect", "Protect Android", "Example Corp"))
	must(0, tw.admin.ApproveManagedStoreApp(ctx, tid, "com.example.second", "Second"))
	android := isof(world.AndroidManagedStoreAppType)

	t.Run("beta isof lists them with their Android properties", func(t *testing.T) {
		r := tw.beta("GET", appsPath+android+"&$expand=assignments", nil)
		expectStatus(t, r, 200)
		l := r.list()
		if len(l) != 2 || l[0]["id"] != app.ID || !strings.Contains(r.str("@odata.context"), "/beta/$metadata#") {
			t.Fatalf("beta list %s", r.raw)
		}
		m := l[0]
		for k, want := range map[string]any{"@odata.type": world.AndroidManagedStoreAppType, "displayName": "Protect Android",
			"publisher": "Example Corp", "packageId": "com.example.protect", "appIdentifier": "com.example.protect",
			"appStoreUrl": "https://play.google.com/store/apps/details?id=com.example.protect", "isPrivate": false,
			"isSystemApp": false, "publishingState": "published"} {
			if m[k] != want {
				t.Errorf("%s = %v, want %v", k, m[k], want)
			}
		}
		if m["assignments"] == nil {
			t.Errorf("not expanded: %v", m)
		}
		all, pages := tw.listAll(strings.TrimSuffix(tw.env[sim.EnvGraphURL], "/v1.0") + "/beta" + appsPath + android + "&$top=1")
		if pages != 2 || len(all) != 2 {
			t.Fatalf("paged beta isof: %d items in %d pages", len(all), pages)
		}
		r = tw.beta("GET", appsPath+isof(world.IOSStoreAppType), nil)
		if expectStatus(t, r, 200); len(r.list()) != 1 || r.list()[0]["id"] != iosID {
			t.Fatalf("beta isof iosStoreApp %s", r.raw)
		}
		r = tw.beta("GET", appsPath+"/graph.androidManagedStoreApp", nil)
		if expectStatus(t, r, 200); len(r.list()) != 2 {
			t.Fatalf("beta type cast %s", r.raw)
		}
		for _, f := range []string{"displayName eq 'Protect Android'", "isof('microsoft.graph.androidManagedStoreApp') and displayName eq 'x'", "isof(microsoft.graph.androidManagedStoreApp)"} {
			expectGraphError(t, tw.beta("GET", appsPath+"?$filter="+url.QueryEscape(f), nil), 400, "BadRequest", "Invalid filter clause")
		}
		expectGraphError(t, tw.beta("GET", appsPath+isof("microsoft.graph.win32LobApp"), nil), 400, "BadRequest", "not a mobileApp type of beta")
	})
	t.Run("v1.0 shows the base type without packageId", func(t *testing.T) {
		for _, r := range []*resp{tw.graph("GET", appsPath+"/"+app.ID, nil), tw.graph("GET", appsPath, nil)} {
			expectStatus(t, r, 200)
			v := r.body
			if l := r.list(); len(l) > 0 {
				i := slices.IndexFunc(l, func(m map[string]any) bool { return m["id"] == app.ID })
				if len(l) != 3 || i < 0 {
					t.Fatalf("v1.0 list %s", r.raw)
				}
				v = l[i]
			}
			if v["@odata.type"] != "#microsoft.graph.mobileApp" || v["displayName"] != "Protect Android" || v["publishingState"] != "published" {
				t.Fatalf("v1.0 view %v", v)
			}
			for _, k := range []string{"packageId", "appIdentifier", "appStoreUrl", "isPrivate"} {
				if _, ok := v[k]; ok {
					t.Errorf("v1.0 view has %s", k)
				}
			}
		}
		expectGraphError(t, tw.graph("GET", appsPath+isof(world.AndroidManagedStoreAppType), nil), 400, "BadRequest", "not a mobileApp type of v1.0")
		expectGraphError(t, tw.graph("GET", appsPath+"/graph.androidManagedStoreApp", nil), 404, "ResourceNotFound", "graph.androidManagedStoreApp")
		r := tw.beta("GET", appsPath+"/"+app.ID, nil)
		if expectStatus(t, r, 200); r.str("packageId") != "com.example.protect" {
			t.Fatalf("beta get %s", r.raw)
		}
	})
	t.Run("not created nor changed through Graph", func(t *testing.T) {
		body := map[string]any{"@odata.type": world.AndroidManagedStoreAppType, "displayName": "x", "packageId": "com.example.x"}
		expectGraphError(t, tw.beta("POST", appsPath, body), 400, "BadRequest", "Managed Google Play")
		expectGraphError(t, tw.graph("PATCH", appsPath+"/"+app.ID, map[string]any{"@odata.type": "#microsoft.graph.mobileApp", "displayName": "y"}), 400, "BadRequest", "Managed Google Play owns it")
		expectGraphError(t, tw.beta("PATCH", appsPath+"/"+app.ID, map[string]any{"@odata.type": world.AndroidManagedStoreAppType, "displayName": "y"}), 400, "BadRequest", "Managed Google Play owns it")
		expectGraphError(t, tw.graph("PATCH", appsPath+"/"+app.ID, map[string]any{"@odata.type": world.AndroidManagedStoreAppType}), 400, "BadRequest", "does not match")
	})
	t.Run("assigned by id on v1.0, with Android settings only on beta", func(t *testing.T) {
		one := map[string]any{"mobileAppAssignments": []any{appAssignment("required", target(world.GroupTarget, world.NewID()))}}
		expectStatus(t, tw.graph("POST", appsPath+"/"+app.ID+"/assign", one), 200)
		r := tw.beta("GET", appsPath+android+"&$expand=assignments", nil)
		if as := r.list()[0]["assignments"].([]any); len(as) != 1 || r.list()[0]["isAssigned"] != true {
			t.Fatalf("beta after assign %s", r.raw)
		}
		withSettings := map[string]any{"mobileAppAssignments": []any{map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, ""),
			"settings": map[string]any{"@odata.type": "#microsoft.graph.androidManagedStoreAppAssignmentSettings", "autoUpdateMode": "priority"}}}}
		expectGraphError(t, tw.graph("POST", appsPath+"/"+app.ID+"/assign", withSettings), 400, "BadRequest", "in v1.0")
		expectStatus(t, tw.beta("POST", appsPath+"/"+app.ID+"/assign", withSettings), 200)
		iosSettings := map[string]any{"mobileAppAssignments": []any{map[string]any{"intent": "required", "target": target(world.AllDevicesTarget, ""),
			"settings": map[string]any{"@odata.type": "#microsoft.graph.iosStoreAppAssignmentSettings"}}}}
		expectGraphError(t, tw.beta("POST", appsPath+"/"+app.ID+"/assign", iosSettings), 400, "BadRequest", "do not apply to a microsoft.graph.androidManagedStoreApp")
	})
	t.Run("approved again, removed", func(t *testing.T) {
		again := must(tw.admin.ApproveManagedStoreAppWithPublisher(ctx, tid, "com.example.protect", "Protect", "Example Corp"))
		if again.ID != app.ID || again.DisplayName != "Protect" || len(again.Assignments) != 1 {
			t.Fatalf("re-approved %+v", again)
		}
		var e *simclient.Error
		for name, err := range map[string]error{
			"not a package id": tw.admin.ApproveManagedStoreApp(ctx, tid, "protect", "Protect"),
			"no displayName":   tw.admin.ApproveManagedStoreApp(ctx, tid, "com.example.third", ""),
		} {
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Errorf("%s: %v", name, err)
			}
		}
		must(0, tw.admin.RemoveManagedStoreApp(ctx, tid, "com.example.protect"))
		expectGraphError(t, tw.graph("GET", appsPath+"/"+app.ID, nil), 404, "ResourceNotFound", app.ID)
		if err := tw.admin.RemoveManagedStoreApp(ctx, tid, "com.example.protect"); !errors.As(err, &e) || e.Status != 404 {
			t.Fatalf("second removal: %v", err)
		}
		if r := tw.beta("GET", appsPath+android, nil); len(r.list()) != 1 {
			t.Fatalf("after removal %s", r.raw)
		}
		if st := must(tw.admin.AppStats(ctx, tid)); st.AppCreates != 1 || st.AppAssigns != 2 || st.AppDeletes != 0 {
			t.Fatalf("stats count Graph calls only: %+v", st)
		}
	})
}

// TestGraphAppPermissions: the app routes need DeviceManagementApps roles (read
// for GETs, read-write for writes); detectedApps the managed devices' roles.
func TestGraphAppPermissions(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	ro := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{world.RoleAppsRead}}))
	roToken := tw.secretToken(ro.ClientID, ro.Secret)
	g := tw.env[sim.EnvGraphURL]
	expectStatus(t, tw.call("GET", g+iosAppsPath, roToken, nil), 200)
	expectStatus(t, tw.call("GET", g+appConfigsPath, roToken, nil), 200)
	expectGraphError(t, tw.call("POST", g+appsPath, roToken, iosAppBody("x", "com.example.x")), 403, "Forbidden", world.RoleAppsReadWrite)
	expectGraphError(t, tw.call("POST", g+appConfigsPath+"/x/assign", roToken, map[string]any{}), 403, "Forbidden", world.RoleAppsReadWrite)
	expectGraphError(t, tw.call("GET", g+detectedAppsPath, roToken, nil), 403, "Forbidden", world.RoleDevicesRead)
	if !slices.Contains(world.OperatorRoles, world.RoleAppsReadWrite) {
		t.Fatalf("the default app cannot manage apps: %v", world.OperatorRoles)
	}
}

// TestAppsConcurrentUse creates, assigns and installs from many goroutines
// (run with -race): every write lands once and is counted once.
func TestAppsConcurrentUse(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	devs := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "c", Platform: world.IOS, OSVersion: "17", Count: 8})).Devices
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			r := tw.graph("POST", appsPath, iosAppBody("App", "com.example.app"+string(rune('a'+i))))
			if r.status != 201 {
				t.Errorf("create %d %s", r.status, r.raw)
				return
			}
			if r := tw.graph("POST", appsPath+"/"+r.str("id")+"/assign", map[string]any{"mobileAppAssignments": []any{
				appAssignment("required", target(world.AllDevicesTarget, ""))}}); r.status != 200 {
				t.Errorf("assign %d %s", r.status, r.raw)
			}
			if err := tw.admin.InstallApp(ctx, tid, d.IntuneID, "com.example.shared", "1.0"); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if r := tw.graph("GET", detectedAppsPath, nil); r.status != 200 {
				t.Errorf("detectedApps %d", r.status)
			}
			if r := tw.graph("GET", iosAppsPath+"?$expand=assignments", nil); r.status != 200 {
				t.Errorf("apps %d", r.status)
			}
		})
	}
	wg.Wait()
	if st := must(tw.admin.AppStats(ctx, tid)); st.AppCreates != len(devs) || st.AppAssigns != len(devs) {
		t.Fatalf("stats %+v", st)
	}
	r := tw.graph("GET", detectedAppsPath, nil)
	if l := r.list(); len(l) != 1 || l[0]["deviceCount"].(float64) != float64(len(devs)) {
		t.Fatalf("detected %s", r.raw)
	}
}
