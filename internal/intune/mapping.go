package intune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// This file maps between the package's plain types and msgraph-sdk-go's models. Every
// function is pure, so the mapping is table-tested without a server.

// ruleName is the name Intune gives the single rule of a compliance policy; the
// service and public tooling put every scheduled action under it.
const ruleName = "PasswordRequired"

// mtdPolicy is what the four mobile compliance policy models share beyond the base type.
type mtdPolicy interface {
	models.DeviceCompliancePolicyable
	GetDeviceThreatProtectionEnabled() *bool
	SetDeviceThreatProtectionEnabled(*bool)
	GetDeviceThreatProtectionRequiredSecurityLevel() *models.DeviceThreatProtectionLevel
	SetDeviceThreatProtectionRequiredSecurityLevel(*models.DeviceThreatProtectionLevel)
}

func connectorFromModel(m models.MobileThreatDefenseConnectorable) Connector {
	c := Connector{
		ID:           deref(m.GetId()),
		PartnerState: enumString(m.GetPartnerState()),
		Settings: ConnectorSettings{
			AndroidEnabled:                                      clone(m.GetAndroidEnabled()),
			IOSEnabled:                                          clone(m.GetIosEnabled()),
			WindowsEnabled:                                      clone(m.GetWindowsEnabled()),
			AndroidDeviceBlockedOnMissingPartnerData:            clone(m.GetAndroidDeviceBlockedOnMissingPartnerData()),
			IOSDeviceBlockedOnMissingPartnerData:                clone(m.GetIosDeviceBlockedOnMissingPartnerData()),
			WindowsDeviceBlockedOnMissingPartnerData:            clone(m.GetWindowsDeviceBlockedOnMissingPartnerData()),
			PartnerUnsupportedOsVersionBlocked:                  clone(m.GetPartnerUnsupportedOsVersionBlocked()),
			PartnerUnresponsivenessThresholdInDays:              clone(m.GetPartnerUnresponsivenessThresholdInDays()),
			AllowPartnerToCollectIOSApplicationMetadata:         clone(m.GetAllowPartnerToCollectIOSApplicationMetadata()),
			AllowPartnerToCollectIOSPersonalApplicationMetadata: clone(m.GetAllowPartnerToCollectIOSPersonalApplicationMetadata()),
			AndroidMobileApplicationManagementEnabled:           clone(m.GetAndroidMobileApplicationManagementEnabled()),
			IOSMobileApplicationManagementEnabled:               clone(m.GetIosMobileApplicationManagementEnabled()),
			MicrosoftDefenderForEndpointAttachEnabled:           clone(m.GetMicrosoftDefenderForEndpointAttachEnabled()),
		},
	}
	if t := m.GetLastHeartbeatDateTime(); t != nil {
		c.LastHeartbeat = *t
	}
	return c
}

// connectorToModel sets only what c holds: with just Settings it is a PATCH body that
// carries exactly the fields to change.
func connectorToModel(c Connector) *models.MobileThreatDefenseConnector {
	m := models.NewMobileThreatDefenseConnector()
	if c.ID != "" {
		m.SetId(&c.ID)
	}
	// An unknown state (""), read-only anyway, is left out rather than guessed.
	if st, err := parseEnum[models.MobileThreatPartnerTenantState](models.ParseMobileThreatPartnerTenantState, c.PartnerState); err == nil && st != nil {
		m.SetPartnerState(st)
	}
	if !c.LastHeartbeat.IsZero() {
		m.SetLastHeartbeatDateTime(clone(&c.LastHeartbeat))
	}
	s := c.Settings
	setIf(m.SetAndroidEnabled, s.AndroidEnabled)
	setIf(m.SetIosEnabled, s.IOSEnabled)
	setIf(m.SetWindowsEnabled, s.WindowsEnabled)
	setIf(m.SetAndroidDeviceBlockedOnMissingPartnerData, s.AndroidDeviceBlockedOnMissingPartnerData)
	setIf(m.SetIosDeviceBlockedOnMissingPartnerData, s.IOSDeviceBlockedOnMissingPartnerData)
	setIf(m.SetWindowsDeviceBlockedOnMissingPartnerData, s.WindowsDeviceBlockedOnMissingPartnerData)
	setIf(m.SetPartnerUnsupportedOsVersionBlocked, s.PartnerUnsupportedOsVersionBlocked)
	setIf(m.SetPartnerUnresponsivenessThresholdInDays, s.PartnerUnresponsivenessThresholdInDays)
	setIf(m.SetAllowPartnerToCollectIOSApplicationMetadata, s.AllowPartnerToCollectIOSApplicationMetadata)
	setIf(m.SetAllowPartnerToCollectIOSPersonalApplicationMetadata, s.AllowPartnerToCollectIOSPersonalApplicationMetadata)
	setIf(m.SetAndroidMobileApplicationManagementEnabled, s.AndroidMobileApplicationManagementEnabled)
	setIf(m.SetIosMobileApplicationManagementEnabled, s.IOSMobileApplicationManagementEnabled)
	setIf(m.SetMicrosoftDefenderForEndpointAttachEnabled, s.MicrosoftDefenderForEndpointAttachEnabled)
	return m
}

