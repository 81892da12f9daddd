package world

import (
	"crypto"
	"slices"
	"time"
)

// Risk is a device's overall mobile threat level as BlackBerry UES computes
// it: the highest level among its active, not-ignored alerts, "secured" when
// there is none.
type Risk string

// Risk levels, lowest first.
const (
	RiskSecured Risk = "secured"
	RiskLow     Risk = "low"
	RiskMedium  Risk = "medium"
	RiskHigh    Risk = "high"
)

// Rank orders risks; an unknown value ranks as secured.
func (r Risk) Rank() int {
	switch r {
	case RiskLow:
		return 1
	case RiskMedium:
		return 2
	case RiskHigh:
		return 3
	}
	return 0
}

// ThreatState is how Intune shows a risk as partnerReportedThreatState.
func (r Risk) ThreatState() string {
	switch r {
	case RiskLow:
		return "lowSeverity"
	case RiskMedium:
		return "mediumSeverity"
	case RiskHigh:
		return "highSeverity"
	}
	return "secured"
}

// ValidAssessmentRisk reports whether r may appear in a risk assessment
// (a detection is put at high, medium or low).
func ValidAssessmentRisk(r Risk) bool { return r == RiskLow || r == RiskMedium || r == RiskHigh }

// DetectionTypes are the mobile alert types of the UES syslog event guide plus
// the two network-protection detections.
var DetectionTypes = []string{
	"maliciousApplication", "sideLoadedApplication", "jailbrokenOrRooted",
	"deviceEncryption", "deviceScreenlock", "iOsIntegrityFailure",
	"androidSafetyNetFailure", "androidHWFailure", "unsupportedSecurityPatch",
	"unsupportedOS", "unsupportedModel", "manInTheMiddle", "unsafeWifi",
}

// ValidDetectionType reports whether t is one of DetectionTypes.
func ValidDetectionType(t string) bool { return slices.Contains(DetectionTypes, t) }

// Platforms of enrolled devices, spelled as Intune's operatingSystem field.
const (
	Android = "Android"
	IOS     = "iOS"
)

// Android enrolments, as Intune manages them: what decides which compliance
// policy type governs the device and how Graph's managedDevice shows it
// (deviceEnrollmentType, managementAgent, managedDeviceOwnerType). An iOS
// device has none ("").
const (
	// EnrollDeviceAdministrator is legacy Android device administrator
	// management (androidCompliancePolicy), an Android device's default.
	EnrollDeviceAdministrator = "deviceAdministrator"
	// EnrollWorkProfile is Android Enterprise personally owned with a work
	// profile (androidWorkProfileCompliancePolicy).
	EnrollWorkProfile = "workProfile"
	// EnrollFullyManaged, EnrollDedicated and EnrollCorporateWorkProfile are
	// the corporate-owned Android Enterprise modes, all governed by
	// androidDeviceOwnerCompliancePolicy.
	EnrollFullyManaged         = "fullyManaged"
	EnrollDedicated            = "dedicated"
	EnrollCorporateWorkProfile = "corporateWorkProfile"
)

// AndroidEnrollments are the valid Enrollment values of an Android device.
var AndroidEnrollments = []string{EnrollDeviceAdministrator, EnrollWorkProfile, EnrollFullyManaged, EnrollDedicated, EnrollCorporateWorkProfile}

// BlackBerryConnectorID is Intune's fixed id of the BlackBerry Protect Mobile
// MTD connector.
const BlackBerryConnectorID = "a447eca6-a986-4d3f-9838-5862bf50776c"

// KnownConnectorIDs are the partner ids seen in public tooling; only these can
// be onboarded.
var KnownConnectorIDs = []string{
	BlackBerryConnectorID,
	"fc780465-2017-40d4-a0c5-307022471b92", // Microsoft Defender for Endpoint
	"2c7790de-8b02-4814-85cf-e0c59380dee8", // Lookout for Work
	"08a8455c-48dd-45ff-ad82-7211355354f3", // Zimperium
	"d3ddeae8-441f-4681-b80f-aef644f7195a", // Check Point Harmony Mobile
	"bb13fe25-ce1f-45aa-b278-cabbc6b9072e", // SentinelOne
	"29ee2d98-e795-475f-a0f8-0802dc3384a9", // CrowdStrike
}

// Well-known Entra application ids Conditional Access policies target.
const (
	ExchangeOnlineApp = "00000002-0000-0ff1-ce00-000000000000"
	SharePointApp     = "00000003-0000-0ff1-ce00-000000000000"
)

