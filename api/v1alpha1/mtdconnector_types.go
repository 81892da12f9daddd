package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Partner is the Mobile Threat Defense partner whose Intune connector is managed.
// +kubebuilder:validation:Enum=BlackBerryProtectMobile
type Partner string

// PartnerBlackBerryProtectMobile is BlackBerry Protect Mobile (formerly CylancePROTECT Mobile).
const PartnerBlackBerryProtectMobile Partner = "BlackBerryProtectMobile"

// Cloud is the Microsoft cloud the Intune tenant lives in. It selects the Entra authority
// host, the Graph base URL and the token scope.
// +kubebuilder:validation:Enum=Public;USGov;USGovDoD;China
type Cloud string

const (
	CloudPublic   Cloud = "Public"
	CloudUSGov    Cloud = "USGov"
	CloudUSGovDoD Cloud = "USGovDoD"
	CloudChina    Cloud = "China"
)

// HTTPSURL is an absolute https URL.
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="must be an absolute https URL"
type HTTPSURL string

// MTDConnectorSpec declares the BlackBerry Protect Mobile ↔ Intune connection.
type MTDConnectorSpec struct {
	// partner is the MTD partner whose Intune connector this object manages.
	// +kubebuilder:default=BlackBerryProtectMobile
	// +optional
	Partner Partner `json:"partner,omitempty"`

	// intune is the Microsoft Intune side: the tenant, how to reach and authenticate to
	// Microsoft Graph, and the connector settings to keep in place.
	// +required
	Intune IntuneSpec `json:"intune"`

	// ues is the BlackBerry UES (Cylance Endpoint Security) side: the tenant and API app.
	// +required
	UES UESSpec `json:"ues"`

	// threatSync controls turning UES mobile alerts into ThreatRemediation objects.
	// +kubebuilder:default={}
	// +optional
	ThreatSync ThreatSyncSpec `json:"threatSync,omitempty"`

	// protectApp deploys the BlackBerry Protect Mobile app to the enrolled phones and
	// reports which of them lack it. Unset: the app is left to the portal, and nothing
	// is read or counted.
	// +optional
	ProtectApp *ProtectAppSpec `json:"protectApp,omitempty"`

	// guardrails bound what remediation may do to devices through this connector.
	// +kubebuilder:default={}
	// +optional
	Guardrails Guardrails `json:"guardrails,omitempty"`

	// healthPolicy says when the partner counts as healthy.
	// +kubebuilder:default={}
	// +optional
	HealthPolicy HealthPolicy `json:"healthPolicy,omitempty"`

	// resyncInterval is how often a healthy connector (and its policies) is re-read from
	// both clouds to detect drift; each resync is jittered by up to 10% so many connectors
	// spread out. Unset uses the installation's default (the operator's --default-resync,
	// the chart's operator.defaultResync), 5m unless changed there.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s') && duration(self) <= duration('24h')",message="resyncInterval must be between 30s and 24h"
	// +optional
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`

	// managementPolicy Manage corrects drift in Intune; ObserveOnly never writes and reports
	// drift as a condition and an event.
	// +kubebuilder:default=Manage
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// deletionPolicy Orphan leaves Intune as it is when this object is deleted; Delete
	// switches the connector's platforms off first (the partner connection itself is never
	// deleted: onboarding it again needs an administrator in both consoles).
	// +kubebuilder:default=Orphan
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// suspend stops all calls to both clouds until set back to false.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// IntuneSpec is the Intune tenant and the Entra application the operator acts as.
type IntuneSpec struct {
	// tenantID is the Microsoft Entra tenant (directory) id. It cannot change: a connector
	// for another tenant is another MTDConnector.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tenantID is immutable"
	// +required
	TenantID GUID `json:"tenantID"`

	// clientID is the application (client) id of the Entra app registration the operator
	// authenticates as.
	// +required
	ClientID GUID `json:"clientID"`

	// cloud is the Microsoft cloud of the tenant.
	// +kubebuilder:default=Public
	// +optional
	Cloud Cloud `json:"cloud,omitempty"`

	// endpoints override the cloud's authority and Graph URLs, for a proxy or a local
	// twin. Only hosts the installation allows are accepted (the operator's
	// --allowed-endpoint-hosts, none by default): credentials are sent there.
	// +optional
	Endpoints *IntuneEndpoints `json:"endpoints,omitempty"`

	// caBundle adds CA certificates to trust for the Entra and Graph endpoints.
	// +optional
	CABundle *CABundleReference `json:"caBundle,omitempty"`

	// credentials say how to authenticate: exactly one of clientSecret, clientCertificate
	// or workloadIdentity.
	// +required
	Credentials IntuneCredentials `json:"credentials"`

	// connectorSettings are the Intune MTD connector properties to keep in place. A field
	// left out is not managed: its live value is neither read for drift nor written.
	// +optional
	ConnectorSettings *ConnectorSettings `json:"connectorSettings,omitempty"`
}

// IntuneEndpoints override the per-cloud defaults.
// +kubebuilder:validation:MinProperties=1
type IntuneEndpoints struct {
	// authorityURL is the Entra login host, e.g. https://login.microsoftonline.com/.
	// +optional
	AuthorityURL HTTPSURL `json:"authorityURL,omitempty"`
	// graphURL is the Graph v1.0 base URL, e.g. https://graph.microsoft.com/v1.0.
	// +optional
	GraphURL HTTPSURL `json:"graphURL,omitempty"`
}

// IntuneCredentials hold exactly one way to authenticate to Entra.
// +kubebuilder:validation:XValidation:rule="[has(self.clientSecret), has(self.clientCertificate), has(self.workloadIdentity)].filter(x, x).size() == 1",message="exactly one of clientSecret, clientCertificate or workloadIdentity must be set"
type IntuneCredentials struct {
	// clientSecret reads the app registration's client secret from a Secret.
	// +optional
	ClientSecret *SecretKeyReference `json:"clientSecret,omitempty"`
	// clientCertificate authenticates with a certificate registered on the app.
	// +optional
	ClientCertificate *ClientCertificateCredential `json:"clientCertificate,omitempty"`
	// workloadIdentity exchanges the pod's projected ServiceAccount token for an Entra
	// token (Azure workload identity federation); no secret is stored.
	// +optional
	WorkloadIdentity *WorkloadIdentityCredential `json:"workloadIdentity,omitempty"`
}

// SecretKeyReference selects one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret, in the same namespace.
	// +required
	Name ObjectName `json:"name"`
	// key in the Secret's data.
	// +kubebuilder:default="client-secret"
	// +optional
	Key SecretKeyName `json:"key,omitempty"`
}

// CertificateFormat is how a client certificate is encoded.
// +kubebuilder:validation:Enum=PEM;PFX
type CertificateFormat string

const (
	CertificateFormatPEM CertificateFormat = "PEM"
	CertificateFormatPFX CertificateFormat = "PFX"
)

// ClientCertificateCredential reads a certificate and its private key from a Secret.
type ClientCertificateCredential struct {
	// secretName is the Secret holding the certificate, in the same namespace.
	// +required
	SecretName ObjectName `json:"secretName"`
	// format of the certificate data.
	// +kubebuilder:default=PEM
	// +optional
	Format CertificateFormat `json:"format,omitempty"`
	// certificateKey is the Secret key with the certificate: a PEM chain (which may also
	// hold the key) or PFX/PKCS#12 bytes.
	// +kubebuilder:default="tls.crt"
	// +optional
	CertificateKey SecretKeyName `json:"certificateKey,omitempty"`
	// privateKeyKey is the Secret key with the PEM private key, when it is not inside
	// certificateKey. Ignored for PFX.
	// +kubebuilder:default="tls.key"
	// +optional
	PrivateKeyKey SecretKeyName `json:"privateKeyKey,omitempty"`
	// passwordKey is the Secret key with the password of a PFX file or encrypted key.
	// +optional
	PasswordKey SecretKeyName `json:"passwordKey,omitempty"`
	// sendCertificateChain sends the x5c header, for subject name/issuer authentication.
	// +optional
	SendCertificateChain bool `json:"sendCertificateChain,omitempty"`
}

// WorkloadIdentityCredential uses Azure workload identity federation: the operator's own
// projected ServiceAccount token (AZURE_FEDERATED_TOKEN_FILE, as the workload identity
// webhook injects it) for the app registration of spec.intune.clientID. Only connectors
// in the namespaces the installation names may use it (--workload-identity-namespaces).
type WorkloadIdentityCredential struct {
	// tokenFilePath is not supported: the token file is the operator's, never a path
	// from the spec (which could name any file the operator can read, such as its
	// Kubernetes ServiceAccount token).
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="false",message="tokenFilePath is not supported: the operator uses the token file the Azure workload identity webhook mounts (AZURE_FEDERATED_TOKEN_FILE)"
	// +optional
	TokenFilePath string `json:"tokenFilePath,omitempty"`
}

// ConnectorSettings are the writable properties of Intune's mobileThreatDefenseConnector,
// named as Graph names them. Only fields that are set are managed.
type ConnectorSettings struct {
	// androidEnabled connects Android devices: the partner reports their risk to Intune.
	// +optional
	AndroidEnabled *bool `json:"androidEnabled,omitempty"`
	// iosEnabled connects iOS/iPadOS devices.
	// +optional
	IOSEnabled *bool `json:"iosEnabled,omitempty"`
	// windowsEnabled connects Windows devices. BlackBerry Protect Mobile has no Windows
	// support, so only false is accepted.
	// +kubebuilder:validation:XValidation:rule="!self",message="BlackBerry Protect Mobile supports Android and iOS only; this setting cannot be true"
	// +optional
	WindowsEnabled *bool `json:"windowsEnabled,omitempty"`
	// androidDeviceBlockedOnMissingPartnerData treats an Android device as non-compliant
	// while the partner has not reported on it.
	// +optional
	AndroidDeviceBlockedOnMissingPartnerData *bool `json:"androidDeviceBlockedOnMissingPartnerData,omitempty"`
	// iosDeviceBlockedOnMissingPartnerData does the same for iOS devices.
	// +optional
	IOSDeviceBlockedOnMissingPartnerData *bool `json:"iosDeviceBlockedOnMissingPartnerData,omitempty"`
	// windowsDeviceBlockedOnMissingPartnerData; only false is accepted for this partner.
	// +kubebuilder:validation:XValidation:rule="!self",message="BlackBerry Protect Mobile supports Android and iOS only; this setting cannot be true"
	// +optional
	WindowsDeviceBlockedOnMissingPartnerData *bool `json:"windowsDeviceBlockedOnMissingPartnerData,omitempty"`
	// partnerUnsupportedOsVersionBlocked blocks devices whose OS version the partner does
	// not support (below Android 9.0 / iOS 13.0).
	// +optional
	PartnerUnsupportedOsVersionBlocked *bool `json:"partnerUnsupportedOsVersionBlocked,omitempty"`
	// partnerUnresponsivenessThresholdInDays is how many days without a heartbeat make
	// the partner unresponsive; Intune then ignores its data.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	// +optional
	PartnerUnresponsivenessThresholdInDays *int32 `json:"partnerUnresponsivenessThresholdInDays,omitempty"`
	// allowPartnerToCollectIOSApplicationMetadata lets the partner read the list of
	// managed apps on iOS devices.
	// +optional
	AllowPartnerToCollectIOSApplicationMetadata *bool `json:"allowPartnerToCollectIOSApplicationMetadata,omitempty"`
	// allowPartnerToCollectIOSPersonalApplicationMetadata lets the partner read personal
	// (unmanaged) app metadata on iOS devices.
	// +optional
	AllowPartnerToCollectIOSPersonalApplicationMetadata *bool `json:"allowPartnerToCollectIOSPersonalApplicationMetadata,omitempty"`
	// androidMobileApplicationManagementEnabled uses the partner's data in app protection
	// (MAM) policies on Android. Only one partner per platform may have it.
	// +optional
	AndroidMobileApplicationManagementEnabled *bool `json:"androidMobileApplicationManagementEnabled,omitempty"`
	// iosMobileApplicationManagementEnabled does the same on iOS.
	// +optional
	IOSMobileApplicationManagementEnabled *bool `json:"iosMobileApplicationManagementEnabled,omitempty"`
	// microsoftDefenderForEndpointAttachEnabled applies to Microsoft Defender only; only
	// false is accepted for this partner.
	// +kubebuilder:validation:XValidation:rule="!self",message="BlackBerry Protect Mobile supports Android and iOS only; this setting cannot be true"
	// +optional
	MicrosoftDefenderForEndpointAttachEnabled *bool `json:"microsoftDefenderForEndpointAttachEnabled,omitempty"`
}

// UESRegion is a BlackBerry UES API region.
// +kubebuilder:validation:Enum=NorthAmerica;Europe;Japan;Australia;SouthAmerica;USGovernment
type UESRegion string

const (
	UESRegionNorthAmerica UESRegion = "NorthAmerica"
	UESRegionEurope       UESRegion = "Europe"
	UESRegionJapan        UESRegion = "Japan"
	UESRegionAustralia    UESRegion = "Australia"
	UESRegionSouthAmerica UESRegion = "SouthAmerica"
	UESRegionUSGovernment UESRegion = "USGovernment"
)

// UESSpec is the BlackBerry UES tenant and API application.
// +kubebuilder:validation:XValidation:rule="has(self.region) != has(self.baseURL)",message="exactly one of region or baseURL must be set"
type UESSpec struct {
	// region selects the UES API host of the tenant's region.
	// +optional
	Region UESRegion `json:"region,omitempty"`
	// baseURL is the UES API base URL, for a proxy or a local twin. Only hosts the
	// installation allows are accepted (--allowed-endpoint-hosts, none by default).
	// +optional
	BaseURL HTTPSURL `json:"baseURL,omitempty"`
	// tenantID is the UES tenant id. It cannot change.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ues.tenantID is immutable"
	// +required
	TenantID GUID `json:"tenantID"`
	// credentials name the Secret holding the UES API application's id and secret.
	// +required
	Credentials UESCredentials `json:"credentials"`
	// caBundle adds CA certificates to trust for the UES endpoint.
	// +optional
	CABundle *CABundleReference `json:"caBundle,omitempty"`
	// modelledMobileAPI opts in to the UES mobile REST API that this project models
	// (mobile alerts, mobile devices, the risk assessment, the Intune integration
	// status) and that its twin, mtd-sim --modelled-ues, serves. BlackBerry publishes no
	// such API: a real UES tenant answers these routes with an error, so leave it off
	// for a real tenant. Off, the operator uses only documented surfaces: Intune's
	// per-device partnerReportedThreatState for threats and device counts, and the UES
	// token and device list for reachability. On, it also polls mobile alerts (alert
	// id, type and detail on each ThreatRemediation), checks UES's Intune link, writes
	// DeviceRiskPolicy riskAssessment and lets ignoreAlert steps run.
	// +optional
	ModelledMobileAPI bool `json:"modelledMobileAPI,omitempty"`
}

// UESCredentials select the API application id and secret in a Secret.
type UESCredentials struct {
	// secretName is the Secret, in the same namespace.
	// +required
	SecretName ObjectName `json:"secretName"`
	// appIDKey is the key holding the application id.
	// +kubebuilder:default="app-id"
	// +optional
	AppIDKey SecretKeyName `json:"appIDKey,omitempty"`
	// appSecretKey is the key holding the application secret.
	// +kubebuilder:default="app-secret"
	// +optional
	AppSecretKey SecretKeyName `json:"appSecretKey,omitempty"`
}

// ThreatSyncSpec controls the threat intake: each device whose risk, as BlackBerry
// reports it to Intune (partnerReportedThreatState), reaches minimumRisk gets one
// ThreatRemediation per risk episode. With spec.ues.modelledMobileAPI, UES mobile
// alerts also open or enrich them.
type ThreatSyncSpec struct {
	// enabled turns risky devices into ThreatRemediation objects. The device snapshot
	// behind status.devices is taken on the same interval either way.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// interval between device snapshots: one paged read of Intune's managed devices
	// (about one GET per 1,000 devices), shared by the device counts, the intake and
	// every open ThreatRemediation; with the modelled API also between alert reads.
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="interval must be between 10s and 24h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// minimumRisk is the lowest device risk that opens a ThreatRemediation; a
	// remediation resolves once the risk is below it again and Intune reports the
	// device compliant.
	// +kubebuilder:default=high
	// +optional
	MinimumRisk ThreatRiskLevel `json:"minimumRisk,omitempty"`
	// defaultPlan is the step list given to each ThreatRemediation the sync opens. Empty
	// means notify at once and syncDevice after 15 minutes. Steps that need an approval
	// wait, on each remediation, for an approver (status.approval): writing the
	// connector approves nothing.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	DefaultPlan []RemediationStep `json:"defaultPlan,omitempty"`
	// syslog receives UES's documented push feed of mobile alerts (Settings ›
	// Integrations › Syslog/SIEM, event type Mobile Alerts): within seconds, what the
	// threat is (the app, the network), where Intune's device risk says only how bad,
	// after UES's next report. Events open or enrich this connector's remediations only.
	// +optional
	Syslog *SyslogSpec `json:"syslog,omitempty"`
}

// SyslogSpec is one connector's syslog listener. Syslog has no sender authentication,
// so the listener is TLS unless plain TCP is asked for explicitly, accepts only the
// declared senders, and is capped in size, rate and connections.
// +kubebuilder:validation:XValidation:rule="has(self.tls) != (has(self.allowPlainTCP) && self.allowPlainTCP)",message="set exactly one of tls or allowPlainTCP: true"
type SyslogSpec struct {
	// port the listener binds on the operator, one of the ports the installation
	// allows (--syslog-ports; the chart's syslog.ports, which its Service exposes).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`
	// tls serves TLS, as the UES console recommends, with a certificate from a Secret.
	// +optional
	TLS *SyslogTLS `json:"tls,omitempty"`
	// allowPlainTCP accepts plain TCP instead; alerts then cross the network in clear
	// and anyone who can reach the port can send them (status.syslog says so).
	// +optional
	AllowPlainTCP bool `json:"allowPlainTCP,omitempty"`
	// allowedSourceCIDRs are the only senders accepted (UES's egress addresses, or your
	// load balancer's); a connection from elsewhere is closed at once. Empty: any.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 203.0.113.0/24"
	// +kubebuilder:validation:items:MaxLength=49
	// +optional
	AllowedSourceCIDRs []string `json:"allowedSourceCIDRs,omitempty"`
}