// newPolicyModel returns an empty model of type t; its constructor sets @odata.type,
// which the service needs on create and checks on PATCH.
func newPolicyModel(t PolicyType) (mtdPolicy, error) {
	switch t {
	case AndroidCompliancePolicy:
		return models.NewAndroidCompliancePolicy(), nil
	case AndroidWorkProfileCompliancePolicy:
		return models.NewAndroidWorkProfileCompliancePolicy(), nil
	case IOSCompliancePolicy:
		return models.NewIosCompliancePolicy(), nil
	case AndroidDeviceOwnerCompliancePolicy:
		return newDeviceOwnerPolicy(), nil
	}
	return nil, fmt.Errorf("unsupported compliance policy type %q", t)
}

// policyFromModel maps a policy of the four mobile types; ok is false for any other (and
// for androidDeviceOwnerCompliancePolicy parsed by msgraph-sdk-go's factory, which loses
// its MTD rule).
func policyFromModel(m models.DeviceCompliancePolicyable) (p CompliancePolicy, ok bool) {
	mp, isMTD := m.(mtdPolicy)
	typ := PolicyType(deref(m.GetOdataType()))
	if _, err := newPolicyModel(typ); err != nil || !isMTD {
		return p, false
	}
	p = CompliancePolicy{
		ID:                      deref(m.GetId()),
		Type:                    typ,
		DisplayName:             deref(m.GetDisplayName()),
		Description:             deref(m.GetDescription()),
		Version:                 deref(m.GetVersion()),
		ThreatProtectionEnabled: deref(mp.GetDeviceThreatProtectionEnabled()),
		RequiredSecurityLevel:   enumString(mp.GetDeviceThreatProtectionRequiredSecurityLevel()),
		Actions:                 actionsFromModel(m.GetScheduledActionsForRule()),
		Assignments:             targetsFromModel(m.GetAssignments()),
		Created:                 deref(m.GetCreatedDateTime()),
		Modified:                deref(m.GetLastModifiedDateTime()),
	}
	return p, true
}

// policyToModel maps every non-zero field of p, actions and assignments included.
func policyToModel(p CompliancePolicy) (models.DeviceCompliancePolicyable, error) {
	m, err := newPolicyModel(p.Type)
	if err != nil {
		return nil, err
	}
	if p.ID != "" {
		m.SetId(&p.ID)
	}
	m.SetDisplayName(&p.DisplayName)
	if p.Description != "" {
		m.SetDescription(&p.Description)
	}
	if p.Version != 0 {
		m.SetVersion(&p.Version)
	}
	if !p.Created.IsZero() {
		m.SetCreatedDateTime(&p.Created)
	}
	if !p.Modified.IsZero() {
		m.SetLastModifiedDateTime(&p.Modified)
	}
	m.SetDeviceThreatProtectionEnabled(&p.ThreatProtectionEnabled)
	level, err := parseEnum[models.DeviceThreatProtectionLevel](models.ParseDeviceThreatProtectionLevel, p.RequiredSecurityLevel)
	if err != nil {
		return nil, fmt.Errorf("requiredSecurityLevel: %w", err)
	}
	setIf(m.SetDeviceThreatProtectionRequiredSecurityLevel, level)
	if len(p.Actions) > 0 {
		rules, err := actionsToModel(p.Actions)
		if err != nil {
			return nil, err
		}
		m.SetScheduledActionsForRule(rules)
	}
	if len(p.Assignments) > 0 {
		as, err := targetsToModel(p.Assignments)
		if err != nil {
			return nil, err
		}
		m.SetAssignments(as)
	}
	return m, nil
}