// Graph application permissions the twin understands.
const (
	RoleServiceConfigRead      = "DeviceManagementServiceConfig.Read.All"
	RoleServiceConfigReadWrite = "DeviceManagementServiceConfig.ReadWrite.All"
	RoleConfigRead             = "DeviceManagementConfiguration.Read.All"
	RoleConfigReadWrite        = "DeviceManagementConfiguration.ReadWrite.All"
	RoleDevicesRead            = "DeviceManagementManagedDevices.Read.All"
	RoleDevicesReadWrite       = "DeviceManagementManagedDevices.ReadWrite.All"
	RoleDevicesPrivileged      = "DeviceManagementManagedDevices.PrivilegedOperations.All"
	RoleCAReadWrite            = "Policy.ReadWrite.ConditionalAccess"
	RolePolicyRead             = "Policy.Read.All"
	RoleGroupMemberRead        = "GroupMember.Read.All"
	RoleDirectoryRead          = "Directory.Read.All"
	RoleDeviceRead             = "Device.Read.All"
	RoleAppsRead               = "DeviceManagementApps.Read.All"
	RoleAppsReadWrite          = "DeviceManagementApps.ReadWrite.All"
)

// OperatorRoles are the Graph roles the default app registration holds.
var OperatorRoles = []string{
	RoleServiceConfigReadWrite, RoleConfigReadWrite, RoleDevicesReadWrite,
	RoleDevicesPrivileged, RoleCAReadWrite, RolePolicyRead, RoleGroupMemberRead, RoleDeviceRead,
	RoleAppsReadWrite,
}

// ModelledUESScopes are the scopes of the modelled mobile routes; a real UES
// tenant knows none of them.
var ModelledUESScopes = []string{
	"mobiledevice:list", "mobiledevice:read", "mobilealert:list", "mobilealert:update",
	"mobilepolicy:read", "mobilepolicy:update", "integration:read",
}

// UES scopes: the documented ones plus the modelled mobile scopes.
var UESScopes = append([]string{
	"device:list", "device:read", "device:update", "threat:list", "policy:read",
	"zone:list", "user:list",
}, ModelledUESScopes...)

// Tenant is an Entra tenant with its Intune service and the UES tenant linked
// to it (the link the Global Admin consent creates).
type Tenant struct {
	ID          string
	DisplayName string
	Apps        map[string]*App // by client id
	Groups      map[string]*Group
	Users       map[string]*User

	devices   map[string]*Device // every device, by any of its three ids
	all       []*Device          // every device ever enrolled, in enrolment order
	intune    []*Device          // Intune enrolment order, the managedDevices paging order
	intuneIdx map[*Device]int

	Connectors map[string]*Connector
	Policies   map[string]*CompliancePolicy
	policyIDs  []string
	CAPolicies map[string]*CAPolicy
	caIDs      []string

	// Intune's app management (apps.go): mobile apps and app configuration
	// policies in creation order, and the count of Graph writes on them.
	mobileApps   map[string]*MobileApp
	mobileAppIDs []string
	appConfigs   map[string]*AppConfiguration
	appConfigIDs []string
	AppStats     AppStats

	// TokenGen is stamped into issued Entra tokens; bumping it revokes every
	// token issued so far (a token only carries a seconds-resolution iat).
	TokenGen int

	UES *UESTenant
}

// App is an Entra app registration (service principal) in a tenant.
type App struct {
	ClientID     string
	DisplayName  string
	Secret       string
	Roles        []string
	Certificates [][]byte // DER
	Federated    []FederatedCredential
}

// FederatedCredential trusts tokens of an external issuer (e.g. a Kubernetes
// service account token, as workload identity presents) for this app.
type FederatedCredential struct {
	Issuer    string
	Subject   string
	Audiences []string           // default api://AzureADTokenExchange
	Keys      []crypto.PublicKey // the issuer's signing keys
}

// Group holds user ids and Entra device ids.
type Group struct {
	ID          string
	DisplayName string
	Members     map[string]bool
}

// User is an Entra user.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
}

// Device is one phone, enrolled in Intune and activated in UES. The three
// clouds name it differently; EntraID (azureADDeviceId) is shared.
type Device struct {
	IntuneID  string
	EntraID   string
	UESID     string
	Name      string
	Platform  string // Android or iOS
	OSVersion string
	// Enrollment is one of AndroidEnrollments for Android (AddDevice makes ""
	// EnrollDeviceAdministrator), "" for iOS.
	Enrollment string
	UserID     string
	Model      string
	Enrolled   time.Time
	LastSync   time.Time

	InIntune bool // false once retired or wiped
	InUES    bool // false once wiped (the Protect app is gone)

	// What UES last reported to Intune; HasReport false = no partner data.
	HasReport  bool
	Reported   Risk
	ReportedAt time.Time

	// NoncompliantSince starts the block action's grace period.
	NoncompliantSince time.Time

	Actions []DeviceAction
	Alerts  []*Alert

	// InstalledApps are the apps the device reports to Intune, by app
	// identifier (bundle id on iOS, package id on Android), with their version;
	// Intune's detectedApps derive from them.
	InstalledApps map[string]string
}

