package intune_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	simgraph "github.com/mtd-operator/mtd-operator/internal/sim/graph"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Graph's app routes, as the recorder keys them ("METHOD path").
const (
	pathApps           = "/v1.0/deviceAppManagement/mobileApps"
	pathIOSStoreApps   = pathApps + "/graph.iosStoreApp"
	pathBetaApps       = "/beta/deviceAppManagement/mobileApps"
	pathAppConfigs     = "/v1.0/deviceAppManagement/mobileAppConfigurations"
	pathDetectedApps   = "/v1.0/deviceManagement/detectedApps"
	sampleBundleID     = "com.blackberry.protect.sample"
	sampleAppStoreURL  = "https://apps.apple.com/us/app/blackberry-protect-sample/id0000000000"
	samplePlayStoreURL = "https://play.google.com/store/apps/details?id=" + sampleBundleID
)

// requests counts the requests of key that went on the wire (retries included).
func (r *recorder) requests(key string) int { return len(r.queried(key)) }

// sentJSON decodes the last body sent to key.
func sentJSON(t *testing.T, rec *recorder, key string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(rec.last(key)), &m); err != nil {
		t.Fatalf("%s body %q: %v", key, rec.last(key), err)
	}
	return m
}

func group(t *testing.T, name string) string {
	t.Helper()
	g, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: name})
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}

func sampleIOSApp() intune.StoreApp {
	return intune.StoreApp{DisplayName: "BlackBerry Protect (sample)", Publisher: "BlackBerry", Description: "Mobile Threat Defense",
		BundleID: sampleBundleID, AppStoreURL: sampleAppStoreURL, MinimumOS: "13.0"}
}

func createIOSApp(t *testing.T, c intune.Client) *intune.StoreApp {
	t.Helper()
	a, err := c.CreateIOSStoreApp(ctx, sampleIOSApp())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sortedAssignments orders assignments by target, so that sets compare.
func sortedAssignments(as []intune.AppAssignment) []intune.AppAssignment {
	out := slices.Clone(as)
	slices.SortFunc(out, func(a, b intune.AppAssignment) int {
		return strings.Compare(string(a.Target.Kind)+a.Target.GroupID+string(a.Intent), string(b.Target.Kind)+b.Target.GroupID+string(b.Intent))
	})
	return out
}

func sortedTargets(ts []intune.AssignmentTarget) []intune.AssignmentTarget {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b intune.AssignmentTarget) int {
		return strings.Compare(string(a.Kind)+a.GroupID, string(b.Kind)+b.GroupID)
	})
	return out
}

