package intune

import (
	"slices"
	"strings"
	"time"
)

// BlackBerryConnectorID is the fixed id of BlackBerry Protect Mobile's (formerly
// CylancePROTECT Mobile's) mobileThreatDefenseConnector in every tenant.
const BlackBerryConnectorID = "a447eca6-a986-4d3f-9838-5862bf50776c"

// Connector is Intune's mobileThreatDefenseConnector for one partner.
type Connector struct {
	ID string
	// PartnerState is unavailable, available, enabled, unresponsive, notSetUp, error or
	// "" when Graph sent a value the SDK does not know (it parses those to nil).
	PartnerState string
	// LastHeartbeat is zero when the partner never sent one.
	LastHeartbeat time.Time
	Settings      ConnectorSettings
}

// ConnectorSettings are the connector's writable properties. In a read every field is
// set (nil only when Graph omitted it); in a patch only the fields to change are set.
type ConnectorSettings struct {
	AndroidEnabled                                      *bool
	IOSEnabled                                          *bool
	WindowsEnabled                                      *bool
	AndroidDeviceBlockedOnMissingPartnerData            *bool
	IOSDeviceBlockedOnMissingPartnerData                *bool
	WindowsDeviceBlockedOnMissingPartnerData            *bool
	PartnerUnsupportedOsVersionBlocked                  *bool
	PartnerUnresponsivenessThresholdInDays              *int32
	AllowPartnerToCollectIOSApplicationMetadata         *bool
	AllowPartnerToCollectIOSPersonalApplicationMetadata *bool
	AndroidMobileApplicationManagementEnabled           *bool
	IOSMobileApplicationManagementEnabled               *bool
	MicrosoftDefenderForEndpointAttachEnabled           *bool
}

// PolicyType is a compliance policy's @odata.type.
type PolicyType string

const (
	// AndroidCompliancePolicy governs Android device administrator devices.
	AndroidCompliancePolicy PolicyType = "#microsoft.graph.androidCompliancePolicy"
	// AndroidWorkProfileCompliancePolicy governs Android Enterprise personally owned
	// devices with a work profile.
	AndroidWorkProfileCompliancePolicy PolicyType = "#microsoft.graph.androidWorkProfileCompliancePolicy"
	IOSCompliancePolicy                PolicyType = "#microsoft.graph.iosCompliancePolicy"
	// AndroidDeviceOwnerCompliancePolicy governs Android Enterprise fully managed,
	// dedicated and corporate-owned work profile devices. Graph serves it in beta only,
	// which the client handles by itself (policies_beta.go).
	AndroidDeviceOwnerCompliancePolicy PolicyType = "#microsoft.graph.androidDeviceOwnerCompliancePolicy"
)

// CompliancePolicy is a device compliance policy of one of the four mobile types,
// reduced to what the operator manages. Actions and Assignments are only filled by reads
// that expand them (List and Get do).
type CompliancePolicy struct {
	ID          string
	Type        PolicyType
	DisplayName string
	Description string
	Version     int32
	// ThreatProtectionEnabled is deviceThreatProtectionEnabled.
	ThreatProtectionEnabled bool
	// RequiredSecurityLevel is deviceThreatProtectionRequiredSecurityLevel: unavailable,
	// secured, low, medium, high or notSet.
	RequiredSecurityLevel string
	// Actions are the scheduled actions of the policy's single rule.
	Actions     []ScheduledAction
	Assignments []AssignmentTarget
	Created     time.Time
	Modified    time.Time
}

// CompliancePolicyPatch changes the set fields of a policy.
type CompliancePolicyPatch struct {
	DisplayName             *string
	Description             *string
	ThreatProtectionEnabled *bool
	RequiredSecurityLevel   *string
}

// ScheduledAction is one deviceComplianceActionItem.
type ScheduledAction struct {
	// ActionType is noAction, notification, block, retire, wipe,
	// removeResourceAccessProfiles or pushNotification.
	ActionType                string
	GracePeriodHours          int32
	NotificationTemplateID    string
	NotificationMessageCCList []string
}

// TargetKind is an assignment target's kind.
type TargetKind string

const (
	TargetGroup            TargetKind = "#microsoft.graph.groupAssignmentTarget"
	TargetExclusionGroup   TargetKind = "#microsoft.graph.exclusionGroupAssignmentTarget"
	TargetAllLicensedUsers TargetKind = "#microsoft.graph.allLicensedUsersAssignmentTarget"
	TargetAllDevices       TargetKind = "#microsoft.graph.allDevicesAssignmentTarget"
)

// AssignmentTarget is one assignment of a compliance policy.
type AssignmentTarget struct {
	Kind    TargetKind
	GroupID string // for the two group kinds
}

// DeviceOverview is a compliance policy's deviceComplianceDeviceOverview.
type DeviceOverview struct {
	Success       int32 // compliant with the policy
	Failed        int32 // not compliant (including in grace period)
	Pending       int32
	Error         int32
	NotApplicable int32
}

