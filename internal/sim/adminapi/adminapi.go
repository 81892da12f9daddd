// Package adminapi is the wire contract of the twin's admin API, shared by
// the server (internal/sim/admin) and the Go client (internal/sim/simclient).
package adminapi

import (
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Error is every admin error body.
type Error struct {
	Error string `json:"error"`
}

// Tenant creates a tenant (ids generated when empty). Onboard creates the
// BlackBerry connector right away.
type Tenant struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	UESTenantID string `json:"uesTenantId,omitempty"`
	Onboard     bool   `json:"onboard,omitempty"`
}

// TenantInfo summarises a tenant.
type TenantInfo struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	UESTenantID string `json:"uesTenantId"`
	Apps        int    `json:"apps"`
	Groups      int    `json:"groups"`
	Users       int    `json:"users"`
	Devices     int    `json:"managedDevices"`
	Onboarded   bool   `json:"onboarded"`
	Reporting   bool   `json:"reporting"`
}

// App registers an Entra app. CertificatePEM (one or more CERTIFICATE
// blocks) enables the certificate assertion flow; Federated the workload
// identity (federated token) flow.
type App struct {
	ClientID       string                `json:"clientId,omitempty"`
	DisplayName    string                `json:"displayName,omitempty"`
	Secret         string                `json:"secret,omitempty"`
	Roles          []string              `json:"roles"`
	CertificatePEM string                `json:"certificatePem,omitempty"`
	Federated      []FederatedCredential `json:"federatedCredentials,omitempty"`
}

// FederatedCredential trusts an external issuer's tokens for a subject.
// PublicKeysPEM holds the issuer's signing keys as PUBLIC KEY (PKIX) or
// CERTIFICATE blocks; Audiences defaults to api://AzureADTokenExchange.
type FederatedCredential struct {
	Issuer        string   `json:"issuer"`
	Subject       string   `json:"subject"`
	Audiences     []string `json:"audiences,omitempty"`
	PublicKeysPEM string   `json:"publicKeysPem"`
}

// UESApp registers a UES API application; nil Scopes grants all.
type UESApp struct {
	ID     string   `json:"id,omitempty"`
	Name   string   `json:"name,omitempty"`
	Secret string   `json:"secret,omitempty"`
	Scopes []string `json:"scopes"`
}

// Group creates a group; members are user ids or Entra device ids.
type Group struct {
	ID          string   `json:"id,omitempty"`
	DisplayName string   `json:"displayName"`
	Members     []string `json:"members,omitempty"`
}

// Members adds members to a group.
type Members struct {
	Members []string `json:"members"`
}

