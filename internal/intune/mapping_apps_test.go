package intune

import (
	"reflect"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/deviceappmanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// allIOSFlags is iosMinimumOperatingSystem with only the flag of version on true.
func allIOSFlags(on string) string {
	out := `{`
	for i, v := range []string{"v8_0", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0"} {
		if i > 0 {
			out += ","
		}
		val := "false"
		if v == on {
			val = "true"
		}
		out += `"` + v + `":` + val
	}
	return out + `}`
}

func TestMinimumOSToModel(t *testing.T) {
	for _, tc := range []struct{ in, flag string }{
		{"13.0", "v13_0"}, {"13", "v13_0"}, {"8.0", "v8_0"}, {"15.0", "v15_0"}, {" 10.0 ", "v10_0"},
	} {
		m, err := minimumOSToModel(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		sameJSON(t, serialize(t, m), allIOSFlags(tc.flag))
		if got := minimumOSFromModel(m); got != tc.in && got != tc.flag[1:len(tc.flag)-2]+".0" {
			t.Fatalf("%q read back as %q", tc.in, got)
		}
	}
	// Graph v1.0 has no flag for these.
	for _, in := range []string{"", "7.0", "16.0", "13.4", "thirteen", "13.0.0"} {
		if _, err := minimumOSToModel(in); err == nil {
			t.Errorf("%q was accepted", in)
		}
	}
}

func TestMinimumOSFromModel(t *testing.T) {
	for _, tc := range []struct{ wire, want string }{
		{`{"v13_0":true}`, "13.0"},
		{allIOSFlags("v9_0"), "9.0"},
		// Several true (not as documented): the lowest is the minimum.
		{`{"v14_0":true,"v12_0":true,"v15_0":true}`, "12.0"},
		// A flag msgraph-sdk-go does not model, as Graph beta sends it.
		{`{"v8_0":false,"v16_0":true}`, "16.0"},
		{`{"v17_0":true,"v15_0":true}`, "15.0"},
		{`{"v15_0":false,"v16_0":false}`, ""},
		{`{}`, ""},
	} {
		m := parse[models.IosMinimumOperatingSystemable](t, tc.wire, models.CreateIosMinimumOperatingSystemFromDiscriminatorValue)
		if got := minimumOSFromModel(m); got != tc.want {
			t.Errorf("%s read as %q, want %q", tc.wire, got, tc.want)
		}
	}
	if got := minimumOSFromModel(nil); got != "" {
		t.Fatalf("no minimum read as %q", got)
	}
}

func protectApp() StoreApp {
	return StoreApp{
		DisplayName: "BlackBerry Protect", Publisher: "BlackBerry", Description: "Mobile Threat Defense",
		BundleID: "com.blackberry.protect.sample", AppStoreURL: "https://apps.apple.com/app/id000000000", MinimumOS: "13.0",
	}
}

func TestIOSStoreAppToModel(t *testing.T) {
	m, err := iosStoreAppToModel(protectApp())
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosStoreApp","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","description":"Mobile Threat Defense","bundleId":"com.blackberry.protect.sample",
		"appStoreUrl":"https://apps.apple.com/app/id000000000","applicableDeviceType":{"iPad":true,"iPhoneAndIPod":true},
		"minimumSupportedOperatingSystem":`+allIOSFlags("v13_0")+`}`)

	// Server-set fields, assignments and an empty description are not sent.
	app := protectApp()
	app.ID, app.Description, app.PublishingState, app.Type = "x", "", "published", AppIOSStore
	app.Assignments = []AppAssignment{{Intent: AppRequired, Target: AssignmentTarget{Kind: TargetAllDevices}}}
	if m, err = iosStoreAppToModel(app); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosStoreApp","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","bundleId":"com.blackberry.protect.sample",
		"appStoreUrl":"https://apps.apple.com/app/id000000000","applicableDeviceType":{"iPad":true,"iPhoneAndIPod":true},
		"minimumSupportedOperatingSystem":`+allIOSFlags("v13_0")+`}`)

	app.MinimumOS = "16.0"
	if _, err := iosStoreAppToModel(app); err == nil {
		t.Fatal("a minimum Graph v1.0 cannot express was accepted")
	}
}