// DeviceAction is a remote action Intune ran on a device.
type DeviceAction struct {
	Name    string    `json:"actionName"`
	State   string    `json:"actionState"`
	Started time.Time `json:"startDateTime"`
	Updated time.Time `json:"lastUpdatedDateTime"`
}

// Connector is Intune's MTD connector for one partner.
type Connector struct {
	ID            string
	Flags         map[string]bool // the writable boolean properties, by JSON name
	ThresholdDays int
	LastHeartbeat time.Time
	// StateOverride forces partnerState (e.g. "error", "notSetUp") for tests.
	StateOverride string
}

// ConnectorFlags are the writable boolean connector properties of Graph v1.0.
var ConnectorFlags = []string{
	"androidEnabled", "iosEnabled", "windowsEnabled",
	"androidDeviceBlockedOnMissingPartnerData", "iosDeviceBlockedOnMissingPartnerData",
	"windowsDeviceBlockedOnMissingPartnerData", "partnerUnsupportedOsVersionBlocked",
	"allowPartnerToCollectIOSApplicationMetadata", "allowPartnerToCollectIOSPersonalApplicationMetadata",
	"androidMobileApplicationManagementEnabled", "iosMobileApplicationManagementEnabled",
	"microsoftDefenderForEndpointAttachEnabled",
}

// EnabledFor reports whether the connector connects devices of platform.
func (c *Connector) EnabledFor(platform string) bool {
	if platform == IOS {
		return c.Flags["iosEnabled"]
	}
	return c.Flags["androidEnabled"]
}

// BlocksOnMissing reports whether devices of platform without partner data are
// non-compliant.
func (c *Connector) BlocksOnMissing(platform string) bool {
	if platform == IOS {
		return c.Flags["iosDeviceBlockedOnMissingPartnerData"]
	}
	return c.Flags["androidDeviceBlockedOnMissingPartnerData"]
}

// Compliance policy types that carry the MTD rule: three of Graph v1.0 and
// AndroidDeviceOwnerPolicyType, which only Graph beta serves.
const (
	AndroidPolicyType            = "#microsoft.graph.androidCompliancePolicy"
	AndroidWorkPolicyType        = "#microsoft.graph.androidWorkProfileCompliancePolicy"
	IOSPolicyType                = "#microsoft.graph.iosCompliancePolicy"
	AndroidDeviceOwnerPolicyType = "#microsoft.graph.androidDeviceOwnerCompliancePolicy"
)

// Assignment target types.
const (
	GroupTarget        = "#microsoft.graph.groupAssignmentTarget"
	ExclusionTarget    = "#microsoft.graph.exclusionGroupAssignmentTarget"
	AllUsersTarget     = "#microsoft.graph.allLicensedUsersAssignmentTarget"
	AllDevicesTarget   = "#microsoft.graph.allDevicesAssignmentTarget"
	threatLevelNotSet  = "notSet"
	threatLevelUnavail = "unavailable"
)

// CompliancePolicy is a device compliance policy. Props keeps every property
// the client wrote (already validated), so reads return them unchanged.
type CompliancePolicy struct {
	ID          string
	ODataType   string
	Props       map[string]any
	Version     int32
	Created     time.Time
	Modified    time.Time
	Rules       []ScheduledActionRule
	Assignments []Assignment
}

// ScheduledActionRule is a scheduledActionsForRule item.
type ScheduledActionRule struct {
	ID      string         `json:"id"`
	Name    string         `json:"ruleName"`
	Configs []ActionConfig `json:"scheduledActionConfigurations"`
}

// ActionConfig is a scheduledActionConfigurations item.
type ActionConfig struct {
	ID                        string   `json:"id"`
	ActionType                string   `json:"actionType"`
	GracePeriodHours          int      `json:"gracePeriodHours"`
	NotificationTemplateID    string   `json:"notificationTemplateId"`
	NotificationMessageCCList []string `json:"notificationMessageCCList"`
}

// Assignment is a deviceCompliancePolicyAssignment.
type Assignment struct {
	ID     string `json:"id"`
	Target Target `json:"target"`
}

