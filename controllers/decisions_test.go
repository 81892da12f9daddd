package controllers

// Table-driven tests of the controllers' pure decisions: what a policy should look like in
// Intune and Entra, what differs, what a step may do, when a remediation ends, how the
// intake names and builds its objects, and how an outbound error paces a reconcile. No
// control plane, no network: run them alone with `go test -run '^TestDecide' ./controllers/`.

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// decT0 is the tests' fixed "now".
var decT0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

const (
	decGroupA = "aaaaaaaa-1111-4111-8111-111111111111"
	decGroupB = "bbbbbbbb-2222-4222-8222-222222222222"
	decGroupC = "cccccccc-3333-4333-8333-333333333333"
	decAppX   = "dddddddd-4444-4444-8444-444444444444"
	decTplA   = "eeeeeeee-5555-4555-8555-555555555555"
	decTplB   = "ffffffff-6666-4666-8666-666666666666"
	decIntune = "0F1E2D3C-4B5A-4968-8776-5A4B3C2D1E0F"
	decEntra  = "8C3E1A5F-2B4D-4C6E-9A8B-7D0F1E2C3B4A"
	decZero   = "00000000-0000-0000-0000-000000000000"
)

func decPtr[T any](v T) *T { return &v }

func decDur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// ---------------------------------------------------------------------------------------
// deviceriskpolicy_desired.go: Conditional Access

func decCAPolicy(mod func(*v1.DeviceRiskPolicySpec)) *v1.DeviceRiskPolicy {
	p := &v1.DeviceRiskPolicy{Spec: v1.DeviceRiskPolicySpec{
		DisplayName:    "Block risky devices",
		Platforms:      []v1.Platform{v1.PlatformIOS},
		MaxAllowedRisk: v1.RiskLow,
		ConditionalAccess: &v1.ConditionalAccessSpec{
			State:        v1.CAStateReportOnly,
			Applications: v1.ConditionalAccessApplications{ExchangeOnline: true},
			AllUsers:     true,
		},
	}}
	if mod != nil {
		mod(&p.Spec)
	}
	return p
}

func decWantCA(mod func(*intune.ConditionalAccessPolicy)) intune.ConditionalAccessPolicy {
	w := intune.ConditionalAccessPolicy{
		DisplayName:         "Block risky devices",
		State:               "enabledForReportingButNotEnforced",
		IncludeApplications: []string{AppExchangeOnline},
		IncludeUsers:        []string{"All"},
		IncludePlatforms:    []string{"iOS"},
		ClientAppTypes:      []string{"all"},
		GrantOperator:       "OR",
		BuiltInControls:     []string{"compliantDevice"},
	}
	if mod != nil {
		mod(&w)
	}
	return w
}

func TestDecideDesiredCAPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec func(*v1.DeviceRiskPolicySpec)
		want func(*intune.ConditionalAccessPolicy)
	}{
		{"exchangeOnline alone targets Exchange Online's application id", nil, nil},
		{"sharePointOnline targets SharePoint Online's application id, after Exchange",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.Applications.SharePointOnline = true },
			func(w *intune.ConditionalAccessPolicy) {
				w.IncludeApplications = []string{AppExchangeOnline, AppSharePointOnline}
			}},
		{"sharePointOnline alone does not bring Exchange Online",
			func(s *v1.DeviceRiskPolicySpec) {
				s.ConditionalAccess.Applications = v1.ConditionalAccessApplications{SharePointOnline: true}
			},
			func(w *intune.ConditionalAccessPolicy) { w.IncludeApplications = []string{AppSharePointOnline} }},
		{"office365 targets the Office365 app group",
			func(s *v1.DeviceRiskPolicySpec) {
				s.ConditionalAccess.Applications = v1.ConditionalAccessApplications{Office365: true}
			},
			func(w *intune.ConditionalAccessPolicy) { w.IncludeApplications = []string{AppOffice365} }},
		{"applicationIDs follow the well-known apps in the spec's order",
			func(s *v1.DeviceRiskPolicySpec) {
				s.ConditionalAccess.Applications.ApplicationIDs = []v1.GUID{decAppX, decGroupA}
			},
			func(w *intune.ConditionalAccessPolicy) {
				w.IncludeApplications = []string{AppExchangeOnline, decAppX, decGroupA}
			}},
		{"applicationIDs alone target only those apps",
			func(s *v1.DeviceRiskPolicySpec) {
				s.ConditionalAccess.Applications = v1.ConditionalAccessApplications{ApplicationIDs: []v1.GUID{decAppX}}
			},
			func(w *intune.ConditionalAccessPolicy) { w.IncludeApplications = []string{decAppX} }},
		{"state reportOnly is Entra's enabledForReportingButNotEnforced", nil, nil},
		{"state enabled is enabled",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.State = v1.CAStateEnabled },
			func(w *intune.ConditionalAccessPolicy) { w.State = "enabled" }},
		{"state disabled is disabled",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.State = v1.CAStateDisabled },
			func(w *intune.ConditionalAccessPolicy) { w.State = "disabled" }},
		{"an unset state is report-only, never enforced",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.State = "" }, nil},
		{"the Conditional Access display name overrides the policy's",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.DisplayName = "CA: compliant phones only" },
			func(w *intune.ConditionalAccessPolicy) { w.DisplayName = "CA: compliant phones only" }},
		{"allUsers false includes no user, only the groups",
			func(s *v1.DeviceRiskPolicySpec) {
				s.ConditionalAccess.AllUsers = false
				s.ConditionalAccess.IncludeGroupIDs = []v1.GUID{decGroupA, decGroupB}
			},
			func(w *intune.ConditionalAccessPolicy) {
				w.IncludeUsers = nil
				w.IncludeGroups = []string{decGroupA, decGroupB}
			}},
		{"excluded groups are excluded alongside all users",
			func(s *v1.DeviceRiskPolicySpec) { s.ConditionalAccess.ExcludeGroupIDs = []v1.GUID{decGroupC} },
			func(w *intune.ConditionalAccessPolicy) { w.ExcludeGroups = []string{decGroupC} }},
		{"Android and Android work profile are one CA platform, android",
			func(s *v1.DeviceRiskPolicySpec) {
				s.Platforms = []v1.Platform{v1.PlatformAndroid, v1.PlatformAndroidWorkProfile}
			},
			func(w *intune.ConditionalAccessPolicy) { w.IncludePlatforms = []string{"android"} }},
		{"every platform gives android and iOS once each, in the spec's order",
			func(s *v1.DeviceRiskPolicySpec) {
				s.Platforms = []v1.Platform{v1.PlatformAndroidWorkProfile, v1.PlatformIOS, v1.PlatformAndroid}
			},
			func(w *intune.ConditionalAccessPolicy) { w.IncludePlatforms = []string{"android", "iOS"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := desiredCAPolicy(decCAPolicy(tc.spec)), decWantCA(tc.want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("desiredCAPolicy\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func TestDecideCADiffs(t *testing.T) {
	want := decWantCA(func(w *intune.ConditionalAccessPolicy) {
		w.IncludeApplications = []string{AppExchangeOnline, AppSharePointOnline}
		w.IncludeGroups = []string{decGroupA, decGroupB}
		w.ExcludeGroups = []string{decGroupC}
		w.IncludePlatforms = []string{"android", "iOS"}
	})
	for _, tc := range []struct {
		name string
		live func(*intune.ConditionalAccessPolicy)
		want []string
	}{
		{"an equal policy has no differences", nil, nil},
		{"list order does not matter", func(l *intune.ConditionalAccessPolicy) {
			l.IncludeApplications = []string{AppSharePointOnline, AppExchangeOnline}
			l.IncludeGroups = []string{decGroupB, decGroupA}
			l.IncludePlatforms = []string{"iOS", "android"}
		}, nil},
		{"the case of ids and platforms does not matter", func(l *intune.ConditionalAccessPolicy) {
			l.IncludeGroups = []string{strings.ToUpper(decGroupA), strings.ToUpper(decGroupB)}
			l.ExcludeGroups = []string{strings.ToUpper(decGroupC)}
			l.IncludePlatforms = []string{"Android", "IOS"}
			l.IncludeUsers = []string{"all"}
		}, nil},
		{"the grant operator compares without case", func(l *intune.ConditionalAccessPolicy) { l.GrantOperator = "or" }, nil},
		{"displayName differs", func(l *intune.ConditionalAccessPolicy) { l.DisplayName = "renamed in the portal" }, []string{"displayName"}},
		{"displayName differing only in case is a difference", func(l *intune.ConditionalAccessPolicy) {
			l.DisplayName = strings.ToLower(want.DisplayName)
		}, []string{"displayName"}},
		{"state differs", func(l *intune.ConditionalAccessPolicy) { l.State = "enabled" }, []string{"state"}},
		{"an app removed is an includeApplications difference", func(l *intune.ConditionalAccessPolicy) {
			l.IncludeApplications = []string{AppExchangeOnline}
		}, []string{"includeApplications"}},
		{"an app added is an includeApplications difference", func(l *intune.ConditionalAccessPolicy) {
			l.IncludeApplications = []string{AppExchangeOnline, AppSharePointOnline, decAppX}
		}, []string{"includeApplications"}},
		{"no longer all users is an includeUsers difference", func(l *intune.ConditionalAccessPolicy) { l.IncludeUsers = nil }, []string{"includeUsers"}},
		{"a different group is an includeGroups difference", func(l *intune.ConditionalAccessPolicy) {
			l.IncludeGroups = []string{decGroupA, decGroupC}
		}, []string{"includeGroups"}},
		{"a removed exclusion is an excludeGroups difference", func(l *intune.ConditionalAccessPolicy) { l.ExcludeGroups = nil }, []string{"excludeGroups"}},
		{"a missing platform is an includePlatforms difference", func(l *intune.ConditionalAccessPolicy) {
			l.IncludePlatforms = []string{"iOS"}
		}, []string{"includePlatforms"}},
		{"other client app types are a clientAppTypes difference", func(l *intune.ConditionalAccessPolicy) {
			l.ClientAppTypes = []string{"browser", "mobileAppsAndDesktopClients"}
		}, []string{"clientAppTypes"}},
		{"another control is a builtInControls difference", func(l *intune.ConditionalAccessPolicy) {
			l.BuiltInControls = []string{"compliantDevice", "mfa"}
		}, []string{"builtInControls"}},
		{"AND instead of OR is a grantOperator difference", func(l *intune.ConditionalAccessPolicy) { l.GrantOperator = "AND" }, []string{"grantOperator"}},
		{"the live id is not compared", func(l *intune.ConditionalAccessPolicy) { l.ID = "ca-123" }, nil},
		{"every difference is named, in field order", func(l *intune.ConditionalAccessPolicy) {
			l.GrantOperator, l.State, l.IncludeGroups, l.DisplayName = "AND", "disabled", nil, "x"
		}, []string{"displayName", "state", "includeGroups", "grantOperator"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := want // lists cloned, so a case never edits want
			live.IncludeApplications = slices.Clone(want.IncludeApplications)
			live.IncludeGroups = slices.Clone(want.IncludeGroups)
			live.ExcludeGroups = slices.Clone(want.ExcludeGroups)
			live.IncludePlatforms = slices.Clone(want.IncludePlatforms)
			if tc.live != nil {
				tc.live(&live)
			}
			if got := caDiffs(want, live); !slices.Equal(got, tc.want) {
				t.Errorf("caDiffs = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("an empty list equals an absent one", func(t *testing.T) {
		w, l := want, want
		w.ExcludeGroups, l.ExcludeGroups = nil, []string{}
		w.IncludeUsers, l.IncludeUsers = []string{}, nil
		if got := caDiffs(w, l); len(got) != 0 {
			t.Errorf("caDiffs = %q, want none", got)
		}
	})
}

// ---------------------------------------------------------------------------------------
// deviceriskpolicy_desired.go: compliance policies

func TestDecideSameActions(t *testing.T) {
	base := []intune.ScheduledAction{
		{ActionType: "block", GracePeriodHours: 12},
		{ActionType: "notification", GracePeriodHours: 0, NotificationTemplateID: decTplA, NotificationMessageCCList: []string{decGroupA, decGroupB}},
		{ActionType: "retire", GracePeriodHours: 72},
	}
	edit := func(f func([]intune.ScheduledAction) []intune.ScheduledAction) []intune.ScheduledAction {
		c := slices.Clone(base)
		for i := range c {
			c[i].NotificationMessageCCList = slices.Clone(c[i].NotificationMessageCCList)
		}
		return f(c)
	}
	for _, tc := range []struct {
		name string
		live []intune.ScheduledAction
		same bool
	}{
		{"the same actions are the same", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction { return a }), true},
		{"action order does not matter (Intune does not keep it)", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			slices.Reverse(a)
			return a
		}), true},
		{"the template id compares without case", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationTemplateID = strings.ToUpper(decTplA)
			return a
		}), true},
		{"the CC list compares without order", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationMessageCCList = []string{decGroupB, decGroupA}
			return a
		}), true},
		{"the CC list compares without case", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationMessageCCList = []string{strings.ToUpper(decGroupA), strings.ToUpper(decGroupB)}
			return a
		}), true},
		{"the CC list compares without order or case when one list mixes cases", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationMessageCCList = []string{strings.ToUpper(decGroupB), decGroupA}
			return a
		}), true},
		{"a different grace period differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[0].GracePeriodHours = 24
			return a
		}), false},
		{"a different action type differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[2].ActionType = "wipe"
			return a
		}), false},
		{"a different template differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationTemplateID = decTplB
			return a
		}), false},
		{"a missing CC recipient differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			a[1].NotificationMessageCCList = []string{decGroupA}
			return a
		}), false},
		{"a missing action differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction { return a[:2] }), false},
		{"an extra action differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			return append(a, intune.ScheduledAction{ActionType: "notification", NotificationTemplateID: decTplB})
		}), false},
		{"a duplicated action differs", edit(func(a []intune.ScheduledAction) []intune.ScheduledAction {
			return append(a, a[0])
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameActions(base, tc.live); got != tc.same {
				t.Errorf("sameActions = %t, want %t", got, tc.same)
			}
			if got := sameActions(tc.live, base); got != tc.same {
				t.Errorf("sameActions (swapped) = %t, want %t", got, tc.same)
			}
		})
	}
	t.Run("no actions on either side are the same", func(t *testing.T) {
		if !sameActions(nil, []intune.ScheduledAction{}) {
			t.Error("nil and empty differ")
		}
		if sameActions(nil, base[:1]) {
			t.Error("none and one block are the same")
		}
	})
}