// TestIOSStoreAppLifecycle: create, list through the type cast, get, patch, assign
// (replacing the set, one call each), delete, through msgraph-sdk-go against the twin.
func TestIOSStoreAppLifecycle(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	g1, g2 := group(t, "Protect pilot"), group(t, "Protect opt-out")

	created := createIOSApp(t, c)
	if created.ID == "" || created.Type != intune.AppIOSStore || created.PublishingState != "published" ||
		created.MinimumOS != "13.0" || created.BundleID != sampleBundleID || created.DisplayName != sampleIOSApp().DisplayName {
		t.Fatalf("created = %+v", created)
	}
	sent := sentJSON(t, rec, "POST "+pathApps)
	minOS, _ := sent["minimumSupportedOperatingSystem"].(map[string]any)
	if sent["@odata.type"] != string(intune.AppIOSStore) || minOS["v13_0"] != true || minOS["v12_0"] != false || minOS["v14_0"] != false ||
		!reflect.DeepEqual(sent["applicableDeviceType"], map[string]any{"iPad": true, "iPhoneAndIPod": true}) ||
		sent["bundleId"] != sampleBundleID || sent["appStoreUrl"] != sampleAppStoreURL || sent["id"] != nil || sent["assignments"] != nil {
		t.Fatalf("POST body = %v", sent)
	}
	if n := rec.requests("POST " + pathApps); n != 1 {
		t.Fatalf("create made %d POSTs", n)
	}

	// A managed store app exists too: the iOS cast leaves it out.
	if err := admin.ApproveManagedStoreApp(ctx, tenant(), sampleBundleID, "BlackBerry Protect (sample)"); err != nil {
		t.Fatal(err)
	}

	get := func() *intune.StoreApp {
		t.Helper()
		key := "GET " + pathApps + "/" + created.ID
		before := rec.requests(key)
		a, err := c.GetStoreApp(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := rec.requests(key) - before; n != 1 {
			t.Fatalf("GetStoreApp made %d GETs", n)
		}
		if q := rec.queried(key); q[len(q)-1].Get("$expand") != "assignments" {
			t.Fatalf("GetStoreApp query = %v", q[len(q)-1])
		}
		return a
	}
	a := get()
	want := *created
	if !reflect.DeepEqual(*a, want) {
		t.Fatalf("read back\n got %+v\nwant %+v", *a, want)
	}

	list, err := c.ListStoreApps(ctx, intune.AppIOSStore)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("list = %+v", list)
	}
	if qs := rec.queried("GET " + pathIOSStoreApps); len(qs) != 1 || qs[0].Get("$expand") != "assignments" {
		t.Fatalf("list queries = %v, want one GET with $expand=assignments", qs)
	}

	// Patch: the five fields, with the type; never the bundle id.
	upd := sampleIOSApp()
	upd.DisplayName, upd.Description, upd.MinimumOS, upd.AppStoreURL = "BlackBerry Protect v2", "", "14.0", sampleAppStoreURL+"?l=en"
	upd.BundleID = "com.example.other"
	if err := c.PatchIOSStoreApp(ctx, created.ID, upd); err != nil {
		t.Fatal(err)
	}
	sent = sentJSON(t, rec, "PATCH "+pathApps+"/"+created.ID)
	if sent["@odata.type"] != string(intune.AppIOSStore) || sent["bundleId"] != nil || sent["description"] != "" {
		t.Fatalf("PATCH body = %v", sent)
	}
	a = get()
	want.DisplayName, want.Description, want.MinimumOS, want.AppStoreURL = upd.DisplayName, "", "14.0", upd.AppStoreURL
	if !reflect.DeepEqual(*a, want) {
		t.Fatalf("patched\n got %+v\nwant %+v", *a, want)
	}

	// Assign replaces the whole set, one POST each time.
	assignKey := "POST " + pathApps + "/" + created.ID + "/assign"
	for i, set := range [][]intune.AppAssignment{
		{
			{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetGroup, GroupID: g1}},
			{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetExclusionGroup, GroupID: g2}},
			{Intent: intune.AppAvailable, Target: intune.AssignmentTarget{Kind: intune.TargetAllLicensedUsers}},
		},
		{{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetAllDevices}}},
		nil,
	} {
		if err := c.AssignStoreApp(ctx, created.ID, set); err != nil {
			t.Fatal(err)
		}
		if n := rec.requests(assignKey); n != i+1 {
			t.Fatalf("assign %d made %d POSTs in all", i, n)
		}
		if got := get().Assignments; !reflect.DeepEqual(sortedAssignments(got), sortedAssignments(set)) {
			t.Fatalf("assignments after assign %d = %+v, want %+v", i, got, set)
		}
	}
	body := sentJSON(t, rec, assignKey)
	if as, ok := body["mobileAppAssignments"].([]any); !ok || len(as) != 0 {
		t.Fatalf("clearing assign body = %v", body)
	}
	// The list expands assignments too.
	set := []intune.AppAssignment{{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetGroup, GroupID: g1}}}
	if err := c.AssignStoreApp(ctx, created.ID, set); err != nil {
		t.Fatal(err)
	}
	if list, err = c.ListStoreApps(ctx, intune.AppIOSStore); err != nil || len(list) != 1 || !reflect.DeepEqual(list[0].Assignments, set) {
		t.Fatalf("list after assign = %+v, %v", list, err)
	}

	// What the client refuses, before any call; what the twin refuses.
	before := rec.requests(assignKey)
	err = c.AssignStoreApp(ctx, created.ID, []intune.AppAssignment{{Intent: "install", Target: intune.AssignmentTarget{Kind: intune.TargetAllDevices}}})
	asOutbound(t, err, outbound.Terminal)
	if rec.requests(assignKey) != before {
		t.Fatal("an unknown intent was sent")
	}
	err = c.AssignStoreApp(ctx, created.ID, []intune.AppAssignment{{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetGroup, GroupID: "not-a-guid"}}})
	if e := asOutbound(t, err, outbound.Terminal); e.StatusCode != 400 || e.Operation != "AssignStoreApp" {
		t.Fatalf("bad group id = %+v", e)
	}
	if rec.requests(assignKey) != before+1 {
		t.Fatal("a refused assign was retried")
	}
	bad := sampleIOSApp()
	bad.MinimumOS = "16.0" // Graph v1.0 has no flag for it
	_, err = c.CreateIOSStoreApp(ctx, bad)
	asOutbound(t, err, outbound.Terminal)
	bad = sampleIOSApp()
	bad.AppStoreURL = "http://apps.apple.com/app/id1"
	_, err = c.CreateIOSStoreApp(ctx, bad)
	if e := asOutbound(t, err, outbound.Terminal); e.StatusCode != 400 {
		t.Fatalf("http store URL = %+v", e)
	}
	if n := rec.requests("POST " + pathApps); n != 2 {
		t.Fatalf("creates sent = %d, want 2 (the first and the one with an http URL)", n)
	}

	// Delete; then the app is gone for every call.
	if err := c.DeleteStoreApp(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetStoreApp(ctx, created.ID)
	if e := asOutbound(t, err, outbound.NotFound); e.StatusCode != 404 || e.Operation != "GetStoreApp" {
		t.Fatalf("deleted = %+v", e)
	}
	asOutbound(t, c.DeleteStoreApp(ctx, created.ID), outbound.NotFound)
	asOutbound(t, c.AssignStoreApp(ctx, created.ID, set), outbound.NotFound)
	asOutbound(t, c.PatchIOSStoreApp(ctx, created.ID, upd), outbound.NotFound)
	if list, err = c.ListStoreApps(ctx, intune.AppIOSStore); err != nil || len(list) != 0 {
		t.Fatalf("list after delete = %+v, %v", list, err)
	}
	_, err = c.ListStoreApps(ctx, "#microsoft.graph.win32LobApp")
	asOutbound(t, err, outbound.Terminal)
}

