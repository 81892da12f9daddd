package intune

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// serialize writes m as the SDK puts it on the wire: through the backing-store proxy
// that msgraph-sdk-go's client enables, which writes a setter's nil as null.
func serialize(t *testing.T, m absser.Parsable) string {
	t.Helper()
	w, err := store.NewBackingStoreSerializationWriterProxyFactory(jsonser.NewJsonSerializationWriterFactory()).GetSerializationWriter("application/json")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteObjectValue("", m); err != nil {
		t.Fatal(err)
	}
	b, err := w.GetSerializedContent()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON compares two JSON texts as values (key order aside).
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%v in %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%v in %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
}

func parse[T absser.Parsable](t *testing.T, body string, ctor absser.ParsableFactory) T {
	t.Helper()
	n, err := jsonser.NewJsonParseNode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.GetObjectValue(ctor)
	if err != nil {
		t.Fatal(err)
	}
	return v.(T)
}

func ptr[T any](v T) *T { return &v }

var (
	created  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	modified = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
)

func fullConnector() Connector {
	return Connector{
		ID: BlackBerryConnectorID, PartnerState: "enabled", LastHeartbeat: modified,
		Settings: ConnectorSettings{
			AndroidEnabled: ptr(true), IOSEnabled: ptr(false), WindowsEnabled: ptr(true),
			AndroidDeviceBlockedOnMissingPartnerData: ptr(false), IOSDeviceBlockedOnMissingPartnerData: ptr(true),
			WindowsDeviceBlockedOnMissingPartnerData: ptr(false), PartnerUnsupportedOsVersionBlocked: ptr(true),
			PartnerUnresponsivenessThresholdInDays: ptr(int32(5)), AllowPartnerToCollectIOSApplicationMetadata: ptr(false),
			AllowPartnerToCollectIOSPersonalApplicationMetadata: ptr(true), AndroidMobileApplicationManagementEnabled: ptr(false),
			IOSMobileApplicationManagementEnabled: ptr(true), MicrosoftDefenderForEndpointAttachEnabled: ptr(false),
		},
	}
}

func TestConnectorMapping(t *testing.T) {
	// Plain -> model -> plain keeps every field.
	want := fullConnector()
	if got := connectorFromModel(connectorToModel(want)); !reflect.DeepEqual(got, want) {
		t.Fatalf("plain round trip\n got %+v\nwant %+v", got, want)
	}
	// Wire -> model -> plain -> model -> wire keeps every field, with the wire names.
	wire := `{"id":"a447eca6-a986-4d3f-9838-5862bf50776c","partnerState":"enabled","lastHeartbeatDateTime":"2026-02-03T04:05:06Z",
		"androidEnabled":true,"iosEnabled":false,"windowsEnabled":true,"androidDeviceBlockedOnMissingPartnerData":false,
		"iosDeviceBlockedOnMissingPartnerData":true,"windowsDeviceBlockedOnMissingPartnerData":false,
		"partnerUnsupportedOsVersionBlocked":true,"partnerUnresponsivenessThresholdInDays":5,
		"allowPartnerToCollectIOSApplicationMetadata":false,"allowPartnerToCollectIOSPersonalApplicationMetadata":true,
		"androidMobileApplicationManagementEnabled":false,"iosMobileApplicationManagementEnabled":true,
		"microsoftDefenderForEndpointAttachEnabled":false}`
	m := parse[models.MobileThreatDefenseConnectorable](t, wire, models.CreateMobileThreatDefenseConnectorFromDiscriminatorValue)
	if got := connectorFromModel(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("from the wire\n got %+v\nwant %+v", got, want)
	}
	sameJSON(t, serialize(t, connectorToModel(connectorFromModel(m))), wire)

	// A state the SDK does not know (newer docs: notSetUp, error) reads as "".
	m = parse[models.MobileThreatDefenseConnectorable](t, `{"id":"x","partnerState":"notSetUp"}`, models.CreateMobileThreatDefenseConnectorFromDiscriminatorValue)
	if got := connectorFromModel(m); got.PartnerState != "" || got.Settings.IOSEnabled != nil {
		t.Fatalf("notSetUp = %+v", got)
	}
	// A patch body carries exactly the set fields.
	sameJSON(t, serialize(t, connectorToModel(Connector{Settings: ConnectorSettings{IOSEnabled: ptr(false), PartnerUnresponsivenessThresholdInDays: ptr(int32(3))}})),
		`{"iosEnabled":false,"partnerUnresponsivenessThresholdInDays":3}`)
}