// SyslogTLS is the listener's certificate.
type SyslogTLS struct {
	// secretName is a kubernetes.io/tls Secret in the connector's namespace: tls.crt
	// (the chain) and tls.key. It is re-read when it changes.
	// +required
	SecretName ObjectName `json:"secretName"`
	// requireClientCertificate accepts only senders presenting a certificate that chains
	// to the Secret's ca.crt (mutual TLS). UES is not documented to send one.
	// +optional
	RequireClientCertificate bool `json:"requireClientCertificate,omitempty"`
}

// Guardrails bound device actions taken through a connector.
type Guardrails struct {
	// maxDestructiveActionsPerHour caps retire, wipe, remoteLock and ignoreAlert (which
	// lifts a block) per rolling hour across all ThreatRemediations of this connector;
	// 0 forbids them.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxDestructiveActionsPerHour *int32 `json:"maxDestructiveActionsPerHour,omitempty"`
	// protectedGroupIDs are Entra groups whose members' devices no remediation step
	// may lock, retire or wipe (executives, kiosks, break-glass devices).
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	ProtectedGroupIDs []GUID `json:"protectedGroupIDs,omitempty"`
}

// HealthPolicy says when the partner counts as healthy.
type HealthPolicy struct {
	// maxHeartbeatAge is the oldest partner heartbeat that still counts as healthy.
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="maxHeartbeatAge must be at least 1m"
	// +optional
	MaxHeartbeatAge *metav1.Duration `json:"maxHeartbeatAge,omitempty"`
}

