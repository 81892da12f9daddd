package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GUID is a Microsoft Entra or BlackBerry UES identifier in its canonical
// 8-4-4-4-12 hexadecimal form.
// +kubebuilder:validation:MaxLength=36
// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="must be a GUID such as 00000000-0000-0000-0000-000000000000"
type GUID string

// ObjectName is the name of another object in the same namespace. Cross-namespace
// references are refused so that a connector can only use what its own namespace holds.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="must be the name of an object in the same namespace; namespace/name references are not allowed"
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be a lowercase RFC 1123 subdomain name"
type ObjectName string

// SecretKeyName is a key inside a Secret or ConfigMap.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
type SecretKeyName string

// LocalObjectReference names another object of this API in the same namespace.
type LocalObjectReference struct {
	// name of the object, in the same namespace as the referring object.
	// +required
	Name ObjectName `json:"name"`
}

// CABundleKind says where a CA bundle is kept.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type CABundleKind string

const (
	CABundleConfigMap CABundleKind = "ConfigMap"
	CABundleSecret    CABundleKind = "Secret"
)

// CABundleReference points at PEM-encoded CA certificates to trust, in addition to the
// system roots, when calling a cloud endpoint: for a corporate TLS-inspecting proxy,
// or for the local twin.
type CABundleReference struct {
	// kind of the object that holds the bundle.
	// +kubebuilder:default=ConfigMap
	// +optional
	Kind CABundleKind `json:"kind,omitempty"`
	// name of the ConfigMap or Secret, in the connector's namespace.
	// +required
	Name ObjectName `json:"name"`
	// key holding the PEM bundle.
	// +kubebuilder:default="ca.crt"
	// +optional
	Key SecretKeyName `json:"key,omitempty"`
}

// ManagementPolicy says whether the operator may write to the clouds.
// +kubebuilder:validation:Enum=Manage;ObserveOnly
type ManagementPolicy string

const (
	// ManagementPolicyManage reads and corrects the external objects.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserveOnly only reads; differences are reported as drift, never written.
	ManagementPolicyObserveOnly ManagementPolicy = "ObserveOnly"
)

// DeletionPolicy says what happens to external objects when the Kubernetes object goes.
// +kubebuilder:validation:Enum=Orphan;Delete
type DeletionPolicy string

const (
	// DeletionPolicyOrphan leaves the external objects as they are.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
	// DeletionPolicyDelete removes (or, for the partner connector, switches off) the external objects.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// RiskLevel is a device threat level as BlackBerry reports it and Intune's MTD rule reads it.
// +kubebuilder:validation:Enum=secured;low;medium;high
type RiskLevel string

const (
	RiskSecured RiskLevel = "secured"
	RiskLow     RiskLevel = "low"
	RiskMedium  RiskLevel = "medium"
	RiskHigh    RiskLevel = "high"
)

// ThreatRiskLevel is the level a detection can raise a device to (never secured).
// +kubebuilder:validation:Enum=low;medium;high
type ThreatRiskLevel string

// Platform is a mobile platform BlackBerry Protect Mobile supports with Intune, as Intune
// manages it:
//   - AndroidEnterprise: Android Enterprise fully managed, dedicated and corporate-owned
//     work profile devices (androidDeviceOwnerCompliancePolicy, Graph beta);
//   - AndroidWorkProfile: Android Enterprise personally owned work profile
//     (androidWorkProfileCompliancePolicy);
//   - Android: Android device administrator (androidCompliancePolicy), which Intune no
//     longer supports on devices with Google Mobile Services (since 31 December 2024);
//   - iOS: iOS/iPadOS (iosCompliancePolicy).
//
// +kubebuilder:validation:Enum=AndroidEnterprise;AndroidWorkProfile;Android;iOS
type Platform string

const (
	PlatformAndroidEnterprise  Platform = "AndroidEnterprise"
	PlatformAndroidWorkProfile Platform = "AndroidWorkProfile"
	PlatformAndroid            Platform = "Android"
	PlatformIOS                Platform = "iOS"
)

// DetectionType is a BlackBerry Protect Mobile detection (alert) type, as the UES syslog
// event guide names them, plus the network-protection detections.
// +kubebuilder:validation:Enum=maliciousApplication;sideLoadedApplication;jailbrokenOrRooted;deviceEncryption;deviceScreenlock;iOsIntegrityFailure;androidSafetyNetFailure;androidHWFailure;unsupportedSecurityPatch;unsupportedOS;unsupportedModel;manInTheMiddle;unsafeWifi
type DetectionType string

// DetectionTypes are the values DetectionType accepts, in the order of its enum.
var DetectionTypes = []DetectionType{"maliciousApplication", "sideLoadedApplication", "jailbrokenOrRooted", "deviceEncryption",
	"deviceScreenlock", "iOsIntegrityFailure", "androidSafetyNetFailure", "androidHWFailure", "unsupportedSecurityPatch",
	"unsupportedOS", "unsupportedModel", "manInTheMiddle", "unsafeWifi"}

// Condition types shared by the kinds of this API.
const (
	// ConditionReady summarises: True when the object is realised and healthy.
	ConditionReady = "Ready"
	// ConditionSynced says whether the last reconcile pass converged without error.
	ConditionSynced = "Synced"
	// ConditionReconciling is True while the spec is not yet realised (kstatus "abnormal-true").
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a change by a person (kstatus "abnormal-true").
	ConditionStalled = "Stalled"
)

// ReconcileStatus is what every kind reports about its own reconciliation.
type ReconcileStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are the latest observations: Ready, Synced, Reconciling, Stalled and
	// kind-specific ones.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}