// User creates a user in groups.
type User struct {
	ID                string   `json:"id,omitempty"`
	UserPrincipalName string   `json:"userPrincipalName"`
	DisplayName       string   `json:"displayName,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

// Device enrols devices in both clouds. Count > 1 enrols that many, named
// DeviceName-1..N, with generated ids.
type Device struct {
	IntuneID   string `json:"intuneId,omitempty"`
	EntraID    string `json:"entraDeviceId,omitempty"`
	UESID      string `json:"uesDeviceId,omitempty"`
	DeviceName string `json:"deviceName"`
	Platform   string `json:"platform"` // Android or iOS
	OSVersion  string `json:"osVersion"`
	// Enrollment is how an Android device is managed (world.AndroidEnrollments):
	// deviceAdministrator (the default), workProfile (personally owned),
	// fullyManaged, dedicated or corporateWorkProfile; empty for iOS.
	Enrollment string `json:"enrollment,omitempty"`
	// WorkProfile is the older spelling of Enrollment workProfile; it may not
	// contradict Enrollment.
	WorkProfile bool     `json:"workProfile,omitempty"`
	UserID      string   `json:"userId,omitempty"`
	Model       string   `json:"model,omitempty"`
	Groups      []string `json:"groups,omitempty"` // groups the device (Entra id) joins
	Count       int      `json:"count,omitempty"`
}

// Created answers a bulk enrolment; Devices is filled up to 1000 devices.
type Created struct {
	Count   int          `json:"count"`
	Devices []DeviceView `json:"devices"`
}

// DeviceView is everything the world knows about a device.
type DeviceView struct {
	IntuneID      string           `json:"intuneId"`
	EntraID       string           `json:"entraDeviceId"`
	UESID         string           `json:"uesDeviceId"`
	DeviceName    string           `json:"deviceName"`
	Platform      string           `json:"platform"`
	OSVersion     string           `json:"osVersion"`
	Enrollment    string           `json:"enrollment"`  // "" for iOS
	WorkProfile   bool             `json:"workProfile"` // Enrollment is workProfile
	UserID        string           `json:"userId"`
	Managed       bool             `json:"managed"`   // enrolled in Intune
	Activated     bool             `json:"activated"` // Protect app active in UES
	Risk          world.Risk       `json:"risk"`      // UES overall risk now
	Reported      *world.Risk      `json:"reported"`  // what Intune last received; null = no partner data
	Compliance    world.Compliance `json:"compliance"`
	Actions       []string         `json:"actions"`       // the names of ActionResults
	ActionResults []ActionResult   `json:"actionResults"` // the same actions as Graph's deviceActionResults
	Alerts        []AlertView      `json:"alerts"`
	Apps          []InstalledApp   `json:"apps"` // what the device reports to Intune's detectedApps, by app id
}

// ActionResult is one of a device's deviceActionResults. To record one by
// hand, ActionName and ActionState (Graph's actionState: none, pending,
// canceled, active, done, failed, notSupported) are required; a zero
// StartDateTime is the world's now, a zero LastUpdatedDateTime is
// StartDateTime.
type ActionResult struct {
	ActionName          string    `json:"actionName"`
	ActionState         string    `json:"actionState"`
	StartDateTime       time.Time `json:"startDateTime,omitzero"`
	LastUpdatedDateTime time.Time `json:"lastUpdatedDateTime,omitzero"`
}

// Detection raises an alert on a device.
type Detection struct {
	Type   string `json:"type"`
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Remediation resolves a device's active alerts of Type (all when empty).
type Remediation struct {
	Type string `json:"type,omitempty"`
}

// AlertView is an alert.
type AlertView struct {
	ID       string    `json:"id"`
	DeviceID string    `json:"uesDeviceId"`
	Type     string    `json:"type"`
	Name     string    `json:"name"`
	Detail   string    `json:"detail"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// RiskAssessment sets the UES risk assessment; null Detections removes it.
type RiskAssessment struct {
	Detections map[string]world.Risk `json:"detections"`
}

// AppAccess asks whether a sign-in may reach App (an Entra app id).
type AppAccess struct {
	Device string `json:"device"` // Intune, Entra or UES device id
	User   string `json:"user,omitempty"`
	App    string `json:"app"`
}

// NetworkAccess asks whether a device may join the corporate Wi-Fi.
type NetworkAccess struct {
	Device  string `json:"device"`
	Network string `json:"network,omitempty"`
}

// Connector names a partner connector (BlackBerry when empty).
type Connector struct {
	ConnectorID string `json:"connectorId,omitempty"`
}

// Reporting starts or stops UES reporting and heartbeats.
type Reporting struct {
	Enabled bool `json:"enabled"`
}

// ReportingDelay is how long (world time) a UES report takes to reach Intune,
// as a Go duration ("0s", "10s", "15m"); "0s" delivers at once.
type ReportingDelay struct {
	Delay string `json:"delay"`
}

// ActionDelay is how long (world time) a device takes to check in and carry
// out a remoteLock, retire or wipe, as a Go duration; "0s" carries them out
// at once.
type ActionDelay struct {
	Delay string `json:"delay"`
}

// Framings of syslog over TCP (RFC 6587). UES does not say which it uses,
// so the twin sends either.
const (
	SyslogOctetCounting  = "octet-counting"  // "<length> <message>"
	SyslogNonTransparent = "non-transparent" // "<message>\n"
)

// SyslogConfig is a UES tenant's Syslog/SIEM integration as the console's
// Settings › Integrations › Syslog sets it, for the Mobile Alerts events:
// TCP to Destination (host:port), with TLS verified against CAPEM (and
// ServerName when given, else the destination's host). Framing is
// SyslogOctetCounting (the default when empty) or SyslogNonTransparent.
type SyslogConfig struct {
	Enabled     bool   `json:"enabled"`
	Destination string `json:"destination,omitempty"`
	TLS         bool   `json:"tls"`
	CAPEM       string `json:"caPEM,omitempty"`
	ServerName  string `json:"serverName,omitempty"`
	Framing     string `json:"framing,omitempty"`
}

// SyslogStatus is the configuration plus how delivery went. Delivered
// counts messages written to the connection without error; Undelivered those
// that exhausted their tries or found the queue full (every one of them is
// dead-lettered); Queued those waiting, the one being sent included;
// DeadLetters the dead-letter queue's length. Disabled is set once too many
// messages went undelivered (DisabledReason says so) and cleared when the
// integration is enabled again; LastError is the last delivery error.
type SyslogStatus struct {
	SyslogConfig
	Delivered      int    `json:"delivered"`
	Undelivered    int    `json:"undelivered"`
	Queued         int    `json:"queued"`
	DeadLetters    int    `json:"deadLetters"`
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabledReason"`
	LastError      string `json:"lastError,omitempty"`
}

// SyslogDeadLetter is a message that was not delivered: the frame as it
// would have gone on the wire, the last error and how many tries were made
// (0 when the queue was full).
type SyslogDeadLetter struct {
	Frame     string `json:"frame"`
	LastError string `json:"lastError"`
	Tries     int    `json:"tries"`
}

// PartnerState forces the connector's partnerState ("" clears).
type PartnerState struct {
	State string `json:"state"`
}

// Revoke revokes tokens of "entra", "ues" or both (empty).
type Revoke struct {
	Service string `json:"service,omitempty"`
}

// Clock sets (Set) or advances (Advance, a Go duration such as "168h") the
// world clock; Reset puts it back on wall time.
type Clock struct {
	Set     *time.Time `json:"set,omitempty"`
	Advance string     `json:"advance,omitempty"`
	Reset   bool       `json:"reset,omitempty"`
}

// ClockInfo is the world time.
type ClockInfo struct {
	Now time.Time `json:"now"`
}

// Throttling is the Graph throttling configuration.
type Throttling struct {
	Enabled         bool `json:"enabled"`
	WindowSeconds   int  `json:"windowSeconds"`
	ConfigWrites    int  `json:"configWrites"`
	ConfigRequests  int  `json:"configRequests"`
	DevicesWrites   int  `json:"devicesWrites"`
	DevicesRequests int  `json:"devicesRequests"`
	TenantFactor    int  `json:"tenantFactor"`
}

// Fault is an injected fault (see mw.Fault).
type Fault = mw.Fault

// Calls is the per-route, per-method call record.
type Calls = map[string]mw.RouteStats

// Snapshot is the whole world as JSON.
type Snapshot struct {
	Now     time.Time        `json:"now"`
	Tenants []TenantSnapshot `json:"tenants"`
}

// TenantSnapshot is one tenant in a snapshot.
type TenantSnapshot struct {
	TenantInfo
	AppIDs         []string              `json:"appIds"`
	Groups         []Group               `json:"groups"`
	Users          []User                `json:"users"`
	Devices        []DeviceView          `json:"devices"`
	Connectors     []map[string]any      `json:"connectors"`
	Policies       []map[string]any      `json:"compliancePolicies"`
	CAPolicies     []map[string]any      `json:"conditionalAccessPolicies"`
	RiskAssessment map[string]world.Risk `json:"riskAssessment"`
	Alerts         []AlertView           `json:"alerts"`
	MobileApps     []MobileApp           `json:"mobileApps"`
	AppConfigs     []AppConfiguration    `json:"mobileAppConfigurations"`
	AppStats       AppStats              `json:"appStats"`
}

// MobileApp is an Intune mobile app (iosStoreApp or androidManagedStoreApp)
// with its assignments, for assertions.
type MobileApp struct {
	ID          string `json:"id"`
	ODataType   string `json:"@odata.type"`
	DisplayName string `json:"displayName"`
	Publisher   string `json:"publisher"`
	Description string `json:"description"`
	BundleID    string `json:"bundleId,omitempty"`  // iosStoreApp
	PackageID   string `json:"packageId,omitempty"` // androidManagedStoreApp
	AppStoreURL string `json:"appStoreUrl"`
	// MinimumOS and DeviceTypes are an iosStoreApp's true
	// minimumSupportedOperatingSystem flags (v13_0, ...) and
	// applicableDeviceType flags (iPad, iPhoneAndIPod).
	MinimumOS       []string              `json:"minimumSupportedOperatingSystem,omitempty"`
	DeviceTypes     []string              `json:"applicableDeviceType,omitempty"`
	PublishingState string                `json:"publishingState"`
	Created         time.Time             `json:"createdDateTime"`
	Modified        time.Time             `json:"lastModifiedDateTime"`
	Assignments     []world.AppAssignment `json:"assignments"`
}

// AppConfiguration is an app configuration policy with its assignments.
type AppConfiguration struct {
	ID                 string                   `json:"id"`
	ODataType          string                   `json:"@odata.type"`
	DisplayName        string                   `json:"displayName"`
	Description        string                   `json:"description"`
	TargetedMobileApps []string                 `json:"targetedMobileApps"`
	Settings           []world.AppConfigSetting `json:"settings"`
	EncodedSettingXML  string                   `json:"encodedSettingXml,omitempty"`
	Version            int32                    `json:"version"`
	Created            time.Time                `json:"createdDateTime"`
	Modified           time.Time                `json:"lastModifiedDateTime"`
	Assignments        []world.Assignment       `json:"assignments"`
}

// AppStats counts a tenant's successful Graph writes on mobile apps and app
// configurations (creates, patches, deletes, assigns).
type AppStats = world.AppStats

// ManagedStoreApp approves an Android app in Managed Google Play (the app's
// package id is in the path), as the admin's approval and Intune's sync do.
type ManagedStoreApp struct {
	DisplayName string `json:"displayName"`
	Publisher   string `json:"publisher,omitempty"`
}

// InstalledApp is an app a device reports: its bundle id (iOS) or package
// id (Android) and version. To install one, only Version is sent (the id is
// in the path).
type InstalledApp struct {
	AppID   string `json:"appIdentifier,omitempty"`
	Version string `json:"version"`
}

// PublishingState sets a mobile app's publishingState (notPublished,
// processing, published); only a published app can be assigned.
type PublishingState struct {
	PublishingState string `json:"publishingState"`
}
