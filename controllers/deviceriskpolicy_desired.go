package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

// Well-known Entra application ids that Conditional Access targets.
const (
	AppExchangeOnline   = "00000002-0000-0ff1-ce00-000000000000"
	AppSharePointOnline = "00000003-0000-0ff1-ce00-000000000000" // also OneDrive for Business
	AppOffice365        = "Office365"
)

// policyTypeFor maps a platform to the compliance policy type that carries the MTD rule
// for it (internal/intune knows which of them only Graph beta serves).
var policyTypeFor = map[v1.Platform]intune.PolicyType{
	v1.PlatformAndroidEnterprise:  intune.AndroidDeviceOwnerCompliancePolicy,
	v1.PlatformAndroid:            intune.AndroidCompliancePolicy,
	v1.PlatformAndroidWorkProfile: intune.AndroidWorkProfileCompliancePolicy,
	v1.PlatformIOS:                intune.IOSCompliancePolicy,
}

// platformOf is the platform whose policy type governs a device ("" for none).
func platformOf(d *intune.ManagedDevice) v1.Platform {
	t := d.PolicyType()
	for p, pt := range policyTypeFor {
		if pt == t && t != "" {
			return p
		}
	}
	return ""
}

// caPlatformFor maps a platform to Conditional Access's device platform.
var caPlatformFor = map[v1.Platform]string{
	v1.PlatformAndroidEnterprise:  "android",
	v1.PlatformAndroid:            "android",
	v1.PlatformAndroidWorkProfile: "android",
	v1.PlatformIOS:                "iOS",
}

// desiredCompliancePolicy is the Intune policy a DeviceRiskPolicy declares for one
// platform.
func desiredCompliancePolicy(p *v1.DeviceRiskPolicy, platform v1.Platform) intune.CompliancePolicy {
	return intune.CompliancePolicy{
		Type:                    policyTypeFor[platform],
		DisplayName:             p.Spec.DisplayName,
		Description:             p.Spec.Description,
		ThreatProtectionEnabled: true,
		RequiredSecurityLevel:   string(p.Spec.MaxAllowedRisk),
		Actions:                 desiredActions(p.Spec.Actions),
		Assignments:             desiredAssignments(p.Spec.Assignments),
	}
}

// desiredActions always holds exactly one block action, as Intune requires.
func desiredActions(a v1.ComplianceActions) []intune.ScheduledAction {
	out := []intune.ScheduledAction{{ActionType: "block", GracePeriodHours: a.BlockGracePeriodHours}}
	for _, n := range a.Notifications {
		cc := make([]string, 0, len(n.CCGroupIDs))
		for _, g := range n.CCGroupIDs {
			cc = append(cc, string(g))
		}
		out = append(out, intune.ScheduledAction{ActionType: "notification", GracePeriodHours: n.AfterHours,
			NotificationTemplateID: string(n.TemplateID), NotificationMessageCCList: cc})
	}
	if a.RetireAfterDays != nil {
		out = append(out, intune.ScheduledAction{ActionType: "retire", GracePeriodHours: *a.RetireAfterDays * 24})
	}
	return out
}

func desiredAssignments(a v1.Assignments) []intune.AssignmentTarget {
	var out []intune.AssignmentTarget
	if a.AllUsers {
		out = append(out, intune.AssignmentTarget{Kind: intune.TargetAllLicensedUsers})
	}
	if a.AllDevices {
		out = append(out, intune.AssignmentTarget{Kind: intune.TargetAllDevices})
	}
	for _, g := range a.IncludeGroupIDs {
		out = append(out, intune.AssignmentTarget{Kind: intune.TargetGroup, GroupID: string(g)})
	}
	for _, g := range a.ExcludeGroupIDs {
		out = append(out, intune.AssignmentTarget{Kind: intune.TargetExclusionGroup, GroupID: string(g)})
	}
	return out
}

// propertiesPatch returns the PATCH that makes live's own properties match want, and
// the names of those that differ.
func propertiesPatch(want, live intune.CompliancePolicy) (intune.CompliancePolicyPatch, []string) {
	var patch intune.CompliancePolicyPatch
	var diffs []string
	if want.DisplayName != live.DisplayName {
		patch.DisplayName, diffs = &want.DisplayName, append(diffs, "displayName")
	}
	if want.Description != live.Description {
		patch.Description, diffs = &want.Description, append(diffs, "description")
	}
	if want.ThreatProtectionEnabled != live.ThreatProtectionEnabled {
		patch.ThreatProtectionEnabled, diffs = &want.ThreatProtectionEnabled, append(diffs, "deviceThreatProtectionEnabled")
	}
	if want.RequiredSecurityLevel != live.RequiredSecurityLevel {
		patch.RequiredSecurityLevel, diffs = &want.RequiredSecurityLevel, append(diffs, "deviceThreatProtectionRequiredSecurityLevel")
	}
	return patch, diffs
}