func TestIOSStoreAppPatchToModel(t *testing.T) {
	app := protectApp()
	app.Description, app.MinimumOS, app.BundleID = "", "14", "com.other"
	m, err := iosStoreAppPatchToModel(app)
	if err != nil {
		t.Fatal(err)
	}
	// bundleId is never patched; the empty description is sent to clear it.
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosStoreApp","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","description":"","appStoreUrl":"https://apps.apple.com/app/id000000000",
		"minimumSupportedOperatingSystem":`+allIOSFlags("v14_0")+`}`)
	app.MinimumOS = ""
	if m, err = iosStoreAppPatchToModel(app); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosStoreApp","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","description":"","appStoreUrl":"https://apps.apple.com/app/id000000000"}`)
}

const appAssignmentsWire = `[
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a1","intent":"required",
	 "target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"},
	 "settings":{"@odata.type":"#microsoft.graph.iosStoreAppAssignmentSettings","vpnConfigurationId":null}},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a2","intent":"available",
	 "target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"g-out"},"settings":null},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a3","intent":"uninstall",
	 "target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a4","intent":"availableWithoutEnrollment",
	 "target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]`

// appAssignmentsPlainWire is appAssignmentsWire without its nulls, which msgraph-sdk-go
// does not write back.
const appAssignmentsPlainWire = `[
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a1","intent":"required",
	 "target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"},
	 "settings":{"@odata.type":"#microsoft.graph.iosStoreAppAssignmentSettings"}},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a2","intent":"available",
	 "target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"g-out"}},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a3","intent":"uninstall",
	 "target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}},
	{"@odata.type":"#microsoft.graph.mobileAppAssignment","id":"a4","intent":"availableWithoutEnrollment",
	 "target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]`

var appAssignments = []AppAssignment{
	{Intent: AppRequired, Target: AssignmentTarget{Kind: TargetGroup, GroupID: "g-in"}},
	{Intent: AppAvailable, Target: AssignmentTarget{Kind: TargetExclusionGroup, GroupID: "g-out"}},
	{Intent: AppUninstall, Target: AssignmentTarget{Kind: TargetAllLicensedUsers}},
	{Intent: AppAvailableWithoutEnrollment, Target: AssignmentTarget{Kind: TargetAllDevices}},
}

func TestStoreAppFromModel(t *testing.T) {
	wire := `{"@odata.type":"#microsoft.graph.iosStoreApp","id":"app1","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","description":"Mobile Threat Defense","bundleId":"com.blackberry.protect.sample",
		"appStoreUrl":"https://apps.apple.com/app/id000000000","publishingState":"published",
		"createdDateTime":"2026-01-02T03:04:05Z","applicableDeviceType":{"iPad":true,"iPhoneAndIPod":true},
		"minimumSupportedOperatingSystem":` + allIOSFlags("v13_0") + `,"assignments":` + appAssignmentsWire + `}`
	want := protectApp()
	want.ID, want.Type, want.PublishingState, want.Assignments = "app1", AppIOSStore, "published", appAssignments
	for _, factory := range []func() models.MobileAppable{
		func() models.MobileAppable {
			return parse[models.MobileAppable](t, wire, models.CreateMobileAppFromDiscriminatorValue)
		},
		func() models.MobileAppable {
			return parse[models.MobileAppable](t, wire, createAppFromDiscriminatorValue)
		},
	} {
		got, ok := storeAppFromModel(factory())
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("iosStoreApp (ok=%v)\n got %+v\nwant %+v", ok, got, want)
		}
	}

	// The beta-only type, as Graph beta sends it.
	wire = `{"@odata.type":"#microsoft.graph.androidManagedStoreApp","id":"app2","displayName":"BlackBerry Protect",
		"publisher":"BlackBerry","packageId":"com.blackberry.protect.sample","appIdentifier":"com.blackberry.protect.sample",
		"appStoreUrl":"https://play.google.com/store/apps/details?id=com.blackberry.protect.sample",
		"isPrivate":false,"isSystemApp":false,"publishingState":"published","assignments":` + appAssignmentsPlainWire + `}`
	m := parse[models.MobileAppable](t, wire, createAppFromDiscriminatorValue)
	got, ok := storeAppFromModel(m)
	if want := (StoreApp{ID: "app2", Type: AppAndroidManagedStore, DisplayName: "BlackBerry Protect", Publisher: "BlackBerry",
		BundleID: "com.blackberry.protect.sample", AppStoreURL: "https://play.google.com/store/apps/details?id=com.blackberry.protect.sample",
		PublishingState: "published", Assignments: appAssignments}); !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("androidManagedStoreApp (ok=%v)\n got %+v\nwant %+v", ok, got, want)
	}
	// The model writes back what it read (it is never sent, but must not lose data).
	sameJSON(t, serialize(t, m), wire)

	// Only appIdentifier: the package id is the same.
	m = parse[models.MobileAppable](t, `{"@odata.type":"#microsoft.graph.androidManagedStoreApp","id":"app3","appIdentifier":"com.x"}`, createAppFromDiscriminatorValue)
	if got, ok := storeAppFromModel(m); !ok || got.BundleID != "com.x" {
		t.Fatalf("appIdentifier only: %+v, %v", got, ok)
	}

	// msgraph-sdk-go's factory reads the beta-only type as the base type; v1.0 sends the
	// base type; other types are not managed. None is mapped.
	for _, tc := range []struct {
		wire    string
		factory func() models.MobileAppable
	}{
		{wire, func() models.MobileAppable {
			return parse[models.MobileAppable](t, wire, models.CreateMobileAppFromDiscriminatorValue)
		}},
		{"", func() models.MobileAppable {
			return parse[models.MobileAppable](t, `{"@odata.type":"#microsoft.graph.mobileApp","id":"app2"}`, createAppFromDiscriminatorValue)
		}},
		{"", func() models.MobileAppable { return models.NewAndroidStoreApp() }},
		{"", func() models.MobileAppable { return models.NewWin32LobApp() }},
	} {
		if a, ok := storeAppFromModel(tc.factory()); ok {
			t.Fatalf("mapped %+v", a)
		}
	}
}