// MTDConnector condition types, besides the shared ones.
const (
	ConditionIntuneConnected = "IntuneConnected"
	ConditionUESConnected    = "UESConnected"
	ConditionPartnerHealthy  = "PartnerHealthy"
)

// MTDConnectorStatus is what the operator last observed of the connection.
type MTDConnectorStatus struct {
	ReconcileStatus `json:",inline"`

	// connectorID is the Intune mobileThreatDefenseConnector id.
	// +optional
	ConnectorID string `json:"connectorID,omitempty"`
	// partnerState is Intune's view of the partner: unavailable, available, enabled,
	// unresponsive, notSetUp, error or unknown.
	// +optional
	PartnerState string `json:"partnerState,omitempty"`
	// lastHeartbeatTime is the partner's last heartbeat as Intune recorded it.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`
	// authenticatedAt is when this connector's Intune credentials first authenticated to
	// the tenant (Graph answered, if only to refuse a permission). Only an authenticated
	// connector can own its tenant, so a connector with made-up credentials cannot claim
	// someone else's tenant first.
	// +optional
	AuthenticatedAt *metav1.Time `json:"authenticatedAt,omitempty"`
	// lastSyncTime is when both clouds were last read successfully.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// devices counts the tenant's Intune managed devices by the risk BlackBerry reported
	// for them (partnerReportedThreatState), from the last device snapshot.
	// +optional
	Devices *DeviceRiskCounts `json:"devices,omitempty"`
	// activeThreats counts this connector's open ThreatRemediation objects that answer a
	// threat (spec.threat set: from UES or Intune's device risk); a hand-made plan, such
	// as for a lost phone, is not counted.
	// +optional
	ActiveThreats int32 `json:"activeThreats,omitempty"`
	// threatSync records the threat sync loop's progress.
	// +optional
	ThreatSync *ThreatSyncStatus `json:"threatSync,omitempty"`
	// syslog is the state of the connector's syslog listener.
	// +optional
	Syslog *SyslogStatus `json:"syslog,omitempty"`
	// protectApp is each declared platform's Protect app and the devices without it.
	// +optional
	// +listType=map
	// +listMapKey=platform
	ProtectApp []ProtectAppStatus `json:"protectApp,omitempty"`
}