func TestDecideSameAssignments(t *testing.T) {
	base := []intune.AssignmentTarget{
		{Kind: intune.TargetAllLicensedUsers},
		{Kind: intune.TargetGroup, GroupID: decGroupA},
		{Kind: intune.TargetExclusionGroup, GroupID: decGroupB},
	}
	for _, tc := range []struct {
		name string
		live []intune.AssignmentTarget
		same bool
	}{
		{"the same targets are the same", slices.Clone(base), true},
		{"order does not matter", []intune.AssignmentTarget{base[2], base[0], base[1]}, true},
		{"group ids compare without case", []intune.AssignmentTarget{base[0],
			{Kind: intune.TargetGroup, GroupID: strings.ToUpper(decGroupA)}, {Kind: intune.TargetExclusionGroup, GroupID: strings.ToUpper(decGroupB)}}, true},
		{"an included group that is now excluded differs", []intune.AssignmentTarget{base[0],
			{Kind: intune.TargetExclusionGroup, GroupID: decGroupA}, base[2]}, false},
		{"another group differs", []intune.AssignmentTarget{base[0], {Kind: intune.TargetGroup, GroupID: decGroupC}, base[2]}, false},
		{"all devices instead of all users differs", []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}, base[1], base[2]}, false},
		{"a missing target differs", base[:2], false},
		{"an extra target differs", append(slices.Clone(base), intune.AssignmentTarget{Kind: intune.TargetAllDevices}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameAssignments(base, tc.live); got != tc.same {
				t.Errorf("sameAssignments = %t, want %t", got, tc.same)
			}
			if got := sameAssignments(tc.live, base); got != tc.same {
				t.Errorf("sameAssignments (swapped) = %t, want %t", got, tc.same)
			}
		})
	}
}

func TestDecidePropertiesPatch(t *testing.T) {
	want := intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "Risky devices", Description: "managed by mtd-operator",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low"}
	for _, tc := range []struct {
		name  string
		live  func(*intune.CompliancePolicy)
		diffs []string
		patch intune.CompliancePolicyPatch
	}{
		{"equal properties need no patch", nil, nil, intune.CompliancePolicyPatch{}},
		{"what Intune adds (id, version, times) and the actions and assignments are not properties", func(l *intune.CompliancePolicy) {
			l.ID, l.Version, l.Created, l.Modified = "pol-1", 7, decT0, decT0
			l.Actions = []intune.ScheduledAction{{ActionType: "wipe"}}
			l.Assignments = []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}
		}, nil, intune.CompliancePolicyPatch{}},
		{"a renamed policy patches displayName only", func(l *intune.CompliancePolicy) { l.DisplayName = "old" },
			[]string{"displayName"}, intune.CompliancePolicyPatch{DisplayName: decPtr("Risky devices")}},
		{"a changed description patches description only", func(l *intune.CompliancePolicy) { l.Description = "" },
			[]string{"description"}, intune.CompliancePolicyPatch{Description: decPtr("managed by mtd-operator")}},
		{"threat protection switched off is switched back on", func(l *intune.CompliancePolicy) { l.ThreatProtectionEnabled = false },
			[]string{"deviceThreatProtectionEnabled"}, intune.CompliancePolicyPatch{ThreatProtectionEnabled: decPtr(true)}},
		{"another required security level is put back", func(l *intune.CompliancePolicy) { l.RequiredSecurityLevel = "high" },
			[]string{"deviceThreatProtectionRequiredSecurityLevel"}, intune.CompliancePolicyPatch{RequiredSecurityLevel: decPtr("low")}},
		{"every differing property is patched and named, in order", func(l *intune.CompliancePolicy) {
			l.RequiredSecurityLevel, l.DisplayName, l.Description, l.ThreatProtectionEnabled = "notSet", "x", "y", false
		}, []string{"displayName", "description", "deviceThreatProtectionEnabled", "deviceThreatProtectionRequiredSecurityLevel"},
			intune.CompliancePolicyPatch{DisplayName: decPtr("Risky devices"), Description: decPtr("managed by mtd-operator"),
				ThreatProtectionEnabled: decPtr(true), RequiredSecurityLevel: decPtr("low")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := want // lists cloned, so a case never edits want
			if tc.live != nil {
				tc.live(&live)
			}
			patch, diffs := propertiesPatch(want, live)
			if !slices.Equal(diffs, tc.diffs) {
				t.Errorf("diffs = %q, want %q", diffs, tc.diffs)
			}
			if !reflect.DeepEqual(patch, tc.patch) {
				t.Errorf("patch = %s, want %s", decPatchText(patch), decPatchText(tc.patch))
			}
		})
	}
}