// policyPatchToModel is a PATCH body of the policy's own type (so it carries the
// @odata.type the service checks) with only the fields to change.
func policyPatchToModel(t PolicyType, patch CompliancePolicyPatch) (models.DeviceCompliancePolicyable, error) {
	m, err := newPolicyModel(t)
	if err != nil {
		return nil, err
	}
	setIf(m.SetDisplayName, patch.DisplayName)
	setIf(m.SetDescription, patch.Description)
	setIf(m.SetDeviceThreatProtectionEnabled, patch.ThreatProtectionEnabled)
	if patch.RequiredSecurityLevel != nil {
		level, err := parseEnum[models.DeviceThreatProtectionLevel](models.ParseDeviceThreatProtectionLevel, *patch.RequiredSecurityLevel)
		if err != nil || level == nil {
			return nil, fmt.Errorf("requiredSecurityLevel: unknown value %q", *patch.RequiredSecurityLevel)
		}
		m.SetDeviceThreatProtectionRequiredSecurityLevel(level)
	}
	return m, nil
}

// actionsToModel puts every action under the policy's single rule.
func actionsToModel(actions []ScheduledAction) ([]models.DeviceComplianceScheduledActionForRuleable, error) {
	items := make([]models.DeviceComplianceActionItemable, 0, len(actions))
	for _, a := range actions {
		typ, err := parseEnum[models.DeviceComplianceActionType](models.ParseDeviceComplianceActionType, a.ActionType)
		if err != nil || typ == nil {
			return nil, fmt.Errorf("actionType: unknown value %q", a.ActionType)
		}
		it := models.NewDeviceComplianceActionItem()
		it.SetActionType(typ)
		it.SetGracePeriodHours(clone(&a.GracePeriodHours))
		if a.NotificationTemplateID != "" {
			it.SetNotificationTemplateId(clone(&a.NotificationTemplateID))
		}
		if len(a.NotificationMessageCCList) > 0 {
			it.SetNotificationMessageCCList(slices.Clone(a.NotificationMessageCCList))
		}
		items = append(items, it)
	}
	rule := models.NewDeviceComplianceScheduledActionForRule()
	name := ruleName
	rule.SetRuleName(&name)
	rule.SetScheduledActionConfigurations(items)
	return []models.DeviceComplianceScheduledActionForRuleable{rule}, nil
}

// actionsFromModel flattens the actions of every rule.
func actionsFromModel(rules []models.DeviceComplianceScheduledActionForRuleable) []ScheduledAction {
	var out []ScheduledAction
	for _, r := range rules {
		for _, it := range r.GetScheduledActionConfigurations() {
			out = append(out, ScheduledAction{
				ActionType:                enumString(it.GetActionType()),
				GracePeriodHours:          deref(it.GetGracePeriodHours()),
				NotificationTemplateID:    deref(it.GetNotificationTemplateId()),
				NotificationMessageCCList: nilIfEmpty(it.GetNotificationMessageCCList()),
			})
		}
	}
	return out
}

// targetsToModel never returns nil: an empty set must serialise as [] so that assign
// clears every assignment.
func targetsToModel(targets []AssignmentTarget) ([]models.DeviceCompliancePolicyAssignmentable, error) {
	out := make([]models.DeviceCompliancePolicyAssignmentable, 0, len(targets))
	for _, t := range targets {
		tgt, err := targetToModel(t)
		if err != nil {
			return nil, err
		}
		a := models.NewDeviceCompliancePolicyAssignment()
		a.SetTarget(tgt)
		out = append(out, a)
	}
	return out, nil
}

// targetToModel maps one assignment target, as every Intune assignment carries it.
func targetToModel(t AssignmentTarget) (models.DeviceAndAppManagementAssignmentTargetable, error) {
	switch t.Kind {
	case TargetGroup:
		g := models.NewGroupAssignmentTarget()
		g.SetGroupId(clone(&t.GroupID))
		return g, nil
	case TargetExclusionGroup:
		g := models.NewExclusionGroupAssignmentTarget()
		g.SetGroupId(clone(&t.GroupID))
		return g, nil
	case TargetAllLicensedUsers:
		return models.NewAllLicensedUsersAssignmentTarget(), nil
	case TargetAllDevices:
		return models.NewAllDevicesAssignmentTarget(), nil
	}
	return nil, fmt.Errorf("unsupported assignment target %q", t.Kind)
}

func targetsFromModel(as []models.DeviceCompliancePolicyAssignmentable) []AssignmentTarget {
	var out []AssignmentTarget
	for _, a := range as {
		if t, ok := targetFromModel(a.GetTarget()); ok {
			out = append(out, t)
		}
	}
	return out
}