// Target is a deviceAndAppManagementAssignmentTarget.
type Target struct {
	ODataType string `json:"@odata.type"`
	GroupID   string `json:"groupId,omitempty"`
}

// appliesTo reports whether the policy's type covers the device: its platform
// and, for Android, how it is enrolled.
func (p *CompliancePolicy) appliesTo(d *Device) bool {
	switch p.ODataType {
	case AndroidPolicyType:
		return d.Platform == Android && d.Enrollment == EnrollDeviceAdministrator
	case AndroidWorkPolicyType:
		return d.Platform == Android && d.Enrollment == EnrollWorkProfile
	case AndroidDeviceOwnerPolicyType:
		return d.Platform == Android && d.CorporateAndroidEnterprise()
	case IOSPolicyType:
		return d.Platform == IOS
	}
	return false
}

// CorporateAndroidEnterprise reports whether the device is a corporate-owned
// Android Enterprise device (fully managed, dedicated or corporate-owned with
// a work profile).
func (d *Device) CorporateAndroidEnterprise() bool {
	switch d.Enrollment {
	case EnrollFullyManaged, EnrollDedicated, EnrollCorporateWorkProfile:
		return true
	}
	return false
}

// Name is the policy's displayName.
func (p *CompliancePolicy) Name() string {
	n, _ := p.Props["displayName"].(string)
	return n
}

// ThreatRule returns the MTD rule: whether it is on and the highest level at
// which a device is still compliant.
func (p *CompliancePolicy) ThreatRule() (bool, string) {
	on, _ := p.Props["deviceThreatProtectionEnabled"].(bool)
	lvl, _ := p.Props["deviceThreatProtectionRequiredSecurityLevel"].(string)
	return on, lvl
}

// blockGrace is the grace period of the policy's block action.
func (p *CompliancePolicy) blockGrace() time.Duration {
	for _, r := range p.Rules {
		for _, c := range r.Configs {
			if c.ActionType == "block" {
				return time.Duration(c.GracePeriodHours) * time.Hour
			}
		}
	}
	return 0
}

// CAPolicy is a Conditional Access policy: Props as written, plus the parsed
// parts the access check evaluates.
type CAPolicy struct {
	ID       string
	Props    map[string]any
	Created  time.Time
	Modified time.Time
	View     CAView
}

// CAView is the evaluated subset of a conditionalAccessPolicy.
type CAView struct {
	DisplayName string `json:"displayName"`
	State       string `json:"state"`
	Conditions  struct {
		Applications *struct {
			Include []string `json:"includeApplications"`
			Exclude []string `json:"excludeApplications"`
		} `json:"applications"`
		Users *struct {
			Include       []string `json:"includeUsers"`
			Exclude       []string `json:"excludeUsers"`
			IncludeGroups []string `json:"includeGroups"`
			ExcludeGroups []string `json:"excludeGroups"`
		} `json:"users"`
		Platforms *struct {
			Include []string `json:"includePlatforms"`
			Exclude []string `json:"excludePlatforms"`
		} `json:"platforms"`
	} `json:"conditions"`
	GrantControls *struct {
		Operator        string   `json:"operator"`
		BuiltInControls []string `json:"builtInControls"`
	} `json:"grantControls"`
}

// UESTenant is the BlackBerry UES tenant linked to an Entra tenant.
type UESTenant struct {
	ID   string
	Apps map[string]*UESApp

	// RiskAssessment maps detection type to risk; none configured means
	// detections raise no risk and nothing is reported as at risk.
	RiskAssessment           map[string]Risk
	RiskAssessmentConfigured bool
	RiskAssessmentModified   time.Time

	Alerts    map[string]*Alert
	alertSeq  int64
	alertList []*Alert // in modification order (seq), for incremental listing

	// Reporting is true while UES reports to Intune and heartbeats.
	Reporting  bool
	LastReport time.Time

	UsedJTIs map[string]time.Time
	TokenGen int // as Tenant.TokenGen, for UES access tokens
}

// UESApp is a UES API application (id + secret + granted scopes).
type UESApp struct {
	ID     string
	Name   string
	Secret string
	Scopes []string
}

// Alert is a UES mobile alert (a detection on a device).
type Alert struct {
	ID       string
	DeviceID string // UES device id
	Type     string
	Name     string
	Detail   string
	Status   string // active, resolved, ignored
	Created  time.Time
	Modified time.Time
	Seq      int64 // bumps on each modification; orders the incremental listing
}

// Alert statuses.
const (
	AlertActive   = "active"
	AlertResolved = "resolved"
	AlertIgnored  = "ignored"
)