func decPatchText(p intune.CompliancePolicyPatch) string {
	show := func(v any) string {
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			return "-"
		}
		return fmt.Sprint(rv.Elem().Interface())
	}
	return fmt.Sprintf("{displayName:%s description:%s enabled:%s level:%s}", show(p.DisplayName), show(p.Description),
		show(p.ThreatProtectionEnabled), show(p.RequiredSecurityLevel))
}

// decNormActions makes an absent CC list and an empty one compare equal.
func decNormActions(a []intune.ScheduledAction) []intune.ScheduledAction {
	out := slices.Clone(a)
	for i := range out {
		if len(out[i].NotificationMessageCCList) == 0 {
			out[i].NotificationMessageCCList = nil
		}
	}
	return out
}

func TestDecideDesiredCompliancePolicy(t *testing.T) {
	policy := func(mod func(*v1.DeviceRiskPolicySpec)) *v1.DeviceRiskPolicy {
		p := &v1.DeviceRiskPolicy{Spec: v1.DeviceRiskPolicySpec{
			DisplayName: "Risky devices", Description: "managed by mtd-operator",
			Platforms:      []v1.Platform{v1.PlatformAndroid, v1.PlatformAndroidWorkProfile, v1.PlatformIOS},
			MaxAllowedRisk: v1.RiskMedium,
		}}
		if mod != nil {
			mod(&p.Spec)
		}
		return p
	}

	for platform, typ := range map[v1.Platform]intune.PolicyType{
		v1.PlatformAndroid:            intune.AndroidCompliancePolicy,
		v1.PlatformAndroidWorkProfile: intune.AndroidWorkProfileCompliancePolicy,
		v1.PlatformIOS:                intune.IOSCompliancePolicy,
	} {
		t.Run(fmt.Sprintf("the %s policy is of type %s with threat protection on", platform, typ), func(t *testing.T) {
			got := desiredCompliancePolicy(policy(nil), platform)
			if got.Type != typ {
				t.Errorf("type = %q, want %q", got.Type, typ)
			}
			if !got.ThreatProtectionEnabled || got.DisplayName != "Risky devices" || got.Description != "managed by mtd-operator" || got.ID != "" {
				t.Errorf("properties = %+v", got)
			}
		})
	}

	for _, risk := range []v1.RiskLevel{v1.RiskSecured, v1.RiskLow, v1.RiskMedium, v1.RiskHigh} {
		t.Run("maxAllowedRisk "+string(risk)+" is the required security level "+string(risk), func(t *testing.T) {
			got := desiredCompliancePolicy(policy(func(s *v1.DeviceRiskPolicySpec) { s.MaxAllowedRisk = risk }), v1.PlatformIOS)
			if got.RequiredSecurityLevel != string(risk) {
				t.Errorf("required security level = %q, want %q", got.RequiredSecurityLevel, risk)
			}
		})
	}

	for _, tc := range []struct {
		name    string
		actions v1.ComplianceActions
		want    []intune.ScheduledAction
	}{
		{"no actions declared is exactly one block, at once", v1.ComplianceActions{},
			[]intune.ScheduledAction{{ActionType: "block", GracePeriodHours: 0}}},
		{"the block waits for blockGracePeriodHours", v1.ComplianceActions{BlockGracePeriodHours: 48},
			[]intune.ScheduledAction{{ActionType: "block", GracePeriodHours: 48}}},
		{"notifications follow the block, in order, with their template and CC groups", v1.ComplianceActions{
			BlockGracePeriodHours: 4,
			Notifications: []v1.ComplianceNotification{
				{AfterHours: 0, TemplateID: decTplA, CCGroupIDs: []v1.GUID{decGroupA, decGroupB}},
				{AfterHours: 24, TemplateID: decTplB},
			}},
			[]intune.ScheduledAction{
				{ActionType: "block", GracePeriodHours: 4},
				{ActionType: "notification", GracePeriodHours: 0, NotificationTemplateID: decTplA, NotificationMessageCCList: []string{decGroupA, decGroupB}},
				{ActionType: "notification", GracePeriodHours: 24, NotificationTemplateID: decTplB},
			}},
		{"retireAfterDays retires after that many days, in hours, last", v1.ComplianceActions{
			RetireAfterDays: decPtr[int32](3),
			Notifications:   []v1.ComplianceNotification{{AfterHours: 1, TemplateID: decTplA}},
		},
			[]intune.ScheduledAction{
				{ActionType: "block"},
				{ActionType: "notification", GracePeriodHours: 1, NotificationTemplateID: decTplA},
				{ActionType: "retire", GracePeriodHours: 72},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredCompliancePolicy(policy(func(s *v1.DeviceRiskPolicySpec) { s.Actions = tc.actions }), v1.PlatformAndroid)
			if !reflect.DeepEqual(decNormActions(got.Actions), decNormActions(tc.want)) {
				t.Errorf("actions\n got  %+v\n want %+v", got.Actions, tc.want)
			}
			blocks := 0
			for _, a := range got.Actions {
				if a.ActionType == "block" {
					blocks++
				}
			}
			if blocks != 1 {
				t.Errorf("%d block actions, Intune requires exactly one", blocks)
			}
		})
	}

	for _, tc := range []struct {
		name        string
		assignments v1.Assignments
		want        []intune.AssignmentTarget
	}{
		{"no assignments target nobody", v1.Assignments{}, nil},
		{"allUsers is all licensed users", v1.Assignments{AllUsers: true},
			[]intune.AssignmentTarget{{Kind: intune.TargetAllLicensedUsers}}},
		{"allDevices is all devices", v1.Assignments{AllDevices: true},
			[]intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}},
		{"included groups are group targets and excluded ones exclusion targets", v1.Assignments{
			IncludeGroupIDs: []v1.GUID{decGroupA, decGroupB}, ExcludeGroupIDs: []v1.GUID{decGroupC}},
			[]intune.AssignmentTarget{{Kind: intune.TargetGroup, GroupID: decGroupA}, {Kind: intune.TargetGroup, GroupID: decGroupB},
				{Kind: intune.TargetExclusionGroup, GroupID: decGroupC}}},
		{"everything together: users, devices, includes, excludes", v1.Assignments{
			AllUsers: true, AllDevices: true, IncludeGroupIDs: []v1.GUID{decGroupA}, ExcludeGroupIDs: []v1.GUID{decGroupC}},
			[]intune.AssignmentTarget{{Kind: intune.TargetAllLicensedUsers}, {Kind: intune.TargetAllDevices},
				{Kind: intune.TargetGroup, GroupID: decGroupA}, {Kind: intune.TargetExclusionGroup, GroupID: decGroupC}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredCompliancePolicy(policy(func(s *v1.DeviceRiskPolicySpec) { s.Assignments = tc.assignments }), v1.PlatformIOS)
			if len(got.Assignments) != len(tc.want) || (len(tc.want) > 0 && !reflect.DeepEqual(got.Assignments, tc.want)) {
				t.Errorf("assignments\n got  %+v\n want %+v", got.Assignments, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// threatremediation_steps.go and threatremediation_guardrails.go

func TestDecideStepKinds(t *testing.T) {
	for _, tc := range []struct {
		action                                   v1.StepAction
		repeatable, destructive, guarded, capped bool
	}{
		{v1.StepNotify, true, false, false, false},
		{v1.StepSyncDevice, true, false, false, false},
		{v1.StepIgnoreAlert, true, false, false, true},
		{v1.StepRemoteLock, false, false, true, true},
		{v1.StepRetire, false, true, true, true},
		{v1.StepWipe, false, true, true, true},
	} {
		t.Run(fmt.Sprintf("%s: repeatable %t, destructive %t, guarded %t, capped %t", tc.action, tc.repeatable, tc.destructive, tc.guarded, tc.capped), func(t *testing.T) {
			if got := capped(tc.action); got != tc.capped {
				t.Errorf("capped = %t", got)
			}
			if got := repeatable(tc.action); got != tc.repeatable {
				t.Errorf("repeatable = %t", got)
			}
			if got := destructive(tc.action); got != tc.destructive {
				t.Errorf("destructive = %t", got)
			}
			if got := guardedAction(tc.action); got != tc.guarded {
				t.Errorf("guardedAction = %t", got)
			}
		})
	}
	t.Run("an unknown action is none of these", func(t *testing.T) {
		if a := v1.StepAction("reboot"); repeatable(a) || destructive(a) || guardedAction(a) {
			t.Error("an unknown action is treated as a known kind")
		}
	})
}

func TestDecideNeedsApproval(t *testing.T) {
	strict := ApprovalGate{}
	lenient := ApprovalGate{Exempt: map[v1.StepAction]bool{v1.StepRemoteLock: true, v1.StepIgnoreAlert: true, v1.StepWipe: true, v1.StepRetire: true}}
	for _, tc := range []struct {
		step            v1.RemediationStep
		strict, lenient bool
	}{
		{v1.RemediationStep{Action: v1.StepNotify}, false, false},
		{v1.RemediationStep{Action: v1.StepNotify, RequiresApproval: true}, true, true},
		{v1.RemediationStep{Action: v1.StepSyncDevice}, false, false},
		{v1.RemediationStep{Action: v1.StepRemoteLock}, true, false},
		{v1.RemediationStep{Action: v1.StepRemoteLock, RequiresApproval: true}, true, true},
		{v1.RemediationStep{Action: v1.StepIgnoreAlert}, true, false},
		// An exemption of retire or wipe, however it got into the gate, changes nothing.
		{v1.RemediationStep{Action: v1.StepRetire}, true, true},
		{v1.RemediationStep{Action: v1.StepWipe}, true, true},
	} {
		t.Run(fmt.Sprintf("%s requiresApproval=%t", tc.step.Action, tc.step.RequiresApproval), func(t *testing.T) {
			if got := strict.needsApproval(tc.step); got != tc.strict {
				t.Errorf("by default: %t, want %t", got, tc.strict)
			}
			if got := lenient.needsApproval(tc.step); got != tc.lenient {
				t.Errorf("with exemptions: %t, want %t", got, tc.lenient)
			}
		})
	}
}

func TestDecideApprovalValidity(t *testing.T) {
	g := ApprovalGate{Operator: "system:serviceaccount:mtd-system:mtd-operator"}
	ok := v1.Approval{Decision: v1.Approved, PlanHash: "abc", User: "bob"}
	for _, tc := range []struct {
		name      string
		edit      func(*v1.Approval)
		requester string
		want      string
	}{
		{"another person's approval of this plan", nil, "alice", ""},
		{"a denial counts the same", func(a *v1.Approval) { a.Decision = v1.Denied }, "alice", ""},
		{"an approval of another plan", func(a *v1.Approval) { a.PlanHash = "old" }, "alice", "given for plan old and the plan is now abc"},
		{"no approver named", func(a *v1.Approval) { a.User = "" }, "alice", "names no approver"},
		{"no requester recorded", nil, "", "no requester is recorded"},
		{"the requester approving their own plan", nil, "bob", "cannot approve their own plan"},
		{"the operator approving", func(a *v1.Approval) { a.User = g.Operator }, "alice", "the operator cannot approve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			if tc.edit != nil {
				tc.edit(&a)
			}
			got := g.invalid(&a, tc.requester, "abc")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("invalid = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecidePlanHash(t *testing.T) {
	spec := v1.ThreatRemediationSpec{Steps: []v1.RemediationStep{{Action: v1.StepNotify}, {Action: v1.StepWipe}}}
	base := planHash(spec)
	if planHash(spec) != base {
		t.Fatal("the hash is not stable")
	}
	dry := spec
	dry.DryRun = true
	swapped := v1.ThreatRemediationSpec{Steps: []v1.RemediationStep{{Action: v1.StepWipe}, {Action: v1.StepNotify}}}
	kept := spec
	kept.Steps = []v1.RemediationStep{{Action: v1.StepNotify}, {Action: v1.StepWipe, Wipe: &v1.WipeOptions{KeepUserData: true}}}
	threat := spec
	threat.Threat = &v1.ThreatReference{AlertID: "a-1"}
	for name, other := range map[string]v1.ThreatRemediationSpec{"a dry run": dry, "steps swapped": swapped, "a wipe option": kept} {
		if planHash(other) == base {
			t.Errorf("%s hashes as the plan it changes", name)
		}
	}
	if planHash(threat) != base {
		t.Error("the threat's detail, which the intake fills in later, changed the plan's hash")
	}
}

func TestDecideCannotIgnore(t *testing.T) {
	ignore := v1.RemediationStep{Action: v1.StepIgnoreAlert}
	pass := func(modelled bool, threat *v1.ThreatReference) *remediationPass {
		conn := &v1.MTDConnector{}
		conn.Spec.UES.ModelledMobileAPI = modelled
		return &remediationPass{conn: conn, tr: &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Threat: threat}}}
	}
	alert := &v1.ThreatReference{Source: v1.SourceUESModelledAPI, AlertID: "alert-1"}
	for _, tc := range []struct {
		name string
		p    *remediationPass
		step v1.RemediationStep
		want string // "" or a part of the reason
	}{
		{"a step other than ignoreAlert always can run, even without the modelled API", pass(false, nil), v1.RemediationStep{Action: v1.StepWipe}, ""},
		{"ignoreAlert without the modelled API cannot run", pass(false, alert), ignore, "spec.ues.modelledMobileAPI"},
		{"ignoreAlert with the modelled API but no threat cannot run", pass(true, nil), ignore, "no UES alert is known"},
		{"ignoreAlert for an Intune-sourced threat with no alert id cannot run", pass(true, &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high"}), ignore, "no UES alert is known"},
		{"ignoreAlert with the modelled API and an alert id can run", pass(true, alert), ignore, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cannotIgnore(tc.p, tc.step)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("cannotIgnore = %q, want %q", got, tc.want)
			}
		})
	}
}

func decPlan(actions ...v1.StepAction) []v1.RemediationStep {
	out := make([]v1.RemediationStep, len(actions))
	for i, a := range actions {
		out[i] = v1.RemediationStep{Action: a}
	}
	return out
}

// decRecorded is a remediation whose step i is in states[i].
func decRecorded(states ...v1.StepState) *v1.ThreatRemediation {
	tr := &v1.ThreatRemediation{}
	for i, s := range states {
		tr.Spec.Steps = append(tr.Spec.Steps, v1.RemediationStep{Action: v1.StepSyncDevice})
		tr.Status.Steps = append(tr.Status.Steps, v1.StepRecord{Index: int32(i), Action: v1.StepSyncDevice, State: s})
	}
	return tr
}

func TestDecidePlanDone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []v1.StepState
		done   bool
	}{
		{"every step succeeded: done", []v1.StepState{v1.StepSucceeded, v1.StepSucceeded}, true},
		{"skipped and dry-run steps count as run: done", []v1.StepState{v1.StepSucceeded, v1.StepSkipped, v1.StepDryRun}, true},
		{"a pending step: not done", []v1.StepState{v1.StepSucceeded, v1.StepPending}, false},
		{"a step awaiting approval: not done", []v1.StepState{v1.StepAwaitingApproval, v1.StepSucceeded}, false},
		{"a running step: not done", []v1.StepState{v1.StepSucceeded, v1.StepRunning}, false},
		{"a failed step does not complete the plan", []v1.StepState{v1.StepSucceeded, v1.StepFailed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planDone(decRecorded(tc.states...)); got != tc.done {
				t.Errorf("planDone = %t, want %t", got, tc.done)
			}
		})
	}
	t.Run("records are found by index, not by position", func(t *testing.T) {
		tr := decRecorded(v1.StepSucceeded, v1.StepPending)
		slices.Reverse(tr.Status.Steps)
		if planDone(tr) {
			t.Error("planDone with step 1 pending")
		}
	})
}

func TestDecideNextStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []v1.StepState
		want   int // -1: none
	}{
		{"the first pending step is next", []v1.StepState{v1.StepSucceeded, v1.StepPending, v1.StepPending}, 1},
		{"a step awaiting approval is next", []v1.StepState{v1.StepSkipped, v1.StepAwaitingApproval, v1.StepPending}, 1},
		{"a running step is not next: the one after it is", []v1.StepState{v1.StepRunning, v1.StepPending}, 1},
		{"nothing left to run: none", []v1.StepState{v1.StepSucceeded, v1.StepDryRun, v1.StepSkipped}, -1},
		{"a running last step leaves none", []v1.StepState{v1.StepSucceeded, v1.StepRunning}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := decRecorded(tc.states...)
			got := nextStep(tr)
			switch {
			case tc.want < 0 && got != nil:
				t.Errorf("nextStep = step %d, want none", got.Index)
			case tc.want >= 0 && got == nil:
				t.Errorf("nextStep = none, want step %d", tc.want)
			case tc.want >= 0 && got.Index != int32(tc.want):
				t.Errorf("nextStep = step %d, want step %d", got.Index, tc.want)
			case tc.want >= 0 && got != &tr.Status.Steps[tc.want]:
				t.Error("nextStep returned a copy, not the status record")
			}
		})
	}
}