func fullPolicy(typ PolicyType) CompliancePolicy {
	return CompliancePolicy{
		ID: "p1", Type: typ, DisplayName: "MTD " + string(typ), Description: "managed by mtd-operator", Version: 7,
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "medium",
		Actions: []ScheduledAction{
			{ActionType: "block", GracePeriodHours: 24},
			{ActionType: "notification", NotificationTemplateID: "tmpl-1", NotificationMessageCCList: []string{"g1", "g2"}},
			{ActionType: "retire", GracePeriodHours: 720},
		},
		Assignments: []AssignmentTarget{
			{Kind: TargetGroup, GroupID: "g-in"}, {Kind: TargetExclusionGroup, GroupID: "g-out"},
			{Kind: TargetAllLicensedUsers}, {Kind: TargetAllDevices},
		},
		Created: created, Modified: modified,
	}
}

func TestPolicyMapping(t *testing.T) {
	for _, typ := range []PolicyType{AndroidCompliancePolicy, AndroidWorkProfileCompliancePolicy, IOSCompliancePolicy, AndroidDeviceOwnerCompliancePolicy} {
		t.Run(string(typ), func(t *testing.T) {
			want := fullPolicy(typ)
			m, err := policyToModel(want)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := policyFromModel(m)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("plain round trip (ok=%v)\n got %+v\nwant %+v", ok, got, want)
			}
			// What Graph answers to the expanded read, mapped and written back.
			wire := `{"@odata.type":"` + string(typ) + `","id":"p1","displayName":"MTD ` + string(typ) + `",
				"description":"managed by mtd-operator","version":7,"createdDateTime":"2026-01-02T03:04:05Z",
				"lastModifiedDateTime":"2026-02-03T04:05:06Z","deviceThreatProtectionEnabled":true,
				"deviceThreatProtectionRequiredSecurityLevel":"medium",
				"scheduledActionsForRule":[{"ruleName":"PasswordRequired","scheduledActionConfigurations":[
					{"actionType":"block","gracePeriodHours":24},
					{"actionType":"notification","gracePeriodHours":0,"notificationTemplateId":"tmpl-1","notificationMessageCCList":["g1","g2"]},
					{"actionType":"retire","gracePeriodHours":720}]}],
				"assignments":[
					{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-in"}},
					{"target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"g-out"}},
					{"target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}},
					{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`
			pm := parse[models.DeviceCompliancePolicyable](t, wire, createPolicyFromDiscriminatorValue)
			got, ok = policyFromModel(pm)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("from the wire (ok=%v)\n got %+v\nwant %+v", ok, got, want)
			}
			back, err := policyToModel(got)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, serialize(t, back), wire)
		})
	}
	if _, ok := policyFromModel(models.NewWindows10CompliancePolicy()); ok {
		t.Fatal("a Windows policy was mapped")
	}
	bad := fullPolicy(IOSCompliancePolicy)
	bad.RequiredSecurityLevel = "severe"
	if _, err := policyToModel(bad); err == nil {
		t.Fatal("an unknown level was accepted")
	}
	bad = fullPolicy("#microsoft.graph.androidForWorkCompliancePolicy")
	if _, err := policyToModel(bad); err == nil {
		t.Fatal("a type the operator does not manage was accepted")
	}
	// msgraph-sdk-go's own factory reads the beta-only device owner type as the base
	// type, without its MTD rule: such a policy is not mapped, rather than mapped wrong.
	wire := `{"@odata.type":"#microsoft.graph.androidDeviceOwnerCompliancePolicy","id":"p1","displayName":"x",
		"deviceThreatProtectionEnabled":true,"deviceThreatProtectionRequiredSecurityLevel":"medium"}`
	if p, ok := policyFromModel(parse[models.DeviceCompliancePolicyable](t, wire, models.CreateDeviceCompliancePolicyFromDiscriminatorValue)); ok {
		t.Fatalf("the SDK's base-type reading was mapped: %+v", p)
	}
}

func TestPolicyPatchMapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   PolicyType
		patch CompliancePolicyPatch
		want  string
	}{
		{"nothing", IOSCompliancePolicy, CompliancePolicyPatch{}, `{"@odata.type":"#microsoft.graph.iosCompliancePolicy"}`},
		{"everything", IOSCompliancePolicy, CompliancePolicyPatch{DisplayName: ptr("n"), Description: ptr(""), ThreatProtectionEnabled: ptr(false), RequiredSecurityLevel: ptr("high")},
			`{"@odata.type":"#microsoft.graph.iosCompliancePolicy","displayName":"n","description":"","deviceThreatProtectionEnabled":false,"deviceThreatProtectionRequiredSecurityLevel":"high"}`},
		{"level only", IOSCompliancePolicy, CompliancePolicyPatch{RequiredSecurityLevel: ptr("secured")},
			`{"@odata.type":"#microsoft.graph.iosCompliancePolicy","deviceThreatProtectionRequiredSecurityLevel":"secured"}`},
		{"device owner nothing", AndroidDeviceOwnerCompliancePolicy, CompliancePolicyPatch{},
			`{"@odata.type":"#microsoft.graph.androidDeviceOwnerCompliancePolicy"}`},
		{"device owner rule", AndroidDeviceOwnerCompliancePolicy, CompliancePolicyPatch{ThreatProtectionEnabled: ptr(false), RequiredSecurityLevel: ptr("secured")},
			`{"@odata.type":"#microsoft.graph.androidDeviceOwnerCompliancePolicy","deviceThreatProtectionEnabled":false,"deviceThreatProtectionRequiredSecurityLevel":"secured"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := policyPatchToModel(tc.typ, tc.patch)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, serialize(t, m), tc.want)
		})
	}
	if _, err := policyPatchToModel(IOSCompliancePolicy, CompliancePolicyPatch{RequiredSecurityLevel: ptr("")}); err == nil {
		t.Fatal("an empty level was accepted")
	}
}

func TestActionsAndTargetsMapping(t *testing.T) {
	rules, err := actionsToModel([]ScheduledAction{{ActionType: "block"}})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, rules[0]), `{"ruleName":"PasswordRequired","scheduledActionConfigurations":[{"actionType":"block","gracePeriodHours":0}]}`)
	if _, err := actionsToModel([]ScheduledAction{{ActionType: "explode"}}); err == nil {
		t.Fatal("an unknown action type was accepted")
	}
	if _, err := actionsToModel([]ScheduledAction{{}}); err == nil {
		t.Fatal("an empty action type was accepted")
	}
	// An empty assignment set is [] on the wire, so assign clears every assignment.
	as, err := targetsToModel(nil)
	if err != nil || as == nil || len(as) != 0 {
		t.Fatalf("targetsToModel(nil) = %v, %v", as, err)
	}
	if _, err := targetsToModel([]AssignmentTarget{{Kind: "#microsoft.graph.configurationManagerCollectionAssignmentTarget"}}); err == nil {
		t.Fatal("an unsupported target was accepted")
	}
}

func TestDeviceMapping(t *testing.T) {
	wire := `{"id":"d1","deviceName":"phone-1","operatingSystem":"Android","osVersion":"14","azureADDeviceId":"e1",
		"userId":"u1","userPrincipalName":"u1@contoso.example","complianceState":"noncompliant",
		"partnerReportedThreatState":"highSeverity","lastSyncDateTime":"2026-02-03T04:05:06Z",
		"deviceEnrollmentType":"userEnrollment","managementAgent":"mdm","managedDeviceOwnerType":"personal"}`
	m := parse[models.ManagedDeviceable](t, wire, models.CreateManagedDeviceFromDiscriminatorValue)
	want := ManagedDevice{ID: "d1", DeviceName: "phone-1", OperatingSystem: "Android", OSVersion: "14", AzureADDeviceID: "e1",
		UserID: "u1", UserPrincipalName: "u1@contoso.example", ComplianceState: "noncompliant",
		PartnerReportedThreatState: "highSeverity", LastSync: modified,
		EnrollmentType: "userEnrollment", ManagementAgent: "mdm", OwnerType: "personal"}
	got := deviceFromModel(m)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	// Back to a model with every mapped field, and to plain again. (Graph treats these
	// properties as read-only, so the SDK does not serialise them.)
	back := models.NewManagedDevice()
	back.SetId(&got.ID)
	back.SetDeviceName(&got.DeviceName)
	back.SetOperatingSystem(&got.OperatingSystem)
	back.SetOsVersion(&got.OSVersion)
	back.SetAzureADDeviceId(&got.AzureADDeviceID)
	back.SetUserId(&got.UserID)
	back.SetUserPrincipalName(&got.UserPrincipalName)
	cs, _ := parseEnum[models.ComplianceState](models.ParseComplianceState, got.ComplianceState)
	back.SetComplianceState(cs)
	ts, _ := parseEnum[models.ManagedDevicePartnerReportedHealthState](models.ParseManagedDevicePartnerReportedHealthState, got.PartnerReportedThreatState)
	back.SetPartnerReportedThreatState(ts)
	back.SetLastSyncDateTime(&got.LastSync)
	et, _ := parseEnum[models.DeviceEnrollmentType](models.ParseDeviceEnrollmentType, got.EnrollmentType)
	back.SetDeviceEnrollmentType(et)
	ma, _ := parseEnum[models.ManagementAgentType](models.ParseManagementAgentType, got.ManagementAgent)
	back.SetManagementAgent(ma)
	ot, _ := parseEnum[models.ManagedDeviceOwnerType](models.ParseManagedDeviceOwnerType, got.OwnerType)
	back.SetManagedDeviceOwnerType(ot)
	if again := deviceFromModel(back); !reflect.DeepEqual(again, want) {
		t.Fatalf("plain round trip\n got %+v\nwant %+v", again, want)
	}
	// A threat state the SDK does not know reads as "".
	m = parse[models.ManagedDeviceable](t, `{"id":"d2","partnerReportedThreatState":"sortOfBad"}`, models.CreateManagedDeviceFromDiscriminatorValue)
	if d := deviceFromModel(m); d.PartnerReportedThreatState != "" || d.ID != "d2" {
		t.Fatalf("unknown threat state = %+v", d)
	}
	// The single-device $select asks for exactly the mapped fields; the list's for all
	// but the action history.
	if n := reflect.TypeOf(ManagedDevice{}).NumField(); len(deviceDetailSelect) != n || len(deviceSelect) != n-1 {
		t.Fatalf("$select has %d fields (list %d), ManagedDevice %d", len(deviceDetailSelect), len(deviceSelect), n)
	}
	if slices.Contains(deviceSelect, "deviceActionResults") || deviceDetailSelect[len(deviceDetailSelect)-1] != "deviceActionResults" ||
		!slices.Equal(deviceDetailSelect[:len(deviceSelect)], deviceSelect) {
		t.Fatalf("$select list %v, one device %v", deviceSelect, deviceDetailSelect)
	}
}

// TestDeviceEnrollmentMapping: Graph v1.0 sends Android Enterprise enrolment types that
// msgraph-sdk-go's enum lacks; managedDeviceModel keeps them, the SDK's model loses them.
func TestDeviceEnrollmentMapping(t *testing.T) {
	wire := `{"id":"d1","operatingSystem":"Android","deviceEnrollmentType":"androidEnterpriseFullyManaged",
		"managementAgent":"googleCloudDevicePolicyController","managedDeviceOwnerType":"company"}`
	d := deviceFromModel(parse[models.ManagedDeviceable](t, wire, newManagedDeviceModel))
	if d.EnrollmentType != "androidEnterpriseFullyManaged" || d.ManagementAgent != "googleCloudDevicePolicyController" || d.OwnerType != "company" || d.ID != "d1" {
		t.Fatalf("kept = %+v", d)
	}
	if d := deviceFromModel(parse[models.ManagedDeviceable](t, wire, models.CreateManagedDeviceFromDiscriminatorValue)); d.EnrollmentType != "" {
		t.Fatalf("the SDK's enum read %q", d.EnrollmentType)
	}
	// A value the SDK knows still reaches its typed field.
	m := parse[models.ManagedDeviceable](t, `{"deviceEnrollmentType":"appleBulkWithUser"}`, newManagedDeviceModel)
	if et := m.GetDeviceEnrollmentType(); et == nil || et.String() != "appleBulkWithUser" || deviceFromModel(m).EnrollmentType != "appleBulkWithUser" {
		t.Fatalf("typed enrolment type %v", et)
	}
}

// TestDevicePolicyType: the compliance policy type that governs a device follows its
// platform and, for Android, how Intune manages it.
func TestDevicePolicyType(t *testing.T) {
	for _, tc := range []struct {
		d    ManagedDevice
		want PolicyType
	}{
		{ManagedDevice{OperatingSystem: "iOS", EnrollmentType: "appleBulkWithUser"}, IOSCompliancePolicy},
		{ManagedDevice{OperatingSystem: "iPadOS"}, IOSCompliancePolicy},
		{ManagedDevice{OperatingSystem: "Windows"}, ""},
		{ManagedDevice{OperatingSystem: "Android", EnrollmentType: "userEnrollment", ManagementAgent: "mdm", OwnerType: "company"}, AndroidCompliancePolicy},
		{ManagedDevice{OperatingSystem: "Android", EnrollmentType: "userEnrollment", ManagementAgent: "mdm", OwnerType: "personal"}, AndroidWorkProfileCompliancePolicy},
		{ManagedDevice{OperatingSystem: "android", EnrollmentType: "androidEnterpriseFullyManaged", OwnerType: "company"}, AndroidDeviceOwnerCompliancePolicy},
		{ManagedDevice{OperatingSystem: "Android", EnrollmentType: "androidEnterpriseDedicatedDevice"}, AndroidDeviceOwnerCompliancePolicy},
		{ManagedDevice{OperatingSystem: "Android", EnrollmentType: "androidEnterpriseCorporateWorkProfile", OwnerType: "company"}, AndroidDeviceOwnerCompliancePolicy},
		// The enrolment type read as "" (an SDK that lacks it): the agent tells.
		{ManagedDevice{OperatingSystem: "Android", ManagementAgent: "googleCloudDevicePolicyController", OwnerType: "company"}, AndroidDeviceOwnerCompliancePolicy},
	} {
		if got := tc.d.PolicyType(); got != tc.want {
			t.Errorf("%+v.PolicyType() = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestDeviceActionResultsMapping(t *testing.T) {
	wire := `{"id":"d1","deviceActionResults":[
		{"actionName":"retire","actionState":"pending","startDateTime":"2026-02-03T04:05:06Z","lastUpdatedDateTime":"2026-02-03T04:05:06Z"},
		{"actionName":"remoteLock","actionState":"done","startDateTime":"2026-02-03T04:05:06.1234567Z","lastUpdatedDateTime":"2026-02-03T05:05:06Z"},
		{"actionName":"wipe","actionState":"notSupported"},
		{"actionName":"retire","actionState":"stuck","startDateTime":"2026-02-04T00:00:00Z","lastUpdatedDateTime":"2026-02-04T00:00:00Z"}]}`
	d := deviceFromModel(parse[models.ManagedDeviceable](t, wire, models.CreateManagedDeviceFromDiscriminatorValue))
	later := time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC)
	want := []DeviceActionResult{
		{Name: "retire", State: "pending", Started: modified, Updated: modified},
		{Name: "remoteLock", State: "done", Started: modified.Add(123456700 * time.Nanosecond), Updated: modified.Add(time.Hour)},
		{Name: "wipe", State: "notSupported"},
		{Name: "retire", State: "", Started: later, Updated: later}, // a state the SDK does not know
	}
	if !reflect.DeepEqual(d.ActionResults, want) {
		t.Fatalf("\n got %+v\nwant %+v", d.ActionResults, want)
	}
	// The latest retire by start time, wherever Graph lists it.
	if r, ok := d.LastActionResult("retire"); !ok || !r.Started.Equal(later) {
		t.Fatalf("last retire = %+v, %v", r, ok)
	}
	if r, ok := d.LastActionResult("remoteLock"); !ok || r.State != "done" {
		t.Fatalf("last remoteLock = %+v, %v", r, ok)
	}
	if _, ok := d.LastActionResult("syncDevice"); ok {
		t.Fatal("found a syncDevice that was never sent")
	}
	// None listed, or not selected: nil.
	for _, w := range []string{`{"id":"d2","deviceActionResults":[]}`, `{"id":"d3"}`} {
		if d := deviceFromModel(parse[models.ManagedDeviceable](t, w, models.CreateManagedDeviceFromDiscriminatorValue)); d.ActionResults != nil {
			t.Fatalf("%s: action results %+v", w, d.ActionResults)
		}
	}
}

func TestDeviceFilter(t *testing.T) {
	for _, tc := range []struct {
		f    DeviceFilter
		want string
	}{
		{DeviceFilter{}, ""},
		{DeviceFilter{AzureADDeviceID: "e1"}, "azureADDeviceId eq 'e1'"},
		{DeviceFilter{AzureADDeviceID: "o'brien''s"}, "azureADDeviceId eq 'o''brien''''s'"},
		{DeviceFilter{AzureADDeviceID: "e1", OperatingSystem: "iOS", ComplianceState: "noncompliant"},
			"azureADDeviceId eq 'e1' and operatingSystem eq 'iOS' and complianceState eq 'noncompliant'"},
	} {
		if got := deviceFilter(tc.f); got != tc.want {
			t.Errorf("deviceFilter(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func fullCA() ConditionalAccessPolicy {
	return ConditionalAccessPolicy{
		ID: "ca1", DisplayName: "MTD: compliant devices only", State: "enabledForReportingButNotEnforced",
		IncludeApplications: []string{"00000002-0000-0ff1-ce00-000000000000", "Office365"},
		IncludeUsers:        []string{"All"}, IncludeGroups: []string{"g-in"}, ExcludeGroups: []string{"g-out"},
		IncludePlatforms: []string{"android", "iOS"}, ClientAppTypes: []string{"all"},
		GrantOperator: "OR", BuiltInControls: []string{"compliantDevice", "mfa"},
	}
}

func TestConditionalAccessMapping(t *testing.T) {
	want := fullCA()
	m, err := caToModel(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := caFromModel(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("plain round trip\n got %+v\nwant %+v", got, want)
	}
	wire := `{"id":"ca1","displayName":"MTD: compliant devices only","state":"enabledForReportingButNotEnforced",
		"conditions":{"clientAppTypes":["all"],
			"applications":{"includeApplications":["00000002-0000-0ff1-ce00-000000000000","Office365"]},
			"users":{"includeUsers":["All"],"includeGroups":["g-in"],"excludeGroups":["g-out"]},
			"platforms":{"includePlatforms":["android","iOS"]}},
		"grantControls":{"operator":"OR","builtInControls":["compliantDevice","mfa"]}}`
	pm := parse[models.ConditionalAccessPolicyable](t, wire, models.CreateConditionalAccessPolicyFromDiscriminatorValue)
	got := caFromModel(pm)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("from the wire\n got %+v\nwant %+v", got, want)
	}
	back, err := caToModel(got)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, back), wire)

	// Without platforms and groups: arrays go as [] and platforms as null, so that a
	// PATCH (which merges objects) removes what an earlier version had.
	bare := ConditionalAccessPolicy{DisplayName: "x", State: "disabled", IncludeApplications: []string{"Office365"},
		ClientAppTypes: []string{"all"}, GrantOperator: "AND", BuiltInControls: []string{"compliantDevice"}}
	m, err = caToModel(bare)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, serialize(t, m), `{"displayName":"x","state":"disabled",
		"conditions":{"clientAppTypes":["all"],"platforms":null,
			"applications":{"includeApplications":["Office365"]},
			"users":{"includeUsers":[],"includeGroups":[],"excludeGroups":[]}},
		"grantControls":{"operator":"AND","builtInControls":["compliantDevice"]}}`)
	if got := caFromModel(m); !reflect.DeepEqual(got, bare) {
		t.Fatalf("bare round trip\n got %+v\nwant %+v", got, bare)
	}
	for _, mut := range []func(*ConditionalAccessPolicy){
		func(p *ConditionalAccessPolicy) { p.State = "on" },
		func(p *ConditionalAccessPolicy) { p.IncludePlatforms = []string{"symbian"} },
		func(p *ConditionalAccessPolicy) { p.ClientAppTypes = []string{"fax"} },
		func(p *ConditionalAccessPolicy) { p.BuiltInControls = []string{"pinkySwear"} },
	} {
		p := fullCA()
		mut(&p)
		if _, err := caToModel(p); err == nil {
			t.Errorf("caToModel accepted %+v", p)
		}
	}
}

// TestDeviceFilterMatchesExactly: Graph silently ignores a $filter it does not support
// and answers with every device, so every returned device is checked against the
// filter; an empty filter field matches anything, a set one only its value.
func TestDeviceFilterMatchesExactly(t *testing.T) {
	d := ManagedDevice{ID: "1", AzureADDeviceID: "8C3E1A5F-2B4D-4C6E-9A8B-7D0F1E2C3B4A", OperatingSystem: "Android", ComplianceState: "compliant"}
	for _, tc := range []struct {
		f    DeviceFilter
		want bool
	}{
		{DeviceFilter{}, true},
		{DeviceFilter{AzureADDeviceID: "8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4a"}, true},
		{DeviceFilter{AzureADDeviceID: "8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4b"}, false},
		{DeviceFilter{AzureADDeviceID: "8c3e1a5f"}, false}, // no prefix matching
		{DeviceFilter{OperatingSystem: "iOS"}, false},
		{DeviceFilter{OperatingSystem: "android", ComplianceState: "compliant"}, true},
		{DeviceFilter{ComplianceState: "noncompliant"}, false},
	} {
		if got := tc.f.Matches(d); got != tc.want {
			t.Errorf("%+v.Matches = %v, want %v", tc.f, got, tc.want)
		}
	}
}
