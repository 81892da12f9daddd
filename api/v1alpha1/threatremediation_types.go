package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StepAction is one remediation action.
// +kubebuilder:validation:Enum=notify;syncDevice;remoteLock;retire;wipe;ignoreAlert
type StepAction string

const (
	// StepNotify records an event and a condition that user-facing tooling reads.
	StepNotify StepAction = "notify"
	// StepSyncDevice asks Intune to check the device in, to speed up re-evaluation.
	StepSyncDevice StepAction = "syncDevice"
	// StepRemoteLock locks the device.
	StepRemoteLock StepAction = "remoteLock"
	// StepRetire removes company data and management from the device (destructive).
	StepRetire StepAction = "retire"
	// StepWipe factory-resets the device (destructive).
	StepWipe StepAction = "wipe"
	// StepIgnoreAlert ignores the alert in UES, which lowers the device's risk. It needs
	// the modelled UES API (the connector's spec.ues.modelledMobileAPI) and a known
	// alert id; otherwise it is recorded as Skipped.
	StepIgnoreAlert StepAction = "ignoreAlert"
)

// RemediationStep is one step of a remediation plan.
// +kubebuilder:validation:XValidation:rule="!has(self.wipe) || self.action == 'wipe'",message="wipe options are only allowed on a wipe step"
type RemediationStep struct {
	// action to take.
	// +required
	Action StepAction `json:"action"`
	// after is how long after the threat's detection (or the object's creation, when no
	// threat is given) the step becomes due. Steps still run in order.
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('8760h')",message="after must be between 0s and 8760h"
	// +optional
	After *metav1.Duration `json:"after,omitempty"`
	// requiresApproval holds this step, too, until the plan is approved (status.approval).
	// retire, wipe, remoteLock and ignoreAlert need an approval whatever this says
	// (the installation may exempt remoteLock and ignoreAlert); this adds the gate to
	// notify or syncDevice.
	// +optional
	RequiresApproval bool `json:"requiresApproval,omitempty"`
	// message is shown to the user by notify.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// wipe options, for a wipe step only.
	// +optional
	Wipe *WipeOptions `json:"wipe,omitempty"`
}

// WipeOptions are Intune's wipe parameters.
type WipeOptions struct {
	// keepEnrollmentData keeps the device enrolled after the wipe.
	// +optional
	KeepEnrollmentData bool `json:"keepEnrollmentData,omitempty"`
	// keepUserData keeps user data (a "protected wipe" on supported platforms).
	// +optional
	KeepUserData bool `json:"keepUserData,omitempty"`
}

// DeviceReference identifies a device by one or more of its ids.
// +kubebuilder:validation:XValidation:rule="has(self.intuneDeviceID) || has(self.entraDeviceID) || has(self.uesDeviceID)",message="device needs at least one of intuneDeviceID, entraDeviceID or uesDeviceID"
type DeviceReference struct {
	// intuneDeviceID is the Intune managedDevice id.
	// +optional
	IntuneDeviceID GUID `json:"intuneDeviceID,omitempty"`
	// entraDeviceID is the Entra device id (Intune's azureADDeviceId), shared by both clouds.
	// +optional
	EntraDeviceID GUID `json:"entraDeviceID,omitempty"`
	// uesDeviceID is the BlackBerry UES device id.
	// +optional
	UESDeviceID GUID `json:"uesDeviceID,omitempty"`
}

// ThreatSource is the feed that reported a threat.
// +kubebuilder:validation:Enum=IntuneDeviceRisk;UESSyslog;UESModelledAPI
type ThreatSource string

const (
	// SourceIntuneDeviceRisk: Intune's partnerReportedThreatState of the device reached
	// the connector's minimumRisk (documented; any MTD partner).
	SourceIntuneDeviceRisk ThreatSource = "IntuneDeviceRisk"
	// SourceUESSyslog: a Mobile Alerts event of UES's syslog feed (documented), received
	// by the connector's listener (spec.threatSync.syslog).
	SourceUESSyslog ThreatSource = "UESSyslog"
	// SourceUESModelledAPI: a mobile alert read through the modelled UES API (opt-in,
	// spec.ues.modelledMobileAPI of the connector).
	SourceUESModelledAPI ThreatSource = "UESModelledAPI"
)

// ThreatReference is the threat that opened the remediation. Intune's device risk says
// how bad it is; a UES alert, when one is known, says what it is. Fields can be filled
// in later (an alert arriving after Intune's report adds its id, type and detail) but
// never changed once set.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.alertID) || (has(self.alertID) && self.alertID == oldSelf.alertID)",message="threat.alertID cannot change once set"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.type) || (has(self.type) && self.type == oldSelf.type)",message="threat.type cannot change once set"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.source) || (has(self.source) && self.source == oldSelf.source)",message="threat.source cannot change once set"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.detectedAt) || (has(self.detectedAt) && self.detectedAt == oldSelf.detectedAt)",message="threat.detectedAt cannot change once set"
type ThreatReference struct {
	// source is the feed that saw the threat first.
	// +optional
	Source ThreatSource `json:"source,omitempty"`
	// alertID is the UES mobile alert id, when an alert is known.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	// +optional
	AlertID string `json:"alertID,omitempty"`
	// type of detection, when an alert is known.
	// +optional
	Type DetectionType `json:"type,omitempty"`
	// risk the threat raised the device to.
	// +optional
	Risk ThreatRiskLevel `json:"risk,omitempty"`
	// detail is the alert's description, such as the offending app or network.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Detail string `json:"detail,omitempty"`
	// detectedAt is when the threat was first seen.
	// +optional
	DetectedAt *metav1.Time `json:"detectedAt,omitempty"`
}

