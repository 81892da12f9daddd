// Package intune is the operator's door to Microsoft Graph: the Intune MTD connector,
// compliance policies, managed devices and Conditional Access. It is the only package
// that imports msgraph-sdk-go and azidentity (a cold compile of the SDK costs minutes and
// gigabytes), so everything else sees the small Client interface in plain Go types and
// tests fast.
//
// Every error a Client returns is an *outbound.Error: NotFound, Unauthorized, Forbidden
// (naming the Graph permission the operation needs), Throttled (with Retry-After, never
// slept out inside a call beyond a short bound), Conflict, Transient or Terminal.
package intune

import (
	"context"
	"net/http"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// Client is what the controllers need of Graph. Implementations are safe for
// concurrent use.
type Client interface {
	GetConnector(ctx context.Context, id string) (*Connector, error)
	// PatchConnector sends one PATCH with only the set fields of changes.
	PatchConnector(ctx context.Context, id string, changes ConnectorSettings) (*Connector, error)

	// ListCompliancePolicies lists every policy of the four mobile types, all pages,
	// with actions and assignments expanded.
	ListCompliancePolicies(ctx context.Context) ([]CompliancePolicy, error)
	// GetCompliancePolicy reads one policy with actions and assignments expanded.
	GetCompliancePolicy(ctx context.Context, id string) (*CompliancePolicy, error)
	// CreateCompliancePolicy creates p with its Actions (which must hold exactly one
	// block action, as the service requires) and returns it with its id.
	CreateCompliancePolicy(ctx context.Context, p CompliancePolicy) (*CompliancePolicy, error)
	PatchCompliancePolicy(ctx context.Context, id string, t PolicyType, patch CompliancePolicyPatch) error
	DeleteCompliancePolicy(ctx context.Context, id string) error
	// AssignCompliancePolicy replaces the policy's whole assignment set.
	AssignCompliancePolicy(ctx context.Context, id string, targets []AssignmentTarget) error
	// ScheduleComplianceActions replaces the actions of the policy's rule.
	ScheduleComplianceActions(ctx context.Context, id string, actions []ScheduledAction) error
	// GetCompliancePolicyDeviceOverview counts the devices the policy applies to by
	// whether they comply with it (deviceStatusOverview).
	GetCompliancePolicyDeviceOverview(ctx context.Context, id string) (*DeviceOverview, error)

	// ListManagedDevices reads every page of managed devices matching f.
	ListManagedDevices(ctx context.Context, f DeviceFilter) ([]ManagedDevice, error)
	GetManagedDevice(ctx context.Context, id string) (*ManagedDevice, error)
	RunDeviceAction(ctx context.Context, id string, action DeviceAction, wipe *WipeOptions) error

	ListConditionalAccessPolicies(ctx context.Context) ([]ConditionalAccessPolicy, error)
	GetConditionalAccessPolicy(ctx context.Context, id string) (*ConditionalAccessPolicy, error)
	CreateConditionalAccessPolicy(ctx context.Context, p ConditionalAccessPolicy) (*ConditionalAccessPolicy, error)
	// UpdateConditionalAccessPolicy PATCHes the policy to match p.
	UpdateConditionalAccessPolicy(ctx context.Context, id string, p ConditionalAccessPolicy) error
	DeleteConditionalAccessPolicy(ctx context.Context, id string) error

	// MemberOf returns the ids of the Entra groups a user or device object is a direct
	// member of (all pages).
	MemberOf(ctx context.Context, kind DirectoryObjectKind, id string) ([]string, error)

	// ListStoreApps lists every app of type t (iosStoreApp: v1.0 cast; androidManagedStoreApp: beta isof
	// filter), all pages, assignments expanded.
	ListStoreApps(ctx context.Context, t AppType) ([]StoreApp, error)
	// GetStoreApp reads one app with assignments (NotFound when absent, or of another
	// type). An app v1.0 shows as the base type is read again on beta when it is a
	// managed store app.
	GetStoreApp(ctx context.Context, id string) (*StoreApp, error)
	// CreateIOSStoreApp creates an iosStoreApp for iPad and iPhone/iPod from the
	// descriptive fields of app and returns it with its id.
	CreateIOSStoreApp(ctx context.Context, app StoreApp) (*StoreApp, error)
	// PatchIOSStoreApp sends displayName, publisher, description, appStoreUrl and minimumSupportedOperatingSystem.
	PatchIOSStoreApp(ctx context.Context, id string, app StoreApp) error
	// DeleteStoreApp deletes an app of any type (and its assignments).
	DeleteStoreApp(ctx context.Context, id string) error
	// AssignStoreApp replaces the app's whole assignment set (one call).
	AssignStoreApp(ctx context.Context, id string, assignments []AppAssignment) error

	// ListAppConfigurations lists the iosMobileAppConfigurations, all pages,
	// assignments expanded; configurations of other types are left out.
	ListAppConfigurations(ctx context.Context) ([]AppConfiguration, error)
	// GetAppConfiguration reads one configuration with assignments (NotFound when absent
	// or not an iosMobileAppConfiguration).
	GetAppConfiguration(ctx context.Context, id string) (*AppConfiguration, error)
	CreateAppConfiguration(ctx context.Context, c AppConfiguration) (*AppConfiguration, error)
	// PatchAppConfiguration sends displayName, description, targetedMobileApps and the
	// whole settings list; the service bumps the version.
	PatchAppConfiguration(ctx context.Context, id string, c AppConfiguration) error
	DeleteAppConfiguration(ctx context.Context, id string) error
	// AssignAppConfiguration replaces the configuration's whole assignment set (one call).
	AssignAppConfiguration(ctx context.Context, id string, targets []AssignmentTarget) error

	// ListDetectedApps reads every page of the tenant's detected apps.
	ListDetectedApps(ctx context.Context) ([]DetectedApp, error)
	// DetectedAppDevices returns the ids of the managed devices that reported the app
	// (all pages).
	DetectedAppDevices(ctx context.Context, id string) ([]string, error)
}

// Cloud names a Microsoft cloud as MTDConnector's spec.intune.cloud does.
type Cloud string

const (
	CloudPublic   Cloud = "Public"
	CloudUSGov    Cloud = "USGov"
	CloudUSGovDoD Cloud = "USGovDoD"
	CloudChina    Cloud = "China"
)

// Config is what New needs to build a client for one tenant.
type Config struct {
	TenantID string
	ClientID string
	Cloud    Cloud
	// AuthorityURL and GraphURL override the cloud's defaults (a proxy, the twin).
	AuthorityURL string
	GraphURL     string
	// CABundle is PEM to trust in addition to the system roots.
	CABundle   []byte
	Credential Credential
	// Limiters keeps each tenant under Intune's documented limits; nil shares a
	// process-wide registry.
	Limiters *Limiters
	// MaxWait bounds any wait inside a call (limiter, Retry-After): longer waits come
	// back as Throttled for the caller to requeue. Default 2 s.
	MaxWait time.Duration
	// Transport replaces the base HTTP transport (tests); CABundle is then ignored.
	Transport http.RoundTripper
}

// Credential is exactly one way to authenticate.
type Credential struct {
	// ClientSecret of the app registration.
	ClientSecret string
	// Certificate is a PEM chain (optionally with the key) or PFX data; PrivateKey a PEM
	// key when not inside Certificate; Password for PFX or an encrypted key.
	Certificate          []byte
	PrivateKey           []byte
	Password             []byte
	SendCertificateChain bool
	// FederatedTokenFile is the projected ServiceAccount token for workload identity.
	FederatedTokenFile string
}

// Intune's documented limits per app per tenant, in 20 s windows: the device
// configuration service (compliance policies) allows 100 writes and 1000 requests, the
// devices service (managed devices) 200 writes and 2000 requests.
var (
	DeviceConfigurationLimits = []outbound.Window{
		{Max: 100, Period: 20 * time.Second, WritesOnly: true},
		{Max: 1000, Period: 20 * time.Second},
	}
	DevicesLimits = []outbound.Window{
		{Max: 200, Period: 20 * time.Second, WritesOnly: true},
		{Max: 2000, Period: 20 * time.Second},
	}
)

// Margin lengthens each documented window: it absorbs the latency between a request
// leaving the operator and Intune counting it, so in normal operation no 429 comes.
const Margin = time.Second

// Limiters hold the per-tenant limiters of the Intune services the operator calls,
// keyed by tenant id.
type Limiters struct {
	// DeviceConfiguration covers compliance policies, the MTD connector, and the apps
	// and app configurations the operator deploys (Intune documents no lower limit for
	// its app service).
	DeviceConfiguration *outbound.Limiters
	// Devices covers managed devices, their actions and their detected apps.
	Devices *outbound.Limiters
	// Identity covers Conditional Access, whose limits Intune does not document; it
	// uses the device configuration numbers as a conservative bound.
	Identity *outbound.Limiters
}

// NewLimiters makes limiters for the documented limits, with Margin.
func NewLimiters() *Limiters {
	return &Limiters{
		DeviceConfiguration: outbound.NewLimiters(Margin, DeviceConfigurationLimits...),
		Devices:             outbound.NewLimiters(Margin, DevicesLimits...),
		Identity:            outbound.NewLimiters(Margin, DeviceConfigurationLimits...),
	}
}