// targetFromModel is false for an assignment without a target.
func targetFromModel(tgt models.DeviceAndAppManagementAssignmentTargetable) (AssignmentTarget, bool) {
	if tgt == nil {
		return AssignmentTarget{}, false
	}
	t := AssignmentTarget{Kind: TargetKind(deref(tgt.GetOdataType()))}
	if g, ok := tgt.(interface{ GetGroupId() *string }); ok {
		t.GroupID = deref(g.GetGroupId())
	}
	return t, true
}

// deviceSelect is the $select matching ManagedDevice but for ActionResults, so pages
// stay small.
var deviceSelect = []string{"id", "deviceName", "operatingSystem", "osVersion", "azureADDeviceId", "userId",
	"userPrincipalName", "complianceState", "partnerReportedThreatState", "lastSyncDateTime",
	"deviceEnrollmentType", "managementAgent", "managedDeviceOwnerType"}

// deviceDetailSelect is the $select matching all of ManagedDevice, for one device.
var deviceDetailSelect = append(slices.Clip(deviceSelect), "deviceActionResults")

func deviceFromModel(m models.ManagedDeviceable) ManagedDevice {
	return ManagedDevice{
		ID:                         deref(m.GetId()),
		DeviceName:                 deref(m.GetDeviceName()),
		OperatingSystem:            deref(m.GetOperatingSystem()),
		OSVersion:                  deref(m.GetOsVersion()),
		AzureADDeviceID:            deref(m.GetAzureADDeviceId()),
		UserID:                     deref(m.GetUserId()),
		UserPrincipalName:          deref(m.GetUserPrincipalName()),
		ComplianceState:            enumString(m.GetComplianceState()),
		PartnerReportedThreatState: enumString(m.GetPartnerReportedThreatState()),
		LastSync:                   deref(m.GetLastSyncDateTime()),
		EnrollmentType:             enrollmentTypeOf(m),
		ManagementAgent:            enumString(m.GetManagementAgent()),
		OwnerType:                  enumString(m.GetManagedDeviceOwnerType()),
		ActionResults:              actionResultsFromModel(m.GetDeviceActionResults()),
	}
}

// enrollmentTypeOf is deviceEnrollmentType as Graph sent it when m kept it
// (managedDeviceModel), else as msgraph-sdk-go's enum read it.
func enrollmentTypeOf(m models.ManagedDeviceable) string {
	if w, ok := m.(*managedDeviceModel); ok && w.enrollmentType != "" {
		return w.enrollmentType
	}
	return enumString(m.GetDeviceEnrollmentType())
}

// actionResultsFromModel is nil for none (also when deviceActionResults was not selected).
func actionResultsFromModel(rs []models.DeviceActionResultable) []DeviceActionResult {
	var out []DeviceActionResult
	for _, r := range rs {
		if r == nil {
			continue
		}
		out = append(out, DeviceActionResult{
			Name:    deref(r.GetActionName()),
			State:   enumString(r.GetActionState()),
			Started: deref(r.GetStartDateTime()),
			Updated: deref(r.GetLastUpdatedDateTime()),
		})
	}
	return out
}

// deviceFilter builds the documented $filter subset: eq clauses joined by and.
func deviceFilter(f DeviceFilter) string {
	var clauses []string
	for _, c := range []struct{ prop, value string }{
		{"azureADDeviceId", f.AzureADDeviceID},
		{"operatingSystem", f.OperatingSystem},
		{"complianceState", f.ComplianceState},
	} {
		if c.value != "" {
			clauses = append(clauses, c.prop+" eq "+odataString(c.value))
		}
	}
	return strings.Join(clauses, " and ")
}