// ThreatRemediationSpec is a device threat (or a person's request) and the plan to follow
// it to its end.
// +kubebuilder:validation:XValidation:rule="!self.steps.exists(s, s.action == 'ignoreAlert') || has(self.threat)",message="an ignoreAlert step needs spec.threat"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.threat) || has(self.threat)",message="spec.threat cannot be removed"
type ThreatRemediationSpec struct {
	// connectorRef names the MTDConnector, in the same namespace, through which devices
	// are acted on. It cannot change: an approval is given for one tenant.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="connectorRef is immutable"
	// +required
	ConnectorRef LocalObjectReference `json:"connectorRef"`
	// device the remediation is about. It cannot change.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="device is immutable"
	// +required
	Device DeviceReference `json:"device"`
	// threat is what opened the remediation, when the intake opened it for a risky
	// device or an alert; absent on a remediation a person asks for.
	// +optional
	Threat *ThreatReference `json:"threat,omitempty"`
	// steps run in order, each at most once, when due.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +required
	Steps []RemediationStep `json:"steps"`
	// dryRun records what each step would do without acting on the device.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// expireAfter ends an unresolved remediation (phase Expired) this long after
	// detection; no further step runs.
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="expireAfter must be at least 1m"
	// +optional
	ExpireAfter *metav1.Duration `json:"expireAfter,omitempty"`
}

// AnnotationRequestedBy names who wrote the remediation's plan: the Kubernetes username
// of its creator, or of whoever last changed spec.steps or spec.dryRun. The chart's
// admission policies set it from the request (or, where MutatingAdmissionPolicy is not
// served, require it to equal the requester's username), and an approval must come from
// someone else.
const AnnotationRequestedBy = "mtd.operator.dev/requested-by"

// ApprovalDecision is an approver's answer to a plan.
// +kubebuilder:validation:Enum=Approved;Denied
type ApprovalDecision string

const (
	// Approved releases the steps that need an approval.
	Approved ApprovalDecision = "Approved"
	// Denied skips them; the remediation still follows the threat to its end.
	Denied ApprovalDecision = "Denied"
)

