package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AdoptionPolicy says what to do when no Intune object is recorded yet.
// +kubebuilder:validation:Enum=AdoptOrCreate;CreateOnly
type AdoptionPolicy string

const (
	// AdoptionAdoptOrCreate adopts the one existing object of the same type and exact
	// display name, and creates one only when there is none.
	AdoptionAdoptOrCreate AdoptionPolicy = "AdoptOrCreate"
	// AdoptionCreateOnly always creates.
	AdoptionCreateOnly AdoptionPolicy = "CreateOnly"
)

// DeviceRiskPolicySpec declares, per platform, an Intune compliance policy whose Mobile
// Threat Defense rule allows at most maxAllowedRisk, and optionally the Conditional Access
// policy and UES risk assessment that complete the chain from detection to blocked access.
type DeviceRiskPolicySpec struct {
	// connectorRef names the MTDConnector, in the same namespace, whose tenant this
	// policy is written to.
	// +required
	ConnectorRef LocalObjectReference `json:"connectorRef"`

	// displayName of the Intune compliance policies (one per platform; Intune tells them
	// apart by type) and, unless overridden, of the Conditional Access policy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	DisplayName string `json:"displayName"`

	// description of the Intune policies.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// platforms get one compliance policy each: AndroidEnterprise (fully managed,
	// dedicated and corporate-owned work profile devices), AndroidWorkProfile (personally
	// owned work profile), iOS, and Android, which is Android device administrator:
	// unsupported by Intune on devices with Google Mobile Services since the end of 2024
	// (the AndroidDeviceAdministrator condition says so).
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +required
	Platforms []Platform `json:"platforms"`

	// maxAllowedRisk is the highest device threat level that still counts as compliant
	// (Intune's deviceThreatProtectionRequiredSecurityLevel): secured allows no threat at
	// all, high allows everything but a compromised device.
	// +required
	MaxAllowedRisk RiskLevel `json:"maxAllowedRisk"`

	// actions are what Intune does to a non-compliant device.
	// +kubebuilder:default={}
	// +optional
	Actions ComplianceActions `json:"actions,omitempty"`

	// assignments say which users and devices the compliance policies apply to.
	// +optional
	Assignments Assignments `json:"assignments,omitempty"`

	// conditionalAccess, when set, manages the Conditional Access policy that blocks
	// non-compliant devices from the chosen apps.
	// +optional
	ConditionalAccess *ConditionalAccessSpec `json:"conditionalAccess,omitempty"`

	// riskAssessment declares which risk each BlackBerry detection type raises a device
	// to (the UES console's Policies > User policy > Risk assessment). BlackBerry
	// publishes no API for it, so it is written only where the connector opts into the
	// modelled UES API (spec.ues.modelledMobileAPI); otherwise the RiskAssessment
	// condition says to set it in the console, and the policy stays Ready.
	// +optional
	RiskAssessment *RiskAssessment `json:"riskAssessment,omitempty"`

	// adoption says whether an existing Intune policy of the same type and exact display
	// name is adopted or a new one always created.
	// +kubebuilder:default=AdoptOrCreate
	// +optional
	Adoption AdoptionPolicy `json:"adoption,omitempty"`

	// managementPolicy Manage corrects drift; ObserveOnly only reports it.
	// +kubebuilder:default=Manage
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// deletionPolicy Delete removes the Intune and Conditional Access policies with this
	// object (and a platform's policy when the platform is removed); Orphan leaves them.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// suspend stops all calls to both clouds until set back to false.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ComplianceActions are the compliance policy's actions for non-compliance.
type ComplianceActions struct {
	// blockGracePeriodHours is how long a non-compliant device keeps access ("in grace
	// period") before it is marked non-compliant and blocked.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=8760
	// +optional
	BlockGracePeriodHours int32 `json:"blockGracePeriodHours"`
	// notifications e-mail the user after the given delay.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	Notifications []ComplianceNotification `json:"notifications,omitempty"`
	// retireAfterDays retires (removes company data from) a device that stays
	// non-compliant this many days. Unset never retires.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=120
	// +optional
	RetireAfterDays *int32 `json:"retireAfterDays,omitempty"`
}

// ComplianceNotification sends an Intune notification message template.
type ComplianceNotification struct {
	// afterHours since the device became non-compliant.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=8760
	// +optional
	AfterHours int32 `json:"afterHours"`
	// templateID is the Intune notification message template id.
	// +required
	TemplateID GUID `json:"templateID"`
	// ccGroupIDs are Entra groups that receive a copy.
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +optional
	CCGroupIDs []GUID `json:"ccGroupIDs,omitempty"`
}

// Assignments target a policy.
// +kubebuilder:validation:XValidation:rule="!has(self.includeGroupIDs) || !has(self.excludeGroupIDs) || !self.includeGroupIDs.exists(g, g in self.excludeGroupIDs)",message="a group cannot be both included and excluded"
type Assignments struct {
	// allUsers assigns to all licensed users.
	// +optional
	AllUsers bool `json:"allUsers,omitempty"`
	// allDevices assigns to all devices.
	// +optional
	AllDevices bool `json:"allDevices,omitempty"`
	// includeGroupIDs are Entra groups to assign to.
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	IncludeGroupIDs []GUID `json:"includeGroupIDs,omitempty"`
	// excludeGroupIDs are Entra groups excluded from the assignment.
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	ExcludeGroupIDs []GUID `json:"excludeGroupIDs,omitempty"`
}

// ConditionalAccessState is the state of a Conditional Access policy.
// +kubebuilder:validation:Enum=enabled;reportOnly;disabled
type ConditionalAccessState string

const (
	CAStateEnabled    ConditionalAccessState = "enabled"
	CAStateReportOnly ConditionalAccessState = "reportOnly"
	CAStateDisabled   ConditionalAccessState = "disabled"
)

// ConditionalAccessSpec is a Conditional Access policy that grants access to the chosen
// apps only from compliant devices of the policy's platforms.
// +kubebuilder:validation:XValidation:rule="(has(self.applications.exchangeOnline) && self.applications.exchangeOnline) || (has(self.applications.sharePointOnline) && self.applications.sharePointOnline) || (has(self.applications.office365) && self.applications.office365) || (has(self.applications.applicationIDs) && size(self.applications.applicationIDs) > 0)",message="conditionalAccess.applications must select at least one application"
// +kubebuilder:validation:XValidation:rule="(has(self.allUsers) && self.allUsers) || (has(self.includeGroupIDs) && size(self.includeGroupIDs) > 0)",message="conditionalAccess must target allUsers or at least one group"
// +kubebuilder:validation:XValidation:rule="!has(self.includeGroupIDs) || !has(self.excludeGroupIDs) || !self.includeGroupIDs.exists(g, g in self.excludeGroupIDs)",message="a group cannot be both included and excluded"
type ConditionalAccessSpec struct {
	// displayName of the Conditional Access policy; defaults to the compliance policies'.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// state enabled enforces; reportOnly only logs what would be blocked (Entra's
	// enabledForReportingButNotEnforced, the recommended first step); disabled keeps the
	// policy but turns it off.
	// +kubebuilder:default=reportOnly
	// +optional
	State ConditionalAccessState `json:"state,omitempty"`
	// applications to protect.
	// +required
	Applications ConditionalAccessApplications `json:"applications"`
	// allUsers targets every user.
	// +optional
	AllUsers bool `json:"allUsers,omitempty"`
	// includeGroupIDs are Entra groups the policy applies to.
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	IncludeGroupIDs []GUID `json:"includeGroupIDs,omitempty"`
	// excludeGroupIDs are Entra groups exempt from the policy (keep a break-glass group here).
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	ExcludeGroupIDs []GUID `json:"excludeGroupIDs,omitempty"`
}

// ConditionalAccessApplications selects cloud apps.
type ConditionalAccessApplications struct {
	// exchangeOnline protects corporate e-mail (Office 365 Exchange Online).
	// +optional
	ExchangeOnline bool `json:"exchangeOnline,omitempty"`
	// sharePointOnline protects SharePoint Online and OneDrive for Business.
	// +optional
	SharePointOnline bool `json:"sharePointOnline,omitempty"`
	// office365 protects the whole Office 365 app group.
	// +optional
	Office365 bool `json:"office365,omitempty"`
	// applicationIDs are further company apps by Entra application (client) id.
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +optional
	ApplicationIDs []GUID `json:"applicationIDs,omitempty"`
}

// RiskAssessment maps BlackBerry detection types to the risk they raise a device to.
type RiskAssessment struct {
	// detections lists each detection type once with its risk.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +required
	Detections []DetectionRisk `json:"detections"`
}

// DetectionRisk puts one detection type at a risk level.
type DetectionRisk struct {
	// type of detection.
	// +required
	Type DetectionType `json:"type"`
	// risk a device with an active detection of this type is raised to.
	// +required
	Risk ThreatRiskLevel `json:"risk"`
}

// PlatformPolicyStatus is the Intune compliance policy of one platform.
type PlatformPolicyStatus struct {
	// platform of the policy.
	Platform Platform `json:"platform"`
	// policyID is the Intune deviceCompliancePolicy id.
	// +optional
	PolicyID string `json:"policyID,omitempty"`
	// version is Intune's policy version, bumped on each change.
	// +optional
	Version int32 `json:"version,omitempty"`
	// adopted is true when the policy existed before and was adopted by display name.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
	// compliantDevices assigned to this policy that Intune reports compliant.
	// +optional
	CompliantDevices int32 `json:"compliantDevices"`
	// nonCompliantDevices assigned to this policy that Intune reports non-compliant
	// (including in grace period).
	// +optional
	NonCompliantDevices int32 `json:"nonCompliantDevices"`
}

// DeviceRiskPolicyStatus is what the operator last observed of the policy.
type DeviceRiskPolicyStatus struct {
	ReconcileStatus `json:",inline"`

	// platforms lists the Intune compliance policy of each platform.
	// +listType=map
	// +listMapKey=platform
	// +optional
	Platforms []PlatformPolicyStatus `json:"platforms,omitempty"`
	// conditionalAccessPolicyID is the Entra Conditional Access policy id.
	// +optional
	ConditionalAccessPolicyID string `json:"conditionalAccessPolicyID,omitempty"`
	// conditionalAccessAdopted is true when the Conditional Access policy existed before
	// and was adopted by display name.
	// +optional
	ConditionalAccessAdopted bool `json:"conditionalAccessAdopted,omitempty"`
	// compliantDevices across all platforms.
	// +optional
	CompliantDevices int32 `json:"compliantDevices"`
	// nonCompliantDevices across all platforms.
	// +optional
	NonCompliantDevices int32 `json:"nonCompliantDevices"`
}

// DeviceRiskPolicy turns BlackBerry's device risk into Intune compliance, and
// compliance into access, per platform.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=drp,categories=mtd
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Max Risk",type=string,JSONPath=`.spec.maxAllowedRisk`
// +kubebuilder:printcolumn:name="Non-compliant",type=integer,JSONPath=`.status.nonCompliantDevices`
// +kubebuilder:printcolumn:name="Platforms",type=string,JSONPath=`.spec.platforms`,priority=1
// +kubebuilder:printcolumn:name="Device Admin",type=string,JSONPath=`.status.conditions[?(@.type=="AndroidDeviceAdministrator")].reason`,priority=1
// +kubebuilder:printcolumn:name="CA Policy",type=string,JSONPath=`.status.conditionalAccessPolicyID`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeviceRiskPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the policy.
	// +required
	Spec DeviceRiskPolicySpec `json:"spec"`
	// status is what the operator last observed.
	// +optional
	Status DeviceRiskPolicyStatus `json:"status,omitempty"`
}

// DeviceRiskPolicyList is a list of DeviceRiskPolicy.
// +kubebuilder:object:root=true
type DeviceRiskPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeviceRiskPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DeviceRiskPolicy{}, &DeviceRiskPolicyList{})
}