// sameSet says whether a and b hold the same elements, in any order (Intune does not
// keep one), comparing each by its key.
func sameSet[T any](a, b []T, key func(T) string) bool {
	keys := func(s []T) []string {
		out := make([]string, 0, len(s))
		for _, x := range s {
			out = append(out, key(x))
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(keys(a), keys(b))
}

// sameActions compares action sets regardless of order.
func sameActions(a, b []intune.ScheduledAction) bool {
	return sameSet(a, b, func(x intune.ScheduledAction) string {
		cc := lowerSorted(x.NotificationMessageCCList) // lower-cased, then sorted: ids compare case-insensitively
		return fmt.Sprintf("%s|%d|%s|%s", x.ActionType, x.GracePeriodHours, strings.ToLower(x.NotificationTemplateID), strings.Join(cc, ","))
	})
}

// sameAssignments compares assignment sets regardless of order.
func sameAssignments(a, b []intune.AssignmentTarget) bool {
	return sameSet(a, b, targetKey)
}

// targetKey identifies an assignment target; group ids compare case-insensitively.
func targetKey(x intune.AssignmentTarget) string {
	return string(x.Kind) + "|" + strings.ToLower(x.GroupID)
}

// caState maps the API's state to Entra's.
func caState(s v1.ConditionalAccessState) string {
	switch s {
	case v1.CAStateEnabled:
		return "enabled"
	case v1.CAStateDisabled:
		return "disabled"
	default:
		return "enabledForReportingButNotEnforced"
	}
}

// desiredCAPolicy is the Conditional Access policy that lets only compliant devices of
// the policy's platforms reach the chosen apps.
func desiredCAPolicy(p *v1.DeviceRiskPolicy) intune.ConditionalAccessPolicy {
	ca := p.Spec.ConditionalAccess
	name := ca.DisplayName
	if name == "" {
		name = p.Spec.DisplayName
	}
	var apps []string
	if ca.Applications.ExchangeOnline {
		apps = append(apps, AppExchangeOnline)
	}
	if ca.Applications.SharePointOnline {
		apps = append(apps, AppSharePointOnline)
	}
	if ca.Applications.Office365 {
		apps = append(apps, AppOffice365)
	}
	for _, id := range ca.Applications.ApplicationIDs {
		apps = append(apps, string(id))
	}
	var platforms []string
	for _, pl := range p.Spec.Platforms {
		if x := caPlatformFor[pl]; !slices.Contains(platforms, x) {
			platforms = append(platforms, x)
		}
	}
	out := intune.ConditionalAccessPolicy{
		DisplayName:         name,
		State:               caState(ca.State),
		IncludeApplications: apps,
		IncludePlatforms:    platforms,
		ClientAppTypes:      []string{"all"},
		GrantOperator:       "OR",
		BuiltInControls:     []string{"compliantDevice"},
	}
	if ca.AllUsers {
		out.IncludeUsers = []string{"All"}
	}
	for _, g := range ca.IncludeGroupIDs {
		out.IncludeGroups = append(out.IncludeGroups, string(g))
	}
	for _, g := range ca.ExcludeGroupIDs {
		out.ExcludeGroups = append(out.ExcludeGroups, string(g))
	}
	return out
}

// caDiffs names the fields of live that differ from want (sets compared unordered).
func caDiffs(want, live intune.ConditionalAccessPolicy) []string {
	var d []string
	set := func(name string, a, b []string) {
		x, y := lowerSorted(a), lowerSorted(b)
		if !slices.Equal(x, y) {
			d = append(d, name)
		}
	}
	if want.DisplayName != live.DisplayName {
		d = append(d, "displayName")
	}
	if want.State != live.State {
		d = append(d, "state")
	}
	set("includeApplications", want.IncludeApplications, live.IncludeApplications)
	set("includeUsers", want.IncludeUsers, live.IncludeUsers)
	set("includeGroups", want.IncludeGroups, live.IncludeGroups)
	set("excludeGroups", want.ExcludeGroups, live.ExcludeGroups)
	set("includePlatforms", want.IncludePlatforms, live.IncludePlatforms)
	set("clientAppTypes", want.ClientAppTypes, live.ClientAppTypes)
	set("builtInControls", want.BuiltInControls, live.BuiltInControls)
	if !strings.EqualFold(want.GrantOperator, live.GrantOperator) {
		d = append(d, "grantOperator")
	}
	return d
}

func lowerSorted(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToLower(x)
	}
	sort.Strings(out)
	return out
}

// riskAssessmentMap is the UES mapping a DeviceRiskPolicy declares.
func riskAssessmentMap(ra *v1.RiskAssessment) map[string]string {
	out := make(map[string]string, len(ra.Detections))
	for _, d := range ra.Detections {
		out[string(d.Type)] = string(d.Risk)
	}
	return out
}