func TestDecideInitRecords(t *testing.T) {
	t.Run("a new plan gets one Pending record per step, in order", func(t *testing.T) {
		tr := &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Steps: decPlan(v1.StepNotify, v1.StepSyncDevice, v1.StepWipe)}}
		initRecords(tr)
		want := []v1.StepRecord{{Index: 0, Action: v1.StepNotify, State: v1.StepPending},
			{Index: 1, Action: v1.StepSyncDevice, State: v1.StepPending}, {Index: 2, Action: v1.StepWipe, State: v1.StepPending}}
		if !reflect.DeepEqual(tr.Status.Steps, want) {
			t.Errorf("records = %+v, want %+v", tr.Status.Steps, want)
		}
	})
	t.Run("a second call adds nothing", func(t *testing.T) {
		tr := &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Steps: decPlan(v1.StepNotify, v1.StepSyncDevice)}}
		initRecords(tr)
		initRecords(tr)
		if len(tr.Status.Steps) != 2 {
			t.Errorf("%d records for 2 steps", len(tr.Status.Steps))
		}
	})
	t.Run("a step added to the plan gets its record; the others keep theirs", func(t *testing.T) {
		started := metav1.NewTime(decT0)
		tr := &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Steps: decPlan(v1.StepNotify, v1.StepRemoteLock)}}
		tr.Status.Steps = []v1.StepRecord{{Index: 0, Action: v1.StepNotify, State: v1.StepSucceeded, StartedAt: &started, Message: "user notified"}}
		initRecords(tr)
		if len(tr.Status.Steps) != 2 {
			t.Fatalf("records = %+v", tr.Status.Steps)
		}
		if r := tr.Status.Steps[0]; r.State != v1.StepSucceeded || r.Message != "user notified" || r.StartedAt != &started {
			t.Errorf("the existing record changed: %+v", r)
		}
		if r := tr.Status.Steps[1]; r != (v1.StepRecord{Index: 1, Action: v1.StepRemoteLock, State: v1.StepPending}) {
			t.Errorf("new record = %+v", r)
		}
	})
	for _, tc := range []struct {
		state  v1.StepState
		follow bool
	}{
		{v1.StepPending, true},
		{v1.StepAwaitingApproval, true},
		{v1.StepRunning, false},
		{v1.StepSucceeded, false},
		{v1.StepFailed, false},
		{v1.StepSkipped, false},
		{v1.StepDryRun, false},
	} {
		name := "a " + string(tc.state) + " record keeps the action it ran when the plan is edited"
		if tc.follow {
			name = "a " + string(tc.state) + " record follows an edited plan"
		}
		t.Run(name, func(t *testing.T) {
			tr := &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Steps: decPlan(v1.StepNotify, v1.StepSyncDevice)}}
			tr.Status.Steps = []v1.StepRecord{
				{Index: 0, Action: v1.StepNotify, State: v1.StepSucceeded},
				{Index: 1, Action: v1.StepRetire, State: tc.state, Message: "as it was"},
			}
			initRecords(tr)
			want := v1.StepRetire
			if tc.follow {
				want = v1.StepSyncDevice
			}
			r := tr.Status.Steps[1]
			if r.Action != want {
				t.Errorf("record action = %s, want %s", r.Action, want)
			}
			if r.State != tc.state || r.Message != "as it was" {
				t.Errorf("record state or message changed: %+v", r)
			}
			if len(tr.Status.Steps) != 2 {
				t.Errorf("%d records for 2 steps", len(tr.Status.Steps))
			}
		})
	}
}