// DeviceRiskCounts counts managed devices by partner-reported risk.
type DeviceRiskCounts struct {
	// +optional
	Secured int32 `json:"secured"`
	// +optional
	Low int32 `json:"low"`
	// +optional
	Medium int32 `json:"medium"`
	// +optional
	High int32 `json:"high"`
	// total counts every device, including ones the partner has not assessed.
	// +optional
	Total int32 `json:"total"`
	// platforms counts the devices by the DeviceRiskPolicy platform whose compliance
	// policy type governs them, from Intune's enrolment fields (deviceEnrollmentType,
	// managementAgent, managedDeviceOwnerType): how many devices each platform of a
	// policy reaches, and how many are still on Android device administrator.
	// +optional
	Platforms map[Platform]int32 `json:"platforms,omitempty"`
	// allSecuredSince is set while every assessed device is reported secured: since
	// when. UES reports exactly that when no risk assessment is configured in its
	// console, so a long-standing value is worth a look (see DeviceRiskPolicy's
	// RiskAssessment condition).
	// +optional
	AllSecuredSince *metav1.Time `json:"allSecuredSince,omitempty"`
}

// ThreatSyncStatus records the intake's progress: the device snapshot and, with the
// modelled API, the alert cursor, so that a restart neither re-reads everything nor
// misses anything.
type ThreatSyncStatus struct {
	// cursor is the modification time up to which modelled UES alerts have been
	// processed, with UES's sub-second precision: the next pass asks for alerts
	// modified at or after it.
	// +optional
	Cursor *metav1.MicroTime `json:"cursor,omitempty"`
	// lastRunTime is when the loop last finished a pass.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`
	// snapshotTime is when the last device snapshot was read from Intune.
	// +optional
	SnapshotTime *metav1.Time `json:"snapshotTime,omitempty"`
	// snapshotDevices is how many managed devices it held.
	// +optional
	SnapshotDevices int32 `json:"snapshotDevices,omitempty"`
}