// TestManagedStoreApps: Managed Google Play apps are listed on Graph beta by type (v1.0
// has no such type), parsed with their package id; a read by id goes to v1.0 first,
// which shows the base type, then to beta; assign and delete stay on v1.0.
func TestManagedStoreApps(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	ios := createIOSApp(t, c) // of another type: the beta list leaves it out
	if err := admin.ApproveManagedStoreApp(ctx, tenant(), sampleBundleID, "BlackBerry Protect (sample)"); err != nil {
		t.Fatal(err)
	}

	list, err := c.ListStoreApps(ctx, intune.AppAndroidManagedStore)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("list = %+v", list)
	}
	a := list[0]
	if a.ID == "" || a.ID == ios.ID || a.Type != intune.AppAndroidManagedStore || a.BundleID != sampleBundleID ||
		a.AppStoreURL != samplePlayStoreURL || a.DisplayName != "BlackBerry Protect (sample)" || a.PublishingState != "published" ||
		a.MinimumOS != "" || len(a.Assignments) != 0 {
		t.Fatalf("managed store app = %+v", a)
	}
	qs := rec.queried("GET " + pathBetaApps)
	if len(qs) != 1 || qs[0].Get("$filter") != "isof('microsoft.graph.androidManagedStoreApp')" || qs[0].Get("$expand") != "assignments" {
		t.Fatalf("beta list queries = %v", qs)
	}
	if n := rec.requests("GET " + pathApps); n != 0 {
		t.Fatalf("the managed store list made %d v1.0 GETs", n)
	}

	// Assign on v1.0; the read by id falls back to beta, where the package id is.
	g := group(t, "Android Enterprise")
	set := []intune.AppAssignment{
		{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetGroup, GroupID: g}},
		{Intent: intune.AppAvailable, Target: intune.AssignmentTarget{Kind: intune.TargetAllDevices}},
	}
	if err := c.AssignStoreApp(ctx, a.ID, set); err != nil {
		t.Fatal(err)
	}
	if n := rec.requests("POST " + pathApps + "/" + a.ID + "/assign"); n != 1 {
		t.Fatalf("v1.0 assign POSTs = %d", n)
	}
	got, err := c.GetStoreApp(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sortedAssignments(got.Assignments), sortedAssignments(set)) {
		t.Fatalf("assignments read by id = %+v, want %+v", got.Assignments, set)
	}
	got.Assignments = nil
	if want := a; !reflect.DeepEqual(*got, want) {
		t.Fatalf("read by id\n got %+v\nwant %+v", *got, want)
	}
	v1 := rec.answered("GET " + pathApps + "/" + a.ID)
	beta := rec.answered("GET " + pathBetaApps + "/" + a.ID)
	if len(v1) != 1 || len(beta) != 1 {
		t.Fatalf("v1.0 answers %d, beta answers %d, want one each", len(v1), len(beta))
	}
	var v1Body map[string]any
	if err := json.Unmarshal([]byte(v1[0]), &v1Body); err != nil {
		t.Fatal(err)
	}
	if v1Body["@odata.type"] != "#microsoft.graph.mobileApp" || v1Body["packageId"] != nil {
		t.Fatalf("v1.0 view = %v", v1Body)
	}
	if q := rec.queried("GET " + pathBetaApps + "/" + a.ID); q[0].Get("$expand") != "assignments" {
		t.Fatalf("beta read query = %v", q[0])
	}
	if list, err = c.ListStoreApps(ctx, intune.AppAndroidManagedStore); err != nil || len(list) != 1 ||
		!reflect.DeepEqual(sortedAssignments(list[0].Assignments), sortedAssignments(set)) {
		t.Fatalf("list after assign = %+v, %v", list, err)
	}

	// An iOS app read by id needs no second read.
	if got, err := c.GetStoreApp(ctx, ios.ID); err != nil || got.Type != intune.AppIOSStore {
		t.Fatalf("iOS app = %+v, %v", got, err)
	}
	if n := rec.requests("GET " + pathBetaApps + "/" + ios.ID); n != 0 {
		t.Fatal("an iOS app was read on beta")
	}

	// Paging: more apps than a page holds.
	for i := range managedStoreAppsForPaging {
		if err := admin.ApproveManagedStoreApp(ctx, tenant(), fmt.Sprintf("com.example.app%d", i), fmt.Sprintf("App %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	before := rec.requests("GET " + pathBetaApps)
	if list, err = c.ListStoreApps(ctx, intune.AppAndroidManagedStore); err != nil || len(list) != managedStoreAppsForPaging+1 {
		t.Fatalf("paged list = %d apps, %v", len(list), err)
	}
	ids := map[string]bool{}
	for _, x := range list {
		ids[x.ID] = true
		if x.Type != intune.AppAndroidManagedStore || x.BundleID == "" {
			t.Fatalf("paged entry %+v", x)
		}
	}
	if len(ids) != len(list) {
		t.Fatalf("paged list has %d distinct apps of %d", len(ids), len(list))
	}
	pages := rec.queried("GET " + pathBetaApps)[before:]
	if len(pages) < 2 {
		t.Fatalf("paged list took %d GETs", len(pages))
	}
	for _, q := range pages[1:] {
		if q.Get("$filter") == "" || q.Get("$skiptoken") == "" {
			t.Fatalf("next page query %v does not repeat the filter", q)
		}
	}

	// Delete on v1.0, which serves it for every type.
	if err := c.DeleteStoreApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n := rec.requests("DELETE " + pathApps + "/" + a.ID); n != 1 {
		t.Fatalf("v1.0 DELETEs = %d", n)
	}
	_, err = c.GetStoreApp(ctx, a.ID)
	asOutbound(t, err, outbound.NotFound)
}

// managedStoreAppsForPaging is more than one page of the twin's mobile apps.
const managedStoreAppsForPaging = simgraph.AppPageSize + 20

func protectConfiguration(appID string) intune.AppConfiguration {
	return intune.AppConfiguration{
		DisplayName: "BlackBerry Protect (sample) settings", Description: "managed by mtd-operator",
		TargetedAppIDs: []string{appID},
		Settings: []intune.AppConfigSetting{
			{Key: "tenantId", Type: intune.AppConfigString, Value: "contoso"},
			{Key: "syncMinutes", Type: intune.AppConfigInteger, Value: "15"},
			{Key: "riskRatio", Type: intune.AppConfigReal, Value: "0.75"},
			{Key: "strict", Type: intune.AppConfigBoolean, Value: "true"},
			{Key: "userPrincipalName", Type: intune.AppConfigToken, Value: "{{userprincipalname}}"},
		},
	}
}

func TestAppConfigurationLifecycle(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	app := createIOSApp(t, c)
	g1, g2 := group(t, "Protect pilot"), group(t, "Protect opt-out")

	in := protectConfiguration(app.ID)
	created, err := c.CreateAppConfiguration(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.ID, want.Version = created.ID, 1
	if created.ID == "" || !reflect.DeepEqual(*created, want) {
		t.Fatalf("created\n got %+v\nwant %+v", *created, want)
	}
	sent := sentJSON(t, rec, "POST "+pathAppConfigs)
	settings, _ := sent["settings"].([]any)
	if sent["@odata.type"] != "#microsoft.graph.iosMobileAppConfiguration" || len(settings) != 5 ||
		!reflect.DeepEqual(sent["targetedMobileApps"], []any{app.ID}) || sent["encodedSettingXml"] != nil {
		t.Fatalf("POST body = %v", sent)
	}
	if s, _ := settings[1].(map[string]any); s["appConfigKey"] != "syncMinutes" || s["appConfigKeyType"] != "integerType" || s["appConfigKeyValue"] != "15" {
		t.Fatalf("setting sent = %v", settings[1])
	}

	get := func() *intune.AppConfiguration {
		t.Helper()
		key := "GET " + pathAppConfigs + "/" + created.ID
		before := rec.requests(key)
		cfg, err := c.GetAppConfiguration(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := rec.requests(key) - before; n != 1 {
			t.Fatalf("GetAppConfiguration made %d GETs", n)
		}
		return cfg
	}
	if got := get(); !reflect.DeepEqual(*got, want) {
		t.Fatalf("read back\n got %+v\nwant %+v", *got, want)
	}
	list, err := c.ListAppConfigurations(ctx)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if qs := rec.queried("GET " + pathAppConfigs); len(qs) != 1 || qs[0].Get("$expand") != "assignments" {
		t.Fatalf("list queries = %v", qs)
	}

	// Patch replaces the settings whole and bumps the version.
	upd := want
	upd.DisplayName, upd.Description = "Protect settings v2", ""
	upd.Settings = []intune.AppConfigSetting{{Key: "syncMinutes", Type: intune.AppConfigInteger, Value: "30"}, {Key: "strict", Type: intune.AppConfigBoolean, Value: "false"}}
	if err := c.PatchAppConfiguration(ctx, created.ID, upd); err != nil {
		t.Fatal(err)
	}
	sent = sentJSON(t, rec, "PATCH "+pathAppConfigs+"/"+created.ID)
	if sent["@odata.type"] != "#microsoft.graph.iosMobileAppConfiguration" || sent["description"] != "" {
		t.Fatalf("PATCH body = %v", sent)
	}
	upd.Version = 2
	if got := get(); !reflect.DeepEqual(*got, upd) {
		t.Fatalf("patched\n got %+v\nwant %+v", *got, upd)
	}

	// Assign replaces the set, one POST each.
	assignKey := "POST " + pathAppConfigs + "/" + created.ID + "/assign"
	for i, set := range [][]intune.AssignmentTarget{
		{{Kind: intune.TargetGroup, GroupID: g1}, {Kind: intune.TargetExclusionGroup, GroupID: g2}},
		{{Kind: intune.TargetAllDevices}},
		nil,
	} {
		if err := c.AssignAppConfiguration(ctx, created.ID, set); err != nil {
			t.Fatal(err)
		}
		if n := rec.requests(assignKey); n != i+1 {
			t.Fatalf("assign %d made %d POSTs in all", i, n)
		}
		if got := get().Assignments; !reflect.DeepEqual(sortedTargets(got), sortedTargets(set)) {
			t.Fatalf("assignments after assign %d = %+v, want %+v", i, got, set)
		}
	}
	if err := c.AssignAppConfiguration(ctx, created.ID, []intune.AssignmentTarget{{Kind: intune.TargetAllLicensedUsers}}); err != nil {
		t.Fatal(err)
	}
	if list, err = c.ListAppConfigurations(ctx); err != nil || len(list) != 1 ||
		!reflect.DeepEqual(list[0].Assignments, []intune.AssignmentTarget{{Kind: intune.TargetAllLicensedUsers}}) {
		t.Fatalf("list after assign = %+v, %v", list, err)
	}

	// The twin's validation, as Graph's: 400s, not retried.
	for name, mod := range map[string]func(*intune.AppConfiguration){
		"integer": func(c *intune.AppConfiguration) {
			c.Settings = []intune.AppConfigSetting{{Key: "n", Type: intune.AppConfigInteger, Value: "fifteen"}}
		},
		"boolean": func(c *intune.AppConfiguration) {
			c.Settings = []intune.AppConfigSetting{{Key: "b", Type: intune.AppConfigBoolean, Value: "yes"}}
		},
		"real": func(c *intune.AppConfiguration) {
			c.Settings = []intune.AppConfigSetting{{Key: "r", Type: intune.AppConfigReal, Value: "x"}}
		},
		"duplicate key": func(c *intune.AppConfiguration) { c.Settings = append(c.Settings, c.Settings[0]) },
		"unknown app":   func(c *intune.AppConfiguration) { c.TargetedAppIDs = []string{"00000000-0000-0000-0000-000000000000"} },
		"no name":       func(c *intune.AppConfiguration) { c.DisplayName = "" },
	} {
		cfg := protectConfiguration(app.ID)
		mod(&cfg)
		_, err := c.CreateAppConfiguration(ctx, cfg)
		if e := asOutbound(t, err, outbound.Terminal); e.StatusCode != 400 {
			t.Errorf("%s: %+v", name, e)
		}
	}
	before := rec.requests("POST " + pathAppConfigs)
	cfg := protectConfiguration(app.ID)
	cfg.Settings = []intune.AppConfigSetting{{Key: "d", Type: "dateType", Value: "2026-01-01"}}
	_, err = c.CreateAppConfiguration(ctx, cfg)
	asOutbound(t, err, outbound.Terminal)
	if rec.requests("POST "+pathAppConfigs) != before {
		t.Fatal("an unknown key type was sent")
	}
	if list, err = c.ListAppConfigurations(ctx); err != nil || len(list) != 1 {
		t.Fatalf("a refused create was stored: %+v, %v", list, err)
	}

	if err := c.DeleteAppConfiguration(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAppConfiguration(ctx, created.ID)
	asOutbound(t, err, outbound.NotFound)
	asOutbound(t, c.DeleteAppConfiguration(ctx, created.ID), outbound.NotFound)
	asOutbound(t, c.AssignAppConfiguration(ctx, created.ID, nil), outbound.NotFound)
	asOutbound(t, c.PatchAppConfiguration(ctx, created.ID, upd), outbound.NotFound)
}

// TestDetectedApps: which devices report an app, across pages.
func TestDetectedApps(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	phones := enrol(t, 3, adminapi.Device{DeviceName: "iphone", Platform: "iOS", OSVersion: "17.4"})
	androids := enrol(t, 2, adminapi.Device{DeviceName: "pixel", Platform: "Android", OSVersion: "14", Enrollment: "fullyManaged"})
	install := func(d adminapi.DeviceView, app, version string) {
		t.Helper()
		if err := admin.InstallApp(ctx, tenant(), d.IntuneID, app, version); err != nil {
			t.Fatal(err)
		}
	}
	install(phones[0], sampleBundleID, "1.0")
	install(phones[1], sampleBundleID, "1.0")
	install(phones[2], sampleBundleID, "1.1") // another version: another entry
	for _, d := range androids {
		install(d, sampleBundleID, "1.0") // another platform: another entry
	}

	find := func(apps []intune.DetectedApp, version, platform string) *intune.DetectedApp {
		for i, a := range apps {
			if a.DisplayName == sampleBundleID && a.Version == version && a.Platform == platform {
				return &apps[i]
			}
		}
		return nil
	}
	apps, err := c.ListDetectedApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ios10, ios11, android := find(apps, "1.0", "ios"), find(apps, "1.1", "ios"), find(apps, "1.0", "androidDedicatedAndFullyManaged")
	if ios10 == nil || ios11 == nil || android == nil || len(apps) != 3 {
		t.Fatalf("detected apps = %+v", apps)
	}
	if ios10.ID == "" || ios10.DeviceCount != 2 || ios11.DeviceCount != 1 || android.DeviceCount != 2 {
		t.Fatalf("counts: %+v %+v %+v", ios10, ios11, android)
	}
	devices := func(id string) []string {
		t.Helper()
		ids, err := c.DetectedAppDevices(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	ids := func(ds ...adminapi.DeviceView) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.IntuneID)
		}
		slices.Sort(out)
		return out
	}
	if got := devices(ios10.ID); !reflect.DeepEqual(got, ids(phones[0], phones[1])) {
		t.Fatalf("devices with 1.0 = %v", got)
	}
	if got := devices(android.ID); !reflect.DeepEqual(got, ids(androids...)) {
		t.Fatalf("Android devices = %v", got)
	}
	key := "GET " + pathDetectedApps + "/" + ios10.ID + "/managedDevices"
	if qs := rec.queried(key); len(qs) != 1 || qs[0].Get("$select") != "id" {
		t.Fatalf("devices queries = %v", qs)
	}

	// Uninstalled: the next read no longer shows that device.
	if err := admin.UninstallApp(ctx, tenant(), phones[1].IntuneID, sampleBundleID); err != nil {
		t.Fatal(err)
	}
	if apps, err = c.ListDetectedApps(ctx); err != nil {
		t.Fatal(err)
	}
	if a := find(apps, "1.0", "ios"); a == nil || a.DeviceCount != 1 {
		t.Fatalf("after uninstall: %+v", a)
	} else if got := devices(a.ID); !reflect.DeepEqual(got, ids(phones[0])) {
		t.Fatalf("devices after uninstall = %v", got)
	}

	_, err = c.DetectedAppDevices(ctx, "no-such-app")
	if e := asOutbound(t, err, outbound.NotFound); e.Operation != "DetectedAppDevices" {
		t.Fatalf("unknown detected app = %+v", e)
	}

	// Every page: many apps on one phone.
	for i := range detectedAppsForPaging {
		install(phones[0], fmt.Sprintf("com.example.app%d", i), "2.0")
	}
	before := rec.requests("GET " + pathDetectedApps)
	if apps, err = c.ListDetectedApps(ctx); err != nil {
		t.Fatal(err)
	}
	if len(apps) != detectedAppsForPaging+3 {
		t.Fatalf("paged list = %d apps, want %d", len(apps), detectedAppsForPaging+3)
	}
	seen := map[string]bool{}
	for _, a := range apps {
		seen[a.ID] = true
	}
	if len(seen) != len(apps) {
		t.Fatalf("%d distinct ids among %d detected apps", len(seen), len(apps))
	}
	if n := rec.requests("GET "+pathDetectedApps) - before; n < 2 {
		t.Fatalf("paged list took %d GETs", n)
	}
}

// detectedAppsForPaging is more than one page of the twin's detected apps.
const detectedAppsForPaging = simgraph.AppPageSize + 20

// TestAppsForbiddenNamesThePermission: each app call names the Graph permission it
// needs.
func TestAppsForbiddenNamesThePermission(t *testing.T) {
	fresh(t)
	const guid = "00000000-0000-0000-0000-000000000001"
	limited := func(roles ...string) intune.Client {
		a := app(t, adminapi.App{Roles: roles})
		return newClient(t, func(cfg *intune.Config) {
			cfg.ClientID, cfg.Credential = a.ClientID, intune.Credential{ClientSecret: a.Secret}
		})
	}
	none := limited(world.RoleConfigRead)
	reader := limited("DeviceManagementApps.Read.All")
	if _, err := reader.ListStoreApps(ctx, intune.AppIOSStore); err != nil {
		t.Fatalf("a granted read failed: %v", err)
	}
	if _, err := reader.ListAppConfigurations(ctx); err != nil {
		t.Fatalf("a granted read failed: %v", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		perm string
	}{
		{"list iOS", func() error { _, err := none.ListStoreApps(ctx, intune.AppIOSStore); return err }, "DeviceManagementApps.Read.All"},
		{"list managed", func() error { _, err := none.ListStoreApps(ctx, intune.AppAndroidManagedStore); return err }, "DeviceManagementApps.Read.All"},
		{"get", func() error { _, err := none.GetStoreApp(ctx, guid); return err }, "DeviceManagementApps.Read.All"},
		{"create", func() error { _, err := reader.CreateIOSStoreApp(ctx, sampleIOSApp()); return err }, "DeviceManagementApps.ReadWrite.All"},
		{"patch", func() error { return reader.PatchIOSStoreApp(ctx, guid, sampleIOSApp()) }, "DeviceManagementApps.ReadWrite.All"},
		{"assign", func() error {
			return reader.AssignStoreApp(ctx, guid, []intune.AppAssignment{{Intent: intune.AppRequired, Target: intune.AssignmentTarget{Kind: intune.TargetAllDevices}}})
		}, "DeviceManagementApps.ReadWrite.All"},
		{"delete", func() error { return reader.DeleteStoreApp(ctx, guid) }, "DeviceManagementApps.ReadWrite.All"},
		{"list configurations", func() error { _, err := none.ListAppConfigurations(ctx); return err }, "DeviceManagementApps.Read.All"},
		{"get configuration", func() error { _, err := none.GetAppConfiguration(ctx, guid); return err }, "DeviceManagementApps.Read.All"},
		{"create configuration", func() error { _, err := reader.CreateAppConfiguration(ctx, protectConfiguration(guid)); return err }, "DeviceManagementApps.ReadWrite.All"},
		{"patch configuration", func() error { return reader.PatchAppConfiguration(ctx, guid, protectConfiguration(guid)) }, "DeviceManagementApps.ReadWrite.All"},
		{"assign configuration", func() error { return reader.AssignAppConfiguration(ctx, guid, nil) }, "DeviceManagementApps.ReadWrite.All"},
		{"delete configuration", func() error { return reader.DeleteAppConfiguration(ctx, guid) }, "DeviceManagementApps.ReadWrite.All"},
		{"detected apps", func() error { _, err := reader.ListDetectedApps(ctx); return err }, "DeviceManagementManagedDevices.Read.All"},
		{"detected app devices", func() error { _, err := reader.DetectedAppDevices(ctx, "x"); return err }, "DeviceManagementManagedDevices.Read.All"},
	} {
		err := tc.call()
		var e *outbound.Error
		if !errors.As(err, &e) || e.Kind != outbound.Forbidden || e.Permission != tc.perm || e.StatusCode != 403 ||
			!strings.Contains(err.Error(), "missing permission "+tc.perm) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