// Approval is a person's decision on a remediation's plan, written through the status
// subresource by someone granted the approve verb on threatremediations, as
// cert-manager's CertificateRequest approval is: the requesters' RBAC (create and update
// ThreatRemediations) does not include it. Admission checks that the approver is not the
// requester (AnnotationRequestedBy), records the approver from the request, and allows
// no other change to the status. A decision is given once, for the plan whose hash it
// names; when the plan changes before its steps run, the operator clears it.
type Approval struct {
	// decision is Approved or Denied.
	// +required
	Decision ApprovalDecision `json:"decision"`
	// planHash is the status.planHash of the plan decided on.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	PlanHash string `json:"planHash"`
	// user is the approver's Kubernetes username, taken from the request at admission.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	User string `json:"user,omitempty"`
	// message is the approver's reason, repeated in events and step records.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// RemediationPhase is where a remediation stands.
// +kubebuilder:validation:Enum=Pending;Blocked;AwaitingUser;Escalated;Resolved;Failed;Expired
type RemediationPhase string

const (
	// PhasePending: detected, Intune has not yet blocked the device.
	PhasePending RemediationPhase = "Pending"
	// PhaseBlocked: Intune reports the device non-compliant, so access is blocked.
	PhaseBlocked RemediationPhase = "Blocked"
	// PhaseAwaitingUser: the user has been guided and the plan waits for the fix.
	PhaseAwaitingUser RemediationPhase = "AwaitingUser"
	// PhaseEscalated: a step beyond notification ran.
	PhaseEscalated RemediationPhase = "Escalated"
	// PhaseResolved: the partner reports the device secured and Intune compliant.
	PhaseResolved RemediationPhase = "Resolved"
	// PhaseFailed: a step failed for good.
	PhaseFailed RemediationPhase = "Failed"
	// PhaseExpired: unresolved after spec.expireAfter.
	PhaseExpired RemediationPhase = "Expired"
)

// StepState is the outcome of one step.
// +kubebuilder:validation:Enum=Pending;AwaitingApproval;Running;Succeeded;Failed;Skipped;DryRun
type StepState string

const (
	StepPending          StepState = "Pending"
	StepAwaitingApproval StepState = "AwaitingApproval"
	StepRunning          StepState = "Running"
	StepSucceeded        StepState = "Succeeded"
	StepFailed           StepState = "Failed"
	StepSkipped          StepState = "Skipped"
	StepDryRun           StepState = "DryRun"
)

// StepRecord is the audit record of one step.
type StepRecord struct {
	// index of the step in spec.steps.
	Index int32 `json:"index"`
	// action of the step.
	Action StepAction `json:"action"`
	// state of the step. Running is recorded before the call, so a restart never repeats it.
	State StepState `json:"state"`
	// startedAt is when the step was started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// completedAt is when the outcome was recorded.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// message explains the outcome.
	// +optional
	Message string `json:"message,omitempty"`
}

// ThreatRemediationStatus is the audit trail.
type ThreatRemediationStatus struct {
	ReconcileStatus `json:",inline"`

	// phase is where the remediation stands.
	// +optional
	Phase RemediationPhase `json:"phase,omitempty"`
	// steps records every step with its times and outcome.
	// +listType=map
	// +listMapKey=index
	// +optional
	Steps []StepRecord `json:"steps,omitempty"`
	// deviceRisk is the device's current overall risk in UES.
	// +optional
	DeviceRisk RiskLevel `json:"deviceRisk,omitempty"`
	// complianceState is the device's current Intune compliance state.
	// +optional
	ComplianceState string `json:"complianceState,omitempty"`
	// intuneDeviceID is the resolved Intune managedDevice id.
	// +optional
	IntuneDeviceID string `json:"intuneDeviceID,omitempty"`
	// deviceName is the device's name in Intune.
	// +optional
	DeviceName string `json:"deviceName,omitempty"`
	// userPrincipalName of the device's primary user.
	// +optional
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	// devicePlatform is the DeviceRiskPolicy platform whose policy type governs the
	// device: AndroidEnterprise (fully managed, dedicated, corporate work profile),
	// AndroidWorkProfile (personal), Android (device administrator) or iOS.
	// +optional
	DevicePlatform Platform `json:"devicePlatform,omitempty"`
	// protectAppInstalled says whether Intune reports the connector's Protect app on
	// the device (unset: the connector declares no app for the platform, or its
	// inventory is not read yet). A phone without the app cannot report that the threat
	// is gone.
	// +optional
	ProtectAppInstalled *bool `json:"protectAppInstalled,omitempty"`
	// planHash identifies the plan (spec.steps and spec.dryRun). It follows the plan
	// until a step runs and is frozen from then on, so that no step can be inserted
	// before (or swapped under) a step that already ran: a changed plan then stops the
	// remediation with reason PlanChanged. An approval names it.
	// +optional
	PlanHash string `json:"planHash,omitempty"`
	// approval is the approver's decision on the plan (see Approval).
	// +optional
	Approval *Approval `json:"approval,omitempty"`
	// riskObservedAt is when Intune was first seen reporting the device at or above the
	// connector's minimumRisk for this threat. A threat resolves on Intune's word (risk
	// below minimumRisk, device compliant) only in a later device snapshot: a fast feed
	// (an alert) may open a remediation before UES's report reaches Intune, and the
	// device's earlier "secured" must not close it.
	// +optional
	RiskObservedAt *metav1.Time `json:"riskObservedAt,omitempty"`
	// detectedAt is when the plan's clock started.
	// +optional
	DetectedAt *metav1.Time `json:"detectedAt,omitempty"`
	// resolvedAt is when the remediation reached Resolved.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
	// timeToResolve is resolvedAt minus detectedAt, to the second.
	// +optional
	TimeToResolve *metav1.Duration `json:"timeToResolve,omitempty"`
}

// ThreatRemediation follows one device threat from detection to its end: access blocked,
// the user guided, escalation if unresolved, resolved when the device is secured again.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tr,categories=mtd
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Device",type=string,JSONPath=`.status.deviceName`
// +kubebuilder:printcolumn:name="Threat",type=string,JSONPath=`.spec.threat.type`
// +kubebuilder:printcolumn:name="Risk",type=string,JSONPath=`.status.deviceRisk`
// +kubebuilder:printcolumn:name="Approval",type=string,JSONPath=`.status.approval.decision`,priority=1
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.status.devicePlatform`,priority=1
// +kubebuilder:printcolumn:name="Compliance",type=string,JSONPath=`.status.complianceState`,priority=1
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.status.userPrincipalName`,priority=1
// +kubebuilder:printcolumn:name="Time To Resolve",type=string,JSONPath=`.status.timeToResolve`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ThreatRemediation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the threat and the plan.
	// +required
	Spec ThreatRemediationSpec `json:"spec"`
	// status is the audit trail.
	// +optional
	Status ThreatRemediationStatus `json:"status,omitempty"`
}

// ThreatRemediationList is a list of ThreatRemediation.
// +kubebuilder:object:root=true
type ThreatRemediationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ThreatRemediation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ThreatRemediation{}, &ThreatRemediationList{})
}