// SyslogState is where a connector's syslog listener stands.
// +kubebuilder:validation:Enum=Listening;Failed
type SyslogState string

const (
	SyslogListening SyslogState = "Listening"
	SyslogFailed    SyslogState = "Failed"
)

// SyslogStatus is the listener's state. It never fails the connector's Ready: Intune's
// device risk stays the source of truth, and syslog only adds detail sooner. Counts of
// what was received, correlated and dropped are metrics, not status.
type SyslogStatus struct {
	// state is Listening or Failed.
	State SyslogState `json:"state"`
	// reason is a CamelCase word: Listening, PlainTCP (listening without TLS),
	// PortNotAllowed, PortInUse, TLSSecretInvalid, NotLeader...
	Reason string `json:"reason"`
	// message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
	// address the listener is bound to.
	// +optional
	Address string `json:"address,omitempty"`
	// since is when the state last changed.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// MTDConnector keeps Intune's Mobile Threat Defense connector for BlackBerry Protect
// Mobile configured as declared and reports the partner's health.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mtdc,categories=mtd
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.status.partnerState`
// +kubebuilder:printcolumn:name="Connector ID",type=string,JSONPath=`.status.connectorID`,priority=1
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastHeartbeatTime`,priority=1
// +kubebuilder:printcolumn:name="Threats",type=integer,JSONPath=`.status.activeThreats`,priority=1
// +kubebuilder:printcolumn:name="App",type=string,JSONPath=`.status.conditions[?(@.type=="ProtectAppReady")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MTDConnector struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the connection.
	// +required
	Spec MTDConnectorSpec `json:"spec"`
	// status is what the operator last observed.
	// +optional
	Status MTDConnectorStatus `json:"status,omitempty"`
}

// MTDConnectorList is a list of MTDConnector.
// +kubebuilder:object:root=true
type MTDConnectorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MTDConnector `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MTDConnector{}, &MTDConnectorList{})
}