// ManagedDevice is an Intune managed device, reduced to what the operator reads.
type ManagedDevice struct {
	ID                         string
	DeviceName                 string
	OperatingSystem            string
	OSVersion                  string
	AzureADDeviceID            string
	UserID                     string
	UserPrincipalName          string
	ComplianceState            string // unknown, compliant, noncompliant, conflict, error, inGracePeriod, configManager
	PartnerReportedThreatState string // unknown, activated, deactivated, secured, lowSeverity, ... or ""
	LastSync                   time.Time
	// EnrollmentType is deviceEnrollmentType as Graph sends it, e.g. userEnrollment,
	// appleBulkWithUser, androidEnterpriseFullyManaged, androidEnterpriseDedicatedDevice
	// or androidEnterpriseCorporateWorkProfile (v1.0 sends these three although its
	// documented enum lacks them).
	EnrollmentType string
	// ManagementAgent is managementAgent, e.g. mdm, or googleCloudDevicePolicyController
	// for a device managed by Android Device Policy (corporate-owned Android Enterprise).
	ManagementAgent string
	// OwnerType is managedDeviceOwnerType: company, personal or unknown.
	OwnerType string
	// ActionResults is deviceActionResults, Intune's history of the remote actions sent to
	// the device, in the order Graph lists them. Only GetManagedDevice reads it:
	// ListManagedDevices leaves it nil so that device pages stay small. Use it to tell
	// whether an action was already sent (after a crash mid-call, say) and how far it got:
	// retire, wipe and remoteLock stay pending until the device checks in.
	ActionResults []DeviceActionResult
}

// DeviceActionResult is one deviceActionResult: a remote action sent to a device and
// its progress.
type DeviceActionResult struct {
	// Name is actionName, e.g. syncDevice, remoteLock, retire or wipe.
	Name string
	// State is actionState: none, pending, canceled, active, done, failed or
	// notSupported; "" when Graph sent a value the SDK does not know.
	State string
	// Started is startDateTime, Updated lastUpdatedDateTime; zero when Graph omitted them.
	Started, Updated time.Time
}

// corporateAndroidEnrollments are the deviceEnrollmentType values of the corporate-owned
// Android Enterprise modes.
var corporateAndroidEnrollments = []string{"androidEnterpriseFullyManaged", "androidEnterpriseDedicatedDevice", "androidEnterpriseCorporateWorkProfile"}

// PolicyType is the type of the compliance policies Intune evaluates the device
// against, "" for a platform without one of the four mobile types. An Android device
// is corporate-owned Android Enterprise (its enrolment type says so, or Android Device
// Policy manages it), personally owned with a work profile, or else device
// administrator. Graph v1.0 does not tell a personally owned device administrator
// device from a work profile one (both are userEnrollment through mdm); since Intune
// ended device administrator management on devices with Google Mobile Services at the
// end of 2024, a personally owned Android device is taken for a work profile.
func (d ManagedDevice) PolicyType() PolicyType {
	switch {
	case strings.EqualFold(d.OperatingSystem, "iOS") || strings.EqualFold(d.OperatingSystem, "iPadOS"):
		return IOSCompliancePolicy
	case !strings.EqualFold(d.OperatingSystem, "Android"):
		return ""
	case slices.Contains(corporateAndroidEnrollments, d.EnrollmentType) || d.ManagementAgent == "googleCloudDevicePolicyController":
		return AndroidDeviceOwnerCompliancePolicy
	case d.OwnerType == "personal":
		return AndroidWorkProfileCompliancePolicy
	}
	return AndroidCompliancePolicy
}

// LastActionResult returns the result of the most recently started action called name,
// compared case-insensitively (the latest in Graph's order among equal start times), if
// Intune lists one.
func (d ManagedDevice) LastActionResult(name string) (DeviceActionResult, bool) {
	var (
		last  DeviceActionResult
		found bool
	)
	for _, r := range d.ActionResults {
		if strings.EqualFold(r.Name, name) && (!found || !r.Started.Before(last.Started)) {
			last, found = r, true
		}
	}
	return last, found
}

// DeviceFilter selects managed devices with the $filter subset known to work; empty
// fields do not filter.
type DeviceFilter struct {
	AzureADDeviceID string
	OperatingSystem string
	ComplianceState string
}

// Matches says whether d satisfies every set field exactly (ids and enum values
// compare case-insensitively, as Graph compares them).
func (f DeviceFilter) Matches(d ManagedDevice) bool {
	for _, c := range [][2]string{{f.AzureADDeviceID, d.AzureADDeviceID}, {f.OperatingSystem, d.OperatingSystem}, {f.ComplianceState, d.ComplianceState}} {
		if c[0] != "" && !strings.EqualFold(c[0], c[1]) {
			return false
		}
	}
	return true
}

// DeviceAction is a managed device action.
type DeviceAction string

const (
	ActionSyncDevice DeviceAction = "syncDevice"
	ActionRemoteLock DeviceAction = "remoteLock"
	ActionRetire     DeviceAction = "retire"
	ActionWipe       DeviceAction = "wipe"
)

// WipeOptions are the wipe action's parameters.
type WipeOptions struct {
	KeepEnrollmentData bool
	KeepUserData       bool
}

// ConditionalAccessPolicy is an Entra Conditional Access policy reduced to the shape
// that grants access to apps only from compliant devices.
type ConditionalAccessPolicy struct {
	ID          string
	DisplayName string
	// State is enabled, disabled or enabledForReportingButNotEnforced.
	State string
	// IncludeApplications are app ids, or "Office365".
	IncludeApplications []string
	// IncludeUsers is ["All"] for every user, else empty.
	IncludeUsers  []string
	IncludeGroups []string
	ExcludeGroups []string
	// IncludePlatforms are android, iOS.
	IncludePlatforms []string
	// ClientAppTypes, e.g. ["all"].
	ClientAppTypes []string
	// GrantOperator is OR or AND; BuiltInControls e.g. ["compliantDevice"].
	GrantOperator   string
	BuiltInControls []string
}