func TestAppAssignmentsToModel(t *testing.T) {
	as, err := appAssignmentsToModel(appAssignments)
	if err != nil {
		t.Fatal(err)
	}
	body := deviceappmanagement.NewMobileAppsItemAssignPostRequestBody()
	body.SetMobileAppAssignments(as)
	sameJSON(t, serialize(t, body), `{"mobileAppAssignments":[
		{"@odata.type":"#microsoft.graph.mobileAppAssignment","intent":"required",
		 "target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"}},
		{"@odata.type":"#microsoft.graph.mobileAppAssignment","intent":"available",
		 "target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"g-out"}},
		{"@odata.type":"#microsoft.graph.mobileAppAssignment","intent":"uninstall",
		 "target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}},
		{"@odata.type":"#microsoft.graph.mobileAppAssignment","intent":"availableWithoutEnrollment",
		 "target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`)

	// No assignment: [] clears them.
	if as, err = appAssignmentsToModel(nil); err != nil {
		t.Fatal(err)
	}
	body.SetMobileAppAssignments(as)
	sameJSON(t, serialize(t, body), `{"mobileAppAssignments":[]}`)

	for _, bad := range []AppAssignment{
		{Intent: "", Target: AssignmentTarget{Kind: TargetAllDevices}},
		{Intent: "install", Target: AssignmentTarget{Kind: TargetAllDevices}},
		{Intent: AppRequired, Target: AssignmentTarget{Kind: "#microsoft.graph.configurationManagerCollectionAssignmentTarget"}},
	} {
		if _, err := appAssignmentsToModel([]AppAssignment{bad}); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func fullAppConfiguration() AppConfiguration {
	return AppConfiguration{
		ID: "cfg1", DisplayName: "Protect settings", Description: "managed by mtd-operator",
		TargetedAppIDs: []string{"app1"}, Version: 3,
		Settings: []AppConfigSetting{
			{Key: "tenant", Type: AppConfigString, Value: "contoso"},
			{Key: "retries", Type: AppConfigInteger, Value: "3"},
			{Key: "ratio", Type: AppConfigReal, Value: "0.5"},
			{Key: "strict", Type: AppConfigBoolean, Value: "true"},
			{Key: "user", Type: AppConfigToken, Value: "{{userprincipalname}}"},
		},
		Assignments: []AssignmentTarget{{Kind: TargetGroup, GroupID: "g-in"}, {Kind: TargetAllDevices}},
	}
}

const appConfigSettingsWire = `[
	{"@odata.type":"microsoft.graph.appConfigurationSettingItem","appConfigKey":"tenant","appConfigKeyType":"stringType","appConfigKeyValue":"contoso"},
	{"@odata.type":"microsoft.graph.appConfigurationSettingItem","appConfigKey":"retries","appConfigKeyType":"integerType","appConfigKeyValue":"3"},
	{"@odata.type":"microsoft.graph.appConfigurationSettingItem","appConfigKey":"ratio","appConfigKeyType":"realType","appConfigKeyValue":"0.5"},
	{"@odata.type":"microsoft.graph.appConfigurationSettingItem","appConfigKey":"strict","appConfigKeyType":"booleanType","appConfigKeyValue":"true"},
	{"@odata.type":"microsoft.graph.appConfigurationSettingItem","appConfigKey":"user","appConfigKeyType":"tokenType","appConfigKeyValue":"{{userprincipalname}}"}]`

func TestAppConfigurationMapping(t *testing.T) {
	in := fullAppConfiguration()
	m, err := appConfigurationToModel(in, false)
	if err != nil {
		t.Fatal(err)
	}
	// Server-set fields and assignments are not sent.
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosMobileAppConfiguration","displayName":"Protect settings",
		"description":"managed by mtd-operator","targetedMobileApps":["app1"],"settings":`+appConfigSettingsWire+`}`)

	// A create leaves an empty description out, a patch sends it; no settings are [].
	in.Description, in.Settings, in.TargetedAppIDs = "", nil, nil
	if m, err = appConfigurationToModel(in, false); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosMobileAppConfiguration","displayName":"Protect settings",
		"targetedMobileApps":[],"settings":[]}`)
	if m, err = appConfigurationToModel(in, true); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"@odata.type":"#microsoft.graph.iosMobileAppConfiguration","displayName":"Protect settings",
		"description":"","targetedMobileApps":[],"settings":[]}`)

	in.Settings = []AppConfigSetting{{Key: "k", Type: "dateType", Value: "x"}}
	if _, err := appConfigurationToModel(in, false); err == nil {
		t.Fatal("an unknown key type was accepted")
	}

	wire := `{"@odata.type":"#microsoft.graph.iosMobileAppConfiguration","id":"cfg1","displayName":"Protect settings",
		"description":"managed by mtd-operator","targetedMobileApps":["app1"],"version":3,
		"createdDateTime":"2026-01-02T03:04:05Z","settings":` + appConfigSettingsWire + `,
		"assignments":[
			{"id":"x1","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"}},
			{"id":"x2","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`
	got, ok := appConfigurationFromModel(parse[models.ManagedDeviceMobileAppConfigurationable](t, wire, models.CreateManagedDeviceMobileAppConfigurationFromDiscriminatorValue))
	if want := fullAppConfiguration(); !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("from the wire (ok=%v)\n got %+v\nwant %+v", ok, got, want)
	}
	// Another type (Android Enterprise's, which v1.0 shows as the base type) is not mapped.
	other := parse[models.ManagedDeviceMobileAppConfigurationable](t, `{"@odata.type":"#microsoft.graph.androidManagedStoreAppConfiguration","id":"cfg2"}`,
		models.CreateManagedDeviceMobileAppConfigurationFromDiscriminatorValue)
	if c, ok := appConfigurationFromModel(other); ok {
		t.Fatalf("mapped %+v", c)
	}

	as, err := appConfigurationTargetsToModel(fullAppConfiguration().Assignments)
	if err != nil {
		t.Fatal(err)
	}
	body := deviceappmanagement.NewMobileAppConfigurationsItemAssignPostRequestBody()
	body.SetAssignments(as)
	sameJSON(t, serialize(t, body), `{"assignments":[
		{"@odata.type":"#microsoft.graph.managedDeviceMobileAppConfigurationAssignment",
		 "target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"}},
		{"@odata.type":"#microsoft.graph.managedDeviceMobileAppConfigurationAssignment",
		 "target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`)
	if as, err = appConfigurationTargetsToModel(nil); err != nil || as == nil || len(as) != 0 {
		t.Fatalf("no targets = %v, %v", as, err)
	}
	if _, err := appConfigurationTargetsToModel([]AssignmentTarget{{Kind: "x"}}); err == nil {
		t.Fatal("an unknown target was accepted")
	}
}

func TestDetectedAppFromModel(t *testing.T) {
	wire := `{"id":"0000a1b2c3","displayName":"com.blackberry.protect.sample","version":"1.0","sizeInByte":1024,
		"deviceCount":2,"publisher":"BlackBerry","platform":"androidDedicatedAndFullyManaged"}`
	got := detectedAppFromModel(parse[models.DetectedAppable](t, wire, models.CreateDetectedAppFromDiscriminatorValue))
	want := DetectedApp{ID: "0000a1b2c3", DisplayName: "com.blackberry.protect.sample", Version: "1.0", Platform: "androidDedicatedAndFullyManaged",
		Publisher: "BlackBerry", DeviceCount: 2}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