// odataString quotes s as an OData string literal, where a quote is doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// caToModel maps p completely, so that a PATCH with it makes the policy match p: the
// service merges objects but replaces arrays, so every array is sent (empty as []),
// and an absent platform condition is sent as null to remove an earlier one.
func caToModel(p ConditionalAccessPolicy) (*models.ConditionalAccessPolicy, error) {
	m := models.NewConditionalAccessPolicy()
	if p.ID != "" {
		m.SetId(&p.ID)
	}
	m.SetDisplayName(clone(&p.DisplayName))
	state, err := parseEnum[models.ConditionalAccessPolicyState](models.ParseConditionalAccessPolicyState, p.State)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	setIf(m.SetState, state)

	apps := models.NewConditionalAccessApplications()
	apps.SetIncludeApplications(nonNil(p.IncludeApplications))
	users := models.NewConditionalAccessUsers()
	users.SetIncludeUsers(nonNil(p.IncludeUsers))
	users.SetIncludeGroups(nonNil(p.IncludeGroups))
	users.SetExcludeGroups(nonNil(p.ExcludeGroups))
	cond := models.NewConditionalAccessConditionSet()
	cond.SetApplications(apps)
	cond.SetUsers(users)
	if len(p.IncludePlatforms) > 0 {
		platforms, err := parseEnums[models.ConditionalAccessDevicePlatform](models.ParseConditionalAccessDevicePlatform, p.IncludePlatforms)
		if err != nil {
			return nil, fmt.Errorf("includePlatforms: %w", err)
		}
		pl := models.NewConditionalAccessPlatforms()
		pl.SetIncludePlatforms(platforms)
		cond.SetPlatforms(pl)
	} else {
		cond.SetAdditionalData(map[string]any{"platforms": nil})
	}
	appTypes, err := parseEnums[models.ConditionalAccessClientApp](models.ParseConditionalAccessClientApp, p.ClientAppTypes)
	if err != nil {
		return nil, fmt.Errorf("clientAppTypes: %w", err)
	}
	cond.SetClientAppTypes(appTypes)
	m.SetConditions(cond)

	grant := models.NewConditionalAccessGrantControls()
	if p.GrantOperator != "" {
		grant.SetOperator(clone(&p.GrantOperator))
	}
	controls, err := parseEnums[models.ConditionalAccessGrantControl](models.ParseConditionalAccessGrantControl, p.BuiltInControls)
	if err != nil {
		return nil, fmt.Errorf("builtInControls: %w", err)
	}
	grant.SetBuiltInControls(controls)
	m.SetGrantControls(grant)
	return m, nil
}

func caFromModel(m models.ConditionalAccessPolicyable) ConditionalAccessPolicy {
	p := ConditionalAccessPolicy{
		ID:          deref(m.GetId()),
		DisplayName: deref(m.GetDisplayName()),
		State:       enumString(m.GetState()),
	}
	if cond := m.GetConditions(); cond != nil {
		if apps := cond.GetApplications(); apps != nil {
			p.IncludeApplications = nilIfEmpty(apps.GetIncludeApplications())
		}
		if users := cond.GetUsers(); users != nil {
			p.IncludeUsers = nilIfEmpty(users.GetIncludeUsers())
			p.IncludeGroups = nilIfEmpty(users.GetIncludeGroups())
			p.ExcludeGroups = nilIfEmpty(users.GetExcludeGroups())
		}
		if pl := cond.GetPlatforms(); pl != nil {
			p.IncludePlatforms = enumStrings(pl.GetIncludePlatforms())
		}
		p.ClientAppTypes = enumStrings(cond.GetClientAppTypes())
	}
	if g := m.GetGrantControls(); g != nil {
		p.GrantOperator = deref(g.GetOperator())
		p.BuiltInControls = enumStrings(g.GetBuiltInControls())
	}
	return p
}

// parseEnum parses an SDK enum value; "" is nil, an unknown value an error (the SDK's
// parsers answer nil for it).
func parseEnum[T any](parse func(string) (any, error), v string) (*T, error) {
	if v == "" {
		return nil, nil
	}
	r, err := parse(v)
	if err != nil {
		return nil, err
	}
	p, ok := r.(*T)
	if !ok || p == nil {
		return nil, fmt.Errorf("unknown value %q", v)
	}
	return p, nil
}

// parseEnums parses every value; the result is never nil.
func parseEnums[T any](parse func(string) (any, error), vs []string) ([]T, error) {
	out := make([]T, 0, len(vs))
	for _, v := range vs {
		p, err := parseEnum[T](parse, v)
		if err != nil || p == nil {
			return nil, fmt.Errorf("unknown value %q", v)
		}
		out = append(out, *p)
	}
	return out, nil
}

// enumString is "" for nil, which is also how the SDK reads a value it does not know.
func enumString[T fmt.Stringer](p *T) string {
	if p == nil {
		return ""
	}
	return (*p).String()
}

func enumStrings[T fmt.Stringer](vs []T) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// setIf calls set only for a value: the SDK's backing store records a setter called
// with nil as a change and serialises it as null, which would clear the property.
func setIf[T any](set func(*T), v *T) {
	if v != nil {
		set(clone(v))
	}
}

// clone copies *p so that plain values and models never share memory.
func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func deviceOverviewFromModel(m models.DeviceComplianceDeviceOverviewable) *DeviceOverview {
	n := func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	return &DeviceOverview{
		Success: n(m.GetSuccessCount()), Failed: n(m.GetFailedCount()), Pending: n(m.GetPendingCount()),
		Error: n(m.GetErrorCount()), NotApplicable: n(m.GetNotApplicableCount()),
	}
}