func TestDecideNotice(t *testing.T) {
	pass := func(device string, threat *v1.ThreatReference) *remediationPass {
		tr := &v1.ThreatRemediation{Spec: v1.ThreatRemediationSpec{Threat: threat}}
		tr.Status.DeviceName = device
		return &remediationPass{tr: tr}
	}
	const tail = ". Open the BlackBerry Protect app and follow its steps; company e-mail and apps are blocked until the device is secure."
	alert := &v1.ThreatReference{Source: v1.SourceUESModelledAPI, AlertID: "a-1", Type: "maliciousApplication", Risk: "high", Detail: "com.evil.flashlight"}
	for _, tc := range []struct {
		name string
		p    *remediationPass
		step v1.RemediationStep
		want string
	}{
		{"the step's message wins over the threat", pass("Pixel 8", alert), v1.RemediationStep{Action: v1.StepNotify, Message: "Call the help desk."},
			"Call the help desk."},
		{"a threat with a type and a detail names both", pass("Pixel 8", alert), v1.RemediationStep{Action: v1.StepNotify},
			"BlackBerry Protect found a threat on Pixel 8: maliciousApplication (com.evil.flashlight)" + tail},
		{"a threat with a type and no detail names the type", pass("Pixel 8", &v1.ThreatReference{Type: "jailbrokenOrRooted", Risk: "high"}), v1.RemediationStep{Action: v1.StepNotify},
			"BlackBerry Protect found a threat on Pixel 8: jailbrokenOrRooted" + tail},
		{"an Intune-sourced threat (no type) says how bad, not what, and leaves out the detail",
			pass("Pixel 8", &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high", Detail: "BlackBerry reported highSeverity to Intune"}),
			v1.RemediationStep{Action: v1.StepNotify},
			"BlackBerry Protect found a threat on Pixel 8: a threat BlackBerry rates high risk" + tail},
		{"an Intune-sourced threat at medium risk says medium", pass("iPhone", &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "medium"}),
			v1.RemediationStep{Action: v1.StepNotify},
			"BlackBerry Protect found a threat on iPhone: a threat BlackBerry rates medium risk" + tail},
		{"a device without a name is your device", pass("", alert), v1.RemediationStep{Action: v1.StepNotify},
			"BlackBerry Protect found a threat on your device: maliciousApplication (com.evil.flashlight)" + tail},
		{"a hand-made remediation asks the user to contact IT", pass("Pixel 8", nil), v1.RemediationStep{Action: v1.StepNotify},
			"Your IT department needs you to act on Pixel 8; please contact them."},
		{"a hand-made remediation of an unnamed device says your device", pass("", nil), v1.RemediationStep{Action: v1.StepNotify},
			"Your IT department needs you to act on your device; please contact them."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := notice(tc.p, tc.step); got != tc.want {
				t.Errorf("notice\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestDecideAfter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after *metav1.Duration
		want  time.Duration
	}{
		{"no after is due at detection", nil, 0},
		{"after 0s is due at detection", decDur(0), 0},
		{"after 15m is due 15 minutes after detection", decDur(15 * time.Minute), 15 * time.Minute},
		{"after 72h is due three days after detection", decDur(72 * time.Hour), 72 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := after(v1.RemediationStep{Action: v1.StepNotify, After: tc.after}); got != tc.want {
				t.Errorf("after = %s, want %s", got, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// threatremediation_device.go

func TestDecideResolution(t *testing.T) {
	observed := metav1.NewTime(decT0)
	type pass struct {
		removed    bool
		handMade   bool
		noDevice   bool
		compliance string
		threat     string // partnerReportedThreatState
		minRisk    v1.ThreatRiskLevel
		observed   bool
		seenAfter  time.Duration // seenAt - riskObservedAt
		alert      string        // the alert-status annotation
	}
	build := func(c pass) *remediationPass {
		conn := &v1.MTDConnector{}
		conn.Spec.ThreatSync.MinimumRisk = c.minRisk
		tr := &v1.ThreatRemediation{}
		if !c.handMade {
			tr.Spec.Threat = &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high", DetectedAt: &observed}
		}
		if c.observed {
			at := observed
			tr.Status.RiskObservedAt = &at
		}
		if c.alert != "" {
			tr.Annotations = map[string]string{AnnotationAlertStatus: c.alert}
		}
		p := &remediationPass{tr: tr, conn: conn, removed: c.removed, seenAt: decT0.Add(c.seenAfter)}
		if !c.noDevice && !c.removed {
			p.device = &intune.ManagedDevice{ID: decIntune, ComplianceState: c.compliance, PartnerReportedThreatState: c.threat}
		}
		return p
	}
	later := 5 * time.Minute
	for _, tc := range []struct {
		name   string
		p      pass
		reason string // "" = not resolved
		msg    string // a part of the message
	}{
		{"a device that left Intune is DeviceRemoved", pass{removed: true}, ReasonDeviceRemoved, "no longer managed"},
		{"a hand-made remediation whose device left Intune is DeviceRemoved", pass{removed: true, handMade: true}, ReasonDeviceRemoved, "retired or wiped"},
		{"a hand-made remediation never resolves by risk", pass{handMade: true, compliance: "compliant", threat: "secured", observed: true, seenAfter: later}, "", ""},
		{"a hand-made remediation never resolves by an alert status", pass{handMade: true, compliance: "compliant", alert: ues.AlertResolved}, "", ""},
		{"no device seen yet: not resolved", pass{noDevice: true, observed: true, seenAfter: later}, "", ""},
		{"secured and compliant in a later view resolves", pass{compliance: "compliant", threat: "secured", observed: true, seenAfter: later},
			ReasonThreatResolved, "secured and Intune reports it compliant"},
		{"secured and compliant exactly 1 s after Intune reported the risk resolves", pass{compliance: "compliant", threat: "secured", observed: true, seenAfter: time.Second},
			ReasonThreatResolved, "secured"},
		{"secured and compliant in the same view that saw the risk does not resolve", pass{compliance: "compliant", threat: "secured", observed: true}, "", ""},
		{"secured and compliant less than 1 s after the risk does not resolve (times are stored to the second)",
			pass{compliance: "compliant", threat: "secured", observed: true, seenAfter: 999 * time.Millisecond}, "", ""},
		{"secured and compliant before Intune ever reported the risk does not resolve", pass{compliance: "compliant", threat: "secured", seenAfter: later}, "", ""},
		{"a view older than the risk does not resolve", pass{compliance: "compliant", threat: "secured", observed: true, seenAfter: -time.Minute}, "", ""},
		{"secured but noncompliant does not resolve", pass{compliance: "noncompliant", threat: "secured", observed: true, seenAfter: later}, "", ""},
		{"secured but in grace period does not resolve", pass{compliance: "inGracePeriod", threat: "secured", observed: true, seenAfter: later}, "", ""},
		{"low risk below the default minimumRisk (high) and compliant resolves", pass{compliance: "compliant", threat: "lowSeverity", observed: true, seenAfter: later},
			ReasonThreatResolved, "at low risk, below the connector's minimumRisk high"},
		{"medium risk below minimumRisk high and compliant resolves", pass{compliance: "compliant", threat: "mediumSeverity", minRisk: "high", observed: true, seenAfter: later},
			ReasonThreatResolved, "at medium risk"},
		{"medium risk at minimumRisk medium does not resolve", pass{compliance: "compliant", threat: "mediumSeverity", minRisk: "medium", observed: true, seenAfter: later}, "", ""},
		{"low risk below minimumRisk medium resolves", pass{compliance: "compliant", threat: "lowSeverity", minRisk: "medium", observed: true, seenAfter: later},
			ReasonThreatResolved, "below the connector's minimumRisk medium"},
		{"low risk at minimumRisk low does not resolve", pass{compliance: "compliant", threat: "lowSeverity", minRisk: "low", observed: true, seenAfter: later}, "", ""},
		{"high risk and compliant does not resolve", pass{compliance: "compliant", threat: "highSeverity", observed: true, seenAfter: later}, "", ""},
		{"compromised (read as high) and compliant does not resolve", pass{compliance: "compliant", threat: "compromised", observed: true, seenAfter: later}, "", ""},
		{"an unassessed device (unknown risk) does not resolve", pass{compliance: "compliant", threat: "unknown", observed: true, seenAfter: later}, "", ""},
		{"no reported risk at all does not resolve", pass{compliance: "compliant", threat: "", observed: true, seenAfter: later}, "", ""},
		{"an alert resolved in UES and a compliant device resolves, without waiting for Intune's risk",
			pass{compliance: "compliant", threat: "highSeverity", alert: ues.AlertResolved}, ReasonThreatResolved, "the alert is resolved in UES"},
		{"an alert ignored in UES and a compliant device resolves", pass{compliance: "compliant", threat: "highSeverity", alert: ues.AlertIgnored},
			ReasonThreatResolved, "the alert is ignored in UES"},
		{"an alert resolved but a noncompliant device does not resolve", pass{compliance: "noncompliant", alert: ues.AlertResolved}, "", ""},
		{"an active alert does not resolve", pass{compliance: "compliant", threat: "highSeverity", alert: ues.AlertActive, observed: true, seenAfter: later}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg, ok := resolution(build(tc.p))
			if ok != (tc.reason != "") || reason != tc.reason {
				t.Fatalf("resolution = %q, %q, %t; want reason %q", reason, msg, ok, tc.reason)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q", msg, tc.msg)
			}
			if ok && msg == "" {
				t.Error("resolved without a message")
			}
		})
	}
}

func TestDecideOpenPhase(t *testing.T) {
	rec := func(a v1.StepAction, s v1.StepState) v1.StepRecord { return v1.StepRecord{Action: a, State: s} }
	for _, tc := range []struct {
		name       string
		compliance string // "" = no device
		records    []v1.StepRecord
		want       v1.RemediationPhase
	}{
		{"nothing ran and Intune has not blocked the device: Pending", "compliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepPending)}, v1.PhasePending},
		{"nothing ran and no device is known: Pending", "", nil, v1.PhasePending},
		{"a device in grace period is not yet Blocked", "inGracePeriod", nil, v1.PhasePending},
		{"Intune reports the device noncompliant: Blocked", "noncompliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepPending)}, v1.PhaseBlocked},
		{"notify ran: AwaitingUser, even while blocked", "noncompliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepSucceeded), rec(v1.StepSyncDevice, v1.StepPending)}, v1.PhaseAwaitingUser},
		{"notify only dry-run is not a notification", "noncompliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepDryRun)}, v1.PhaseBlocked},
		{"a step beyond notify ran: Escalated", "noncompliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepSucceeded), rec(v1.StepSyncDevice, v1.StepSucceeded)}, v1.PhaseEscalated},
		{"a lock that ran without a notify first: Escalated", "compliant", []v1.StepRecord{rec(v1.StepRemoteLock, v1.StepSucceeded)}, v1.PhaseEscalated},
		{"a failed step beyond notify is not an escalation", "noncompliant", []v1.StepRecord{rec(v1.StepNotify, v1.StepSucceeded), rec(v1.StepWipe, v1.StepFailed)}, v1.PhaseAwaitingUser},
		{"a running or skipped step beyond notify is not an escalation", "compliant",
			[]v1.StepRecord{rec(v1.StepRetire, v1.StepRunning), rec(v1.StepIgnoreAlert, v1.StepSkipped)}, v1.PhasePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &remediationPass{tr: &v1.ThreatRemediation{}}
			p.tr.Status.Steps = tc.records
			if tc.compliance != "" {
				p.device = &intune.ManagedDevice{ID: decIntune, ComplianceState: tc.compliance}
			}
			if got := openPhase(p); got != tc.want {
				t.Errorf("openPhase = %s, want %s", got, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// threatsync_intake.go

func TestDecideRemediationName(t *testing.T) {
	long := strings.Repeat("ab", 150) // a 300-character id
	for _, tc := range []struct {
		name    string
		id      string
		episode int
		want    string // "" = only check validity
	}{
		{"a GUID gives risk-<id>-<episode>", strings.ToLower(decIntune), 1, "risk-0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f-1"},
		{"the id is lower-cased, so both spellings of one device meet", decIntune, 1, "risk-0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f-1"},
		{"the episode is the suffix", decIntune, 12, "risk-0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f-12"},
		{"an id that is not a GUID keeps a readable prefix and gains a hash", "Device_ID 42", 1, "risk-device-id-42-3bada193ef716b16-1"},
		{"a braced GUID is not a GUID: it is hashed too", "{" + decIntune + "}.", 3, ""},
		{"a very long id still gives a valid name", long, 2, ""},
		{"an underscore next to a dot still gives a valid name", "abc_.def", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := remediationName(tc.id, tc.episode)
			if tc.want != "" && got != tc.want {
				t.Errorf("remediationName(%q, %d) = %q, want %q", tc.id, tc.episode, got, tc.want)
			}
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("remediationName(%q, %d) = %q, not a valid object name: %s", tc.id, tc.episode, got, strings.Join(errs, "; "))
			}
			if suffix := fmt.Sprintf("-%d", tc.episode); !strings.HasSuffix(got, suffix) {
				t.Errorf("%q does not end in the episode %q", got, suffix)
			}
			if again := remediationName(tc.id, tc.episode); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
	t.Run("two episodes of a device have different names", func(t *testing.T) {
		if remediationName(decIntune, 1) == remediationName(decIntune, 2) {
			t.Error("episodes 1 and 2 share a name")
		}
	})
	t.Run("two devices have different names", func(t *testing.T) {
		if remediationName(decIntune, 1) == remediationName(decEntra, 1) {
			t.Error("two devices share a name")
		}
	})
	t.Run("two ids that sanitise alike have different names", func(t *testing.T) {
		if a, b := remediationName("a_b", 1), remediationName("a-b", 1); a == b {
			t.Errorf("both are %q", a)
		}
	})
	t.Run("two long ids that differ only at the end have different names", func(t *testing.T) {
		a, b := remediationName(long+"1", 1), remediationName(long+"2", 1)
		if a == b {
			t.Errorf("both are %q: the second device's create meets AlreadyExists and it is never followed", a)
		}
	})
}

func TestDecideGUID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		want     v1.GUID
	}{
		{"a lower-case GUID is kept", strings.ToLower(decEntra), v1.GUID(strings.ToLower(decEntra))},
		{"an upper-case GUID is kept as given", decEntra, decEntra},
		{"the zero GUID (not registered in Entra) is dropped", decZero, ""},
		{"an empty id is dropped", "", ""},
		{"a non-GUID is dropped", "not-a-guid", ""},
		{"a GUID in braces is dropped", "{" + decEntra + "}", ""},
		{"a GUID with surrounding space is dropped", " " + decEntra + " ", ""},
		{"a GUID without dashes is dropped", strings.ReplaceAll(decEntra, "-", ""), ""},
		{"a GUID with a non-hex digit is dropped", "g" + decEntra[1:], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := guid(tc.id); got != tc.want {
				t.Errorf("guid(%q) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}

func TestDecideDetectionType(t *testing.T) {
	for _, typ := range v1.DetectionTypes {
		t.Run("the API's type "+string(typ)+" is kept", func(t *testing.T) {
			if got := detectionType(string(typ)); got != typ {
				t.Errorf("detectionType(%q) = %q", typ, got)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"a type this API version does not know is dropped", "quantumTunnelling"},
		{"an empty type is dropped", ""},
		{"a known type in another case is dropped (the CRD's enum is case-sensitive)", "MaliciousApplication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := detectionType(tc.in); got != "" {
				t.Errorf("detectionType(%q) = %q, want none", tc.in, got)
			}
		})
	}
}

func TestDecideWithEntry(t *testing.T) {
	t.Run("an empty value leaves a nil map nil", func(t *testing.T) {
		if got := withEntry(nil, "k", ""); got != nil {
			t.Errorf("withEntry = %v", got)
		}
	})
	t.Run("a value makes the map when it is nil", func(t *testing.T) {
		got := withEntry(nil, "k", "v")
		if !reflect.DeepEqual(got, map[string]string{"k": "v"}) {
			t.Errorf("withEntry = %v", got)
		}
	})
	t.Run("a value is set in the given map", func(t *testing.T) {
		m := map[string]string{"a": "1", "k": "old"}
		got := withEntry(m, "k", "new")
		if !reflect.DeepEqual(got, map[string]string{"a": "1", "k": "new"}) || m["k"] != "new" {
			t.Errorf("withEntry = %v, given map %v", got, m)
		}
	})
	t.Run("an empty value never clears an existing entry", func(t *testing.T) {
		got := withEntry(map[string]string{"k": "kept"}, "k", "")
		if got["k"] != "kept" {
			t.Errorf("withEntry = %v", got)
		}
	})
}

func TestDecideRemediationFor(t *testing.T) {
	conn := func(mod func(*v1.MTDConnector)) *v1.MTDConnector {
		c := &v1.MTDConnector{ObjectMeta: metav1.ObjectMeta{Name: "blackberry", Namespace: "mtd"}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	device := &intune.ManagedDevice{ID: decIntune, AzureADDeviceID: decEntra, DeviceName: "Pixel 8"}
	intuneRisk := func() *v1.ThreatReference {
		return &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high", Detail: "BlackBerry reported highSeverity to Intune"}
	}
	detected := decT0.Add(-30 * time.Second)

	t.Run("an Intune-sourced episode: name, labels, device, threat, default plan", func(t *testing.T) {
		threat := intuneRisk()
		tr := remediationFor(conn(nil), device, 3, threat, detected, "")
		if tr.Name != remediationName(decIntune, 3) || tr.Namespace != "mtd" {
			t.Errorf("object = %s/%s", tr.Namespace, tr.Name)
		}
		wantLabels := map[string]string{
			LabelConnector:    "blackberry",
			LabelIntuneDevice: strings.ToLower(decIntune),
			LabelEpisode:      "3",
			LabelDevice:       strings.ToLower(decEntra),
		}
		if !reflect.DeepEqual(tr.Labels, wantLabels) {
			t.Errorf("labels = %v, want %v", tr.Labels, wantLabels)
		}
		if len(tr.Annotations) != 0 {
			t.Errorf("annotations = %v, want none without an alert", tr.Annotations)
		}
		if tr.Spec.ConnectorRef.Name != "blackberry" {
			t.Errorf("connectorRef = %q", tr.Spec.ConnectorRef.Name)
		}
		if tr.Spec.Device != (v1.DeviceReference{IntuneDeviceID: decIntune, EntraDeviceID: decEntra}) {
			t.Errorf("device = %+v", tr.Spec.Device)
		}
		got := tr.Spec.Threat
		if got == nil || got.DetectedAt == nil || !got.DetectedAt.Time.Equal(detected) {
			t.Fatalf("threat = %+v, want detectedAt %s", got, detected)
		}
		if got.Source != v1.SourceIntuneDeviceRisk || got.Risk != "high" || got.Detail != threat.Detail || got.AlertID != "" {
			t.Errorf("threat = %+v", got)
		}
		if threat.DetectedAt != nil {
			t.Error("the caller's threat was changed")
		}
		if got == threat {
			t.Error("the remediation shares the caller's threat")
		}
		wantSteps := []v1.StepAction{v1.StepNotify, v1.StepSyncDevice}
		if len(tr.Spec.Steps) != 2 || tr.Spec.Steps[0].Action != wantSteps[0] || tr.Spec.Steps[1].Action != wantSteps[1] {
			t.Fatalf("steps = %+v, want notify then syncDevice", tr.Spec.Steps)
		}
		if after(tr.Spec.Steps[0]) != 0 || after(tr.Spec.Steps[1]) != 15*time.Minute {
			t.Errorf("default plan is due at %s and %s, want 0s and 15m", after(tr.Spec.Steps[0]), after(tr.Spec.Steps[1]))
		}
		if tr.Spec.DryRun {
			t.Error("a dry run")
		}
	})

	t.Run("the connector's default plan replaces the built-in one", func(t *testing.T) {
		plan := []v1.RemediationStep{{Action: v1.StepNotify, After: decDur(time.Hour)}, {Action: v1.StepWipe, RequiresApproval: true, After: decDur(48 * time.Hour)}}
		tr := remediationFor(conn(func(c *v1.MTDConnector) { c.Spec.ThreatSync.DefaultPlan = plan }), device, 1, intuneRisk(), detected, "")
		if !reflect.DeepEqual(tr.Spec.Steps, plan) {
			t.Errorf("steps = %+v, want the connector's %+v", tr.Spec.Steps, plan)
		}
	})

	t.Run("each remediation owns its plan: changing one leaves the connector's defaultPlan alone", func(t *testing.T) {
		c := conn(func(c *v1.MTDConnector) {
			c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{{Action: v1.StepNotify}, {Action: v1.StepRemoteLock}}
		})
		a := remediationFor(c, device, 1, intuneRisk(), detected, "")
		a.Spec.Steps[1].Action = v1.StepWipe // as decoding the API server's answer into it would
		if got := c.Spec.ThreatSync.DefaultPlan[1].Action; got != v1.StepRemoteLock {
			t.Errorf("the connector's defaultPlan[1] became %s: remediations share its backing array", got)
		}
	})

	t.Run("the built-in plan is fresh each time", func(t *testing.T) {
		a := remediationFor(conn(nil), device, 1, intuneRisk(), detected, "")
		a.Spec.Steps[1].After.Duration = time.Minute
		b := remediationFor(conn(nil), device, 2, intuneRisk(), detected, "")
		if after(b.Spec.Steps[1]) != 15*time.Minute {
			t.Errorf("the second remediation's syncDevice is due after %s", after(b.Spec.Steps[1]))
		}
	})

	t.Run("an alert-sourced episode carries the threat type label and the alert status", func(t *testing.T) {
		threat := &v1.ThreatReference{Source: v1.SourceUESModelledAPI, AlertID: "alert-7", Type: "manInTheMiddle", Risk: "high", Detail: "rogue access point"}
		tr := remediationFor(conn(nil), device, 1, threat, detected, ues.AlertActive)
		if tr.Labels[LabelThreatType] != "manInTheMiddle" {
			t.Errorf("threat-type label = %q", tr.Labels[LabelThreatType])
		}
		if tr.Annotations[AnnotationAlertStatus] != ues.AlertActive {
			t.Errorf("alert-status annotation = %q", tr.Annotations[AnnotationAlertStatus])
		}
		if tr.Spec.Threat.AlertID != "alert-7" || !tr.Spec.Threat.DetectedAt.Time.Equal(detected) {
			t.Errorf("threat = %+v", tr.Spec.Threat)
		}
	})

	t.Run("a device not registered in Entra gets no device label and no Entra id", func(t *testing.T) {
		d := &intune.ManagedDevice{ID: decIntune, AzureADDeviceID: decZero}
		tr := remediationFor(conn(nil), d, 1, intuneRisk(), detected, "")
		if v, ok := tr.Labels[LabelDevice]; ok {
			t.Errorf("device label = %q", v)
		}
		if tr.Spec.Device.EntraDeviceID != "" || tr.Spec.Device.IntuneDeviceID != decIntune {
			t.Errorf("device = %+v", tr.Spec.Device)
		}
	})

	t.Run("a non-GUID Intune id is not put in spec.device", func(t *testing.T) {
		d := &intune.ManagedDevice{ID: "legacy-42", AzureADDeviceID: decEntra}
		tr := remediationFor(conn(nil), d, 1, intuneRisk(), detected, "")
		if tr.Spec.Device.IntuneDeviceID != "" || tr.Spec.Device.EntraDeviceID != decEntra {
			t.Errorf("device = %+v", tr.Spec.Device)
		}
		if tr.Labels[LabelIntuneDevice] != "legacy-42" {
			t.Errorf("intune-device label = %q", tr.Labels[LabelIntuneDevice])
		}
	})
}

// ---------------------------------------------------------------------------------------
// threatsync.go

func TestDecideDeviceCounts(t *testing.T) {
	earlier := metav1.NewTime(decT0.Add(-72 * time.Hour))
	devs := func(states ...string) []intune.ManagedDevice {
		out := make([]intune.ManagedDevice, len(states))
		for i, s := range states {
			out[i] = intune.ManagedDevice{ID: fmt.Sprintf("d%d", i), PartnerReportedThreatState: s}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		states []string
		prev   *v1.DeviceRiskCounts
		counts v1.DeviceRiskCounts // without AllSecuredSince
		since  *time.Time
	}{
		{"devices are counted by risk, compromised as high, unassessed only in the total",
			[]string{"secured", "lowSeverity", "mediumSeverity", "mediumSeverity", "highSeverity", "compromised", "unknown", "activated", ""}, nil,
			v1.DeviceRiskCounts{Secured: 1, Low: 1, Medium: 2, High: 2, Total: 9}, nil},
		{"every assessed device secured: secured since this snapshot",
			[]string{"secured", "secured"}, nil, v1.DeviceRiskCounts{Secured: 2, Total: 2}, &decT0},
		{"unassessed devices do not stop all secured",
			[]string{"secured", "unknown", ""}, nil, v1.DeviceRiskCounts{Secured: 1, Total: 3}, &decT0},
		{"still all secured: the earlier time is carried over",
			[]string{"secured"}, &v1.DeviceRiskCounts{Secured: 1, Total: 1, AllSecuredSince: &earlier},
			v1.DeviceRiskCounts{Secured: 1, Total: 1}, &earlier.Time},
		{"all secured after some risk: since this snapshot",
			[]string{"secured"}, &v1.DeviceRiskCounts{Secured: 0, High: 1, Total: 1},
			v1.DeviceRiskCounts{Secured: 1, Total: 1}, &decT0},
		{"one device at risk clears allSecuredSince",
			[]string{"secured", "lowSeverity"}, &v1.DeviceRiskCounts{Secured: 2, Total: 2, AllSecuredSince: &earlier},
			v1.DeviceRiskCounts{Secured: 1, Low: 1, Total: 2}, nil},
		{"no device assessed: not all secured",
			[]string{"unknown", "activated"}, &v1.DeviceRiskCounts{Secured: 1, Total: 1, AllSecuredSince: &earlier},
			v1.DeviceRiskCounts{Total: 2}, nil},
		{"no device at all: zero counts, not all secured", nil, nil, v1.DeviceRiskCounts{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := deviceCounts(snapshot.New(decT0, devs(tc.states...)), tc.prev)
			if got == nil {
				t.Fatal("deviceCounts = nil")
			}
			counts := *got
			counts.AllSecuredSince, counts.Platforms = nil, nil
			if !reflect.DeepEqual(counts, tc.counts) {
				t.Errorf("counts = %+v, want %+v", counts, tc.counts)
			}
			switch {
			case tc.since == nil && got.AllSecuredSince != nil:
				t.Errorf("allSecuredSince = %s, want unset", got.AllSecuredSince)
			case tc.since != nil && got.AllSecuredSince == nil:
				t.Errorf("allSecuredSince unset, want %s", tc.since)
			case tc.since != nil && !got.AllSecuredSince.Time.Equal(*tc.since):
				t.Errorf("allSecuredSince = %s, want %s", got.AllSecuredSince, tc.since)
			}
			if tc.prev != nil && got == tc.prev {
				t.Error("the previous counts were returned, not new ones")
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// pacing.go

func decOutbound(kind outbound.Kind, retryAfter time.Duration) error {
	return &outbound.Error{Service: "graph", Operation: "ListManagedDevices", Kind: kind, RetryAfter: retryAfter}
}

func TestDecideRequeueFor(t *testing.T) {
	plain := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name     string
		err      error
		after    time.Duration
		returned bool // the error goes back to controller-runtime's backoff
	}{
		{"no error: nothing to pace", nil, 0, false},
		{"throttled waits out Retry-After", decOutbound(outbound.Throttled, 30*time.Second), 30 * time.Second, false},
		{"throttled with a Retry-After of 0 waits 1 s, never a hot loop", decOutbound(outbound.Throttled, 0), time.Second, false},
		{"throttled with a Retry-After under 1 s waits 1 s", decOutbound(outbound.Throttled, 200*time.Millisecond), time.Second, false},
		{"a wrapped throttle is still a throttle", fmt.Errorf("listing devices: %w", decOutbound(outbound.Throttled, 2*time.Minute)), 2 * time.Minute, false},
		{"terminal waits an hour for a fix outside Kubernetes", decOutbound(outbound.Terminal, 0), time.Hour, false},
		{"unauthorized is terminal: an hour", decOutbound(outbound.Unauthorized, 0), time.Hour, false},
		{"forbidden is terminal: an hour", decOutbound(outbound.Forbidden, 0), time.Hour, false},
		{"not found waits an hour", decOutbound(outbound.NotFound, 0), time.Hour, false},
		{"transient goes back to backoff", decOutbound(outbound.Transient, 5*time.Second), 0, true},
		{"conflict goes back to backoff", decOutbound(outbound.Conflict, 0), 0, true},
		{"an error that is not an outbound one goes back to backoff", plain, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := requeueFor(tc.err)
			if res.RequeueAfter != tc.after {
				t.Errorf("RequeueAfter = %s, want %s", res.RequeueAfter, tc.after)
			}
			if tc.returned && !errors.Is(err, tc.err) {
				t.Errorf("error = %v, want %v returned", err, tc.err)
			}
			if !tc.returned && err != nil {
				t.Errorf("error = %v, want none (paced by RequeueAfter)", err)
			}
			if tc.err != nil && !tc.returned && res.RequeueAfter < time.Second {
				t.Errorf("RequeueAfter = %s: a hot loop", res.RequeueAfter)
			}
		})
	}
}

func TestDecideReasonFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"Unauthorized is AuthenticationFailed", decOutbound(outbound.Unauthorized, 0), "AuthenticationFailed"},
		{"Forbidden is Forbidden", decOutbound(outbound.Forbidden, 0), "Forbidden"},
		{"Throttled is Throttled", decOutbound(outbound.Throttled, time.Second), "Throttled"},
		{"NotFound is NotFound", decOutbound(outbound.NotFound, 0), "NotFound"},
		{"Conflict is Conflict", decOutbound(outbound.Conflict, 0), "Conflict"},
		{"Terminal is Rejected", decOutbound(outbound.Terminal, 0), "Rejected"},
		{"Transient is Unavailable", decOutbound(outbound.Transient, 0), "Unavailable"},
		{"a wrapped outbound error is named by its kind", fmt.Errorf("patching: %w", decOutbound(outbound.Forbidden, 0)), "Forbidden"},
		{"an error that is not an outbound one is Unavailable", errors.New("dial tcp: i/o timeout"), "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reasonFor(tc.err); got != tc.want {
				t.Errorf("reasonFor(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestDecideSyslogHints(t *testing.T) {
	now := decT0
	h := NewSyslogHints(func() time.Time { return now })
	h.max = 2
	a, b := h.forConnector("conn-a"), h.forConnector("conn-b")
	first := &v1.ThreatReference{Source: v1.SourceUESSyslog, AlertID: "a-1", Type: "maliciousApplication", Detail: "Evil"}
	if !a.hold("DEV-1", first, now) || !a.known("a-1") {
		t.Fatal("the first alert was not held")
	}
	if b.known("a-1") {
		t.Fatal("another connector sees the alert: hints cross tenants")
	}
	// A later alert of the same device is known (a redelivery is a no-op) but the first stays.
	if !a.hold("dev-1", &v1.ThreatReference{AlertID: "a-2", Type: "jailbrokenOrRooted"}, now) || !a.known("a-2") {
		t.Fatal("the second alert was not recorded")
	}
	if a.hold("dev-2", &v1.ThreatReference{AlertID: "a-3"}, now) {
		t.Fatal("held beyond the store's bound")
	}
	got, at, ok := a.take("dev-1")
	if !ok || got.AlertID != "a-1" || !at.Equal(now) {
		t.Fatalf("take = %+v %v %v, want the first alert", got, at, ok)
	}
	if _, _, ok := a.take("dev-1"); ok {
		t.Fatal("a hint was taken twice")
	}
	now = now.Add(time.Hour + time.Second)
	if a.known("a-2") {
		t.Fatal("an hour-old alert id is still known")
	}
	if !a.hold("dev-3", &v1.ThreatReference{AlertID: "a-4"}, now) {
		t.Fatal("the store did not free its expired entries")
	}
	// A device's hint older than the ttl gives way to its next alert.
	h.max = 10
	now = now.Add(time.Hour + time.Second)
	if !a.hold("dev-3", &v1.ThreatReference{AlertID: "a-5"}, now) {
		t.Fatal("the next alert was not held")
	}
	if got, _, ok := a.take("dev-3"); !ok || got.AlertID != "a-5" {
		t.Fatalf("take = %+v %v, want the fresh alert a-5", got, ok)
	}
	var none *SyslogHints
	if none.forConnector("x").hold("d", first, now) {
		t.Fatal("a nil store held an alert")
	}
}

func TestDecidePorts(t *testing.T) {
	p, err := ParsePorts(" 6514, 6600-6602,6514 ")
	if err != nil || p.String() != "6514,6600,6601,6602" || !p.Has(6601) || p.Has(6603) {
		t.Fatalf("ParsePorts = %v, %v", p, err)
	}
	for _, bad := range []string{"0", "70000", "6602-6600", "1-2000", "ssh"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
	if none, _ := ParsePorts(""); none.Has(6514) || none.String() != "none" {
		t.Errorf("the empty set = %v", none)
	}
}

func TestDecidePortReservations(t *testing.T) {
	ports, _ := ParsePorts("6514-6516")
	r, err := ParsePortReservations(" 6514=team-a, 6515=team-b ,", ports)
	if err != nil || len(r) != 2 || r[6514] != "team-a" || r[6515] != "team-b" {
		t.Fatalf("ParsePortReservations = %v, %v", r, err)
	}
	for _, bad := range []string{"6514", "6514=", "6514=Team_A", "7000=team-a", "x=team-a", "6514=a,6514=b"} {
		if _, err := ParsePortReservations(bad, ports); err == nil {
			t.Errorf("ParsePortReservations(%q) accepted", bad)
		}
	}
	if none, err := ParsePortReservations("", ports); err != nil || len(none) != 0 {
		t.Errorf("no reservations = %v, %v", none, err)
	}
}

func TestDecideDevicePlatform(t *testing.T) {
	devices := []intune.ManagedDevice{
		{ID: "fm", OperatingSystem: "Android", EnrollmentType: "androidEnterpriseFullyManaged", ManagementAgent: "googleCloudDevicePolicyController", OwnerType: "company"},
		{ID: "ded", OperatingSystem: "Android", EnrollmentType: "androidEnterpriseDedicatedDevice", OwnerType: "company"},
		{ID: "cope", OperatingSystem: "Android", EnrollmentType: "androidEnterpriseCorporateWorkProfile", OwnerType: "company"},
		{ID: "byod", OperatingSystem: "Android", EnrollmentType: "userEnrollment", ManagementAgent: "mdm", OwnerType: "personal"},
		{ID: "da", OperatingSystem: "Android", EnrollmentType: "userEnrollment", ManagementAgent: "mdm", OwnerType: "company"},
		{ID: "ios", OperatingSystem: "iOS"},
		{ID: "ipad", OperatingSystem: "iPadOS"},
		{ID: "win", OperatingSystem: "Windows"},
	}
	want := map[string]v1.Platform{"fm": v1.PlatformAndroidEnterprise, "ded": v1.PlatformAndroidEnterprise, "cope": v1.PlatformAndroidEnterprise,
		"byod": v1.PlatformAndroidWorkProfile, "da": v1.PlatformAndroid, "ios": v1.PlatformIOS, "ipad": v1.PlatformIOS, "win": ""}
	for i := range devices {
		if got := platformOf(&devices[i]); got != want[devices[i].ID] {
			t.Errorf("%s: platform %q, want %q", devices[i].ID, got, want[devices[i].ID])
		}
	}
	counts := deviceCounts(snapshot.New(decT0, devices), nil)
	wantCounts := map[v1.Platform]int32{v1.PlatformAndroidEnterprise: 3, v1.PlatformAndroidWorkProfile: 1, v1.PlatformAndroid: 1, v1.PlatformIOS: 2}
	if !reflect.DeepEqual(counts.Platforms, wantCounts) || counts.Total != 8 {
		t.Errorf("platform counts = %v (total %d), want %v of 8", counts.Platforms, counts.Total, wantCounts)
	}
}
