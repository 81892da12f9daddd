package plugin_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// The seeded world: team-a's connector with two policies and the remediations below,
// team-b's connector whose partner has gone quiet. Statuses are the operator's, as a
// live run records them (shapes from controllers/ and a demo run).

const (
	carolIntune = "5B9E2C4A-1D3F-4E6A-8B7C-0D1E2F3A4B5C" // as Graph spells it; labels are lower case
	carolEntra  = "8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4a"
	iosPolicy   = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
	caPolicy    = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
	carolPlan   = "9c1f4e2ab37d5e60"
	lostPlan    = "5be0a1c47d2f9e31"
	carolsPlan  = "c0ffee00d15ea5e5"
	notifyPlan  = "1d2c3b4a59687766"
	frankPlan   = "a1b2c3d4e5f60718"
	caName      = "Require compliant mobile device for e-mail and files"
)

func ptr[T any](v T) *T { return &v }

func (c *cluster) at(d time.Duration) *metav1.Time { return ptr(metav1.NewTime(c.now.Add(-d))) }

func condition(typ string, status metav1.ConditionStatus, reason, message string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}
}

func seed(t *testing.T, c *cluster) {
	c.now = time.Now() // the ages below are relative to it
	seedConnectors(t, c)
	seedPolicies(t, c)
	seedRemediations(t, c)
}

func seedConnectors(t *testing.T, c *cluster) {
	conn := &v1.MTDConnector{
		ObjectMeta: metav1.ObjectMeta{Name: "blackberry", Namespace: team},
		Spec: v1.MTDConnectorSpec{
			Intune: v1.IntuneSpec{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "3c1f7a9e-5b2d-4e8f-9a61-0d4b8c2e7f10",
				Credentials:       v1.IntuneCredentials{ClientSecret: &v1.SecretKeyReference{Name: "intune-app-credentials"}},
				ConnectorSettings: &v1.ConnectorSettings{IOSEnabled: ptr(true), AndroidEnabled: ptr(true), IOSDeviceBlockedOnMissingPartnerData: ptr(true)}},
			UES: v1.UESSpec{Region: v1.UESRegionNorthAmerica, TenantID: "5d0c8a2b-7e41-4f3a-b6c9-2e8d1f4a7b90",
				Credentials: v1.UESCredentials{SecretName: "ues-api-credentials"}},
			ThreatSync: v1.ThreatSyncSpec{Syslog: &v1.SyslogSpec{Port: 6514, TLS: &v1.SyslogTLS{SecretName: "syslog-tls"}}},
			ProtectApp: &v1.ProtectAppSpec{
				IOS:               &v1.IOSProtectApp{AppStoreURL: "https://apps.apple.com/app/id0000000000", BundleID: "com.blackberry.protect.sample"},
				AndroidEnterprise: &v1.AndroidProtectApp{PackageID: "com.blackberry.protect.sample"}},
		},
	}
	mustCreate(t, c, "", conn, func() {
		conn.Status = v1.MTDConnectorStatus{
			ReconcileStatus: v1.ReconcileStatus{ObservedGeneration: conn.Generation, Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionTrue, "Ready", "the partner is enabled and reporting; both clouds reachable", conn.Generation),
				condition(v1.ConditionPartnerHealthy, metav1.ConditionTrue, "Healthy", "partnerState enabled, last heartbeat 2m ago", conn.Generation),
			}},
			ConnectorID: "fc780465-2017-40d4-a0c5-307022471b92", PartnerState: "enabled", LastHeartbeatTime: c.at(2*time.Minute + 5*time.Second),
			LastSyncTime: c.at(30 * time.Second),
			Devices: &v1.DeviceRiskCounts{Secured: 9, Low: 1, Medium: 1, High: 1, Total: 12,
				Platforms: map[v1.Platform]int32{v1.PlatformIOS: 5, v1.PlatformAndroidEnterprise: 7}},
			ActiveThreats: 4,
			ThreatSync:    &v1.ThreatSyncStatus{LastRunTime: c.at(40 * time.Second), SnapshotTime: c.at(40 * time.Second), SnapshotDevices: 12},
			Syslog:        &v1.SyslogStatus{State: v1.SyslogListening, Reason: "Listening", Address: "0.0.0.0:6514", Since: c.at(time.Hour)},
			ProtectApp: []v1.ProtectAppStatus{
				{Platform: v1.PlatformIOS, State: v1.ProtectAppDeployed, AppID: "e3b1c2d4-5f60-4718-9a2b-3c4d5e6f7081", Devices: 5, DevicesWithoutApp: 1,
					WithoutApp: []string{"dave-ipad"}, InventoryTime: c.at(time.Minute)},
				{Platform: v1.PlatformAndroidEnterprise, State: v1.ProtectAppDeployed, AppID: "f4c2d3e5-6071-4829-8b3c-4d5e6f708192", Devices: 7, InventoryTime: c.at(time.Minute)},
			},
		}
	})
	legacy := &v1.MTDConnector{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: otherTeam},
		Spec: v1.MTDConnectorSpec{
			Intune: v1.IntuneSpec{TenantID: "11111111-2222-4333-8444-555555555555", ClientID: "66666666-7777-4888-9999-aaaaaaaaaaaa",
				Credentials: v1.IntuneCredentials{ClientSecret: &v1.SecretKeyReference{Name: "intune-app-credentials"}}},
			UES: v1.UESSpec{Region: v1.UESRegionEurope, TenantID: "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff",
				Credentials: v1.UESCredentials{SecretName: "ues-api-credentials"}},
		},
	}
	stale := "the partner's last heartbeat was 30h ago, more than healthPolicy.maxHeartbeatAge 24h: check the BlackBerry connector in the UES console"
	mustCreate(t, c, "", legacy, func() {
		legacy.Status = v1.MTDConnectorStatus{
			ReconcileStatus: v1.ReconcileStatus{ObservedGeneration: legacy.Generation, Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionFalse, "HeartbeatStale", stale, legacy.Generation),
			}},
			PartnerState: "unresponsive", LastHeartbeatTime: c.at(30 * time.Hour),
		}
	})
}

func seedPolicies(t *testing.T, c *cluster) {
	mobile := &v1.DeviceRiskPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "mobile-threat-level", Namespace: team},
		Spec: v1.DeviceRiskPolicySpec{
			ConnectorRef: v1.LocalObjectReference{Name: "blackberry"}, DisplayName: "MTD - BlackBerry Protect Mobile - max risk low",
			Platforms:      []v1.Platform{v1.PlatformAndroidEnterprise, v1.PlatformAndroidWorkProfile, v1.PlatformIOS},
			MaxAllowedRisk: v1.RiskLow,
			Assignments:    v1.Assignments{IncludeGroupIDs: []v1.GUID{"2a8f4c6e-1b3d-4e5f-8a7b-9c0d1e2f3a4b"}},
			ConditionalAccess: &v1.ConditionalAccessSpec{DisplayName: caName, State: v1.CAStateEnabled,
				Applications:    v1.ConditionalAccessApplications{ExchangeOnline: true, SharePointOnline: true, ApplicationIDs: []v1.GUID{"4e6d8c2a-3b5f-4a7e-9c1d-2f8b6a0e5d3c"}},
				IncludeGroupIDs: []v1.GUID{"2a8f4c6e-1b3d-4e5f-8a7b-9c0d1e2f3a4b"}, ExcludeGroupIDs: []v1.GUID{"9e7c5a3b-1d2f-4e6a-8b0c-3d5f7a9b1c2e"}},
		},
	}
	mustCreate(t, c, "", mobile, func() {
		mobile.Status = v1.DeviceRiskPolicyStatus{
			ReconcileStatus: v1.ReconcileStatus{ObservedGeneration: mobile.Generation, Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionTrue, "Ready", "3 compliance policies and the Conditional Access policy as declared", mobile.Generation)}},
			Platforms: []v1.PlatformPolicyStatus{
				{Platform: v1.PlatformAndroidEnterprise, PolicyID: "1e2f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7", Version: 2, CompliantDevices: 6, NonCompliantDevices: 1},
				{Platform: v1.PlatformAndroidWorkProfile, PolicyID: "2f3a4b5c-6d7e-4f80-91a2-b3c4d5e6f708", Version: 1},
				{Platform: v1.PlatformIOS, PolicyID: iosPolicy, Version: 3, CompliantDevices: 4, NonCompliantDevices: 1},
			},
			ConditionalAccessPolicyID: caPolicy, CompliantDevices: 10, NonCompliantDevices: 2,
		}
	})
	// A stricter policy for Android Enterprise only: it must not explain an iPhone.
	strict := &v1.DeviceRiskPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "android-strict", Namespace: team},
		Spec: v1.DeviceRiskPolicySpec{ConnectorRef: v1.LocalObjectReference{Name: "blackberry"}, DisplayName: "MTD - Android Enterprise - secured only",
			Platforms: []v1.Platform{v1.PlatformAndroidEnterprise}, MaxAllowedRisk: v1.RiskSecured},
	}
	mustCreate(t, c, "", strict, func() {
		strict.Status = v1.DeviceRiskPolicyStatus{
			ReconcileStatus: v1.ReconcileStatus{ObservedGeneration: strict.Generation, Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionTrue, "Ready", "1 compliance policy as declared", strict.Generation)}},
			Platforms: []v1.PlatformPolicyStatus{{Platform: v1.PlatformAndroidEnterprise, PolicyID: "3a4b5c6d-7e8f-4091-a2b3-c4d5e6f70819", Version: 1}},
		}
	})
}

// plan is the connector's kind of default plan: notify, sync, lock after 5m, retire after a day.
func plan() []v1.RemediationStep {
	return []v1.RemediationStep{
		{Action: v1.StepNotify, Message: "BlackBerry Protect found a threat on your device. Open the app to fix it."},
		{Action: v1.StepSyncDevice, After: &metav1.Duration{Duration: time.Minute}},
		{Action: v1.StepRemoteLock, After: &metav1.Duration{Duration: 5 * time.Minute}},
		{Action: v1.StepRetire, After: &metav1.Duration{Duration: 24 * time.Hour}},
	}
}

func (c *cluster) steps(states ...v1.StepState) []v1.StepRecord {
	actions := []v1.StepAction{v1.StepNotify, v1.StepSyncDevice, v1.StepRemoteLock, v1.StepRetire}
	var out []v1.StepRecord
	for i, s := range states {
		r := v1.StepRecord{Index: int32(i), Action: actions[i], State: s}
		if s == v1.StepSucceeded {
			r.StartedAt, r.CompletedAt, r.Message = c.at(9*time.Minute), c.at(9*time.Minute), "succeeded"
		}
		if s == v1.StepAwaitingApproval {
			r.Message = "step 2 (remoteLock) waits for an approval of the plan by someone other than its requester " + operator
		}
		out = append(out, r)
	}
	return out
}

// intake is a remediation as the operator's intake opens one for a risky device.
func (c *cluster) intake(name, intuneID, entraID string, threat *v1.ThreatReference) *v1.ThreatRemediation {
	return &v1.ThreatRemediation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: team,
			Labels: map[string]string{"mtd.operator.dev/connector": "blackberry", "mtd.operator.dev/intune-device": lower(intuneID),
				"mtd.operator.dev/device": entraID, "mtd.operator.dev/episode": "1"},
			Annotations: map[string]string{v1.AnnotationRequestedBy: operator}},
		Spec: v1.ThreatRemediationSpec{ConnectorRef: v1.LocalObjectReference{Name: "blackberry"},
			Device: v1.DeviceReference{IntuneDeviceID: v1.GUID(lower(intuneID)), EntraDeviceID: v1.GUID(entraID)},
			Threat: threat, Steps: plan()},
	}
}

func seedRemediations(t *testing.T, c *cluster) {
	// carol's iPhone: a malicious app, Intune blocks it, the lock waits for an approver.
	carolTR := c.intake("carol-iphone-1", carolIntune, carolEntra, &v1.ThreatReference{Source: v1.SourceUESSyslog, AlertID: "a-1001",
		Type: "maliciousApplication", Risk: "high", Detail: "com.flashlight.free (Trojan)", DetectedAt: c.at(10 * time.Minute)})
	mustCreate(t, c, operator, carolTR, func() {
		carolTR.Status = v1.ThreatRemediationStatus{
			ReconcileStatus: v1.ReconcileStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionFalse, "AwaitingApproval", "step 2 (remoteLock) waits for an approval", 1)}},
			Phase: v1.PhaseBlocked, Steps: c.steps(v1.StepSucceeded, v1.StepSucceeded, v1.StepAwaitingApproval, v1.StepPending),
			DeviceRisk: v1.RiskHigh, ComplianceState: "noncompliant", IntuneDeviceID: carolIntune, DeviceName: "carol-iphone",
			UserPrincipalName: carol, DevicePlatform: v1.PlatformIOS, ProtectAppInstalled: ptr(true), PlanHash: carolPlan,
			RiskObservedAt: c.at(8 * time.Minute), DetectedAt: c.at(10 * time.Minute),
		}
	})
	// frank's Pixel (Android Enterprise): the same plan, to be denied.
	frank := c.intake("frank-pixel-1", "6C0F3D5B-2E4A-4F7B-9C8D-1E2F3A4B5C6D", "9d4f2b6a-3c5e-4d7f-8a9b-0c1d2e3f4a5b",
		&v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high", Detail: "BlackBerry reported high to Intune", DetectedAt: c.at(10 * time.Minute)})
	mustCreate(t, c, operator, frank, func() {
		frank.Status = v1.ThreatRemediationStatus{
			Phase: v1.PhaseBlocked, Steps: c.steps(v1.StepSucceeded, v1.StepSucceeded, v1.StepAwaitingApproval, v1.StepPending),
			DeviceRisk: v1.RiskHigh, ComplianceState: "noncompliant", IntuneDeviceID: "6C0F3D5B-2E4A-4F7B-9C8D-1E2F3A4B5C6D", DeviceName: "frank-pixel",
			DevicePlatform: v1.PlatformAndroidEnterprise, ProtectAppInstalled: ptr(true), PlanHash: frankPlan, DetectedAt: c.at(10 * time.Minute),
		}
	})
	// gina's iPhone: syslog told of the threat 30s ago; UES's report has not reached
	// Intune, which blocks her phone for want of partner data.
	gina := c.intake("gina-iphone-1", "8E2B5F7D-4A6C-4B9D-9E0F-3A4B5C6D7E8F", "2a7c5e9d-6f8b-4a0c-9d1e-3f4a5b6c7d8e",
		&v1.ThreatReference{Source: v1.SourceUESSyslog, AlertID: "a-1002", Type: "jailbrokenOrRooted", Risk: "high", DetectedAt: c.at(30 * time.Second)})
	mustCreate(t, c, operator, gina, func() {
		gina.Status = v1.ThreatRemediationStatus{Phase: v1.PhasePending, Steps: c.steps(v1.StepSucceeded, v1.StepPending, v1.StepPending, v1.StepPending),
			ComplianceState: "noncompliant", IntuneDeviceID: "8E2B5F7D-4A6C-4B9D-9E0F-3A4B5C6D7E8F", DeviceName: "gina-iphone",
			DevicePlatform: v1.PlatformIOS, PlanHash: carolPlan, DetectedAt: c.at(30 * time.Second)}
	})
	// erin's iPhone: resolved five minutes ago.
	erin := c.intake("erin-iphone-1", "7D1A4E6C-3F5B-4A8C-8D9E-2F3A4B5C6D7E", "0e5a3c7b-4d6f-4e8a-9b0c-1d2e3f4a5b6c",
		&v1.ThreatReference{Source: v1.SourceUESSyslog, AlertID: "a-1000", Type: "manInTheMiddle", Risk: "high", DetectedAt: c.at(8 * time.Minute)})
	mustCreate(t, c, operator, erin, func() {
		erin.Status = v1.ThreatRemediationStatus{
			ReconcileStatus: v1.ReconcileStatus{Conditions: []metav1.Condition{
				condition(v1.ConditionReady, metav1.ConditionTrue, "ThreatResolved", "the partner reports the device secured and Intune compliant", 1)}},
			Phase: v1.PhaseResolved, Steps: c.steps(v1.StepSucceeded, v1.StepSucceeded, v1.StepPending, v1.StepPending),
			DeviceRisk: v1.RiskSecured, ComplianceState: "compliant", IntuneDeviceID: "7D1A4E6C-3F5B-4A8C-8D9E-2F3A4B5C6D7E", DeviceName: "erin-iphone",
			DevicePlatform: v1.PlatformIOS, PlanHash: "0f1e2d3c4b5a6978", DetectedAt: c.at(8 * time.Minute),
			ResolvedAt: c.at(5 * time.Minute), TimeToResolve: &metav1.Duration{Duration: 3 * time.Minute},
		}
	})
	// A lost phone: alice asks for a lock and, a day later, a retire.
	lost := handMade("lost-phone", alice, []v1.RemediationStep{{Action: v1.StepNotify}, {Action: v1.StepRemoteLock},
		{Action: v1.StepRetire, After: &metav1.Duration{Duration: 24 * time.Hour}}})
	mustCreate(t, c, alice, lost, func() {
		lost.Status = v1.ThreatRemediationStatus{Phase: v1.PhasePending, PlanHash: lostPlan, DetectedAt: c.at(time.Minute),
			Steps: []v1.StepRecord{{Index: 0, Action: v1.StepNotify, State: v1.StepSucceeded}, {Index: 1, Action: v1.StepRemoteLock, State: v1.StepAwaitingApproval},
				{Index: 2, Action: v1.StepRetire, State: v1.StepPending}}}
	})
	// carol, who is also an approver, asks for a wipe.
	wipe := handMade("carols-plan", carol, []v1.RemediationStep{{Action: v1.StepNotify}, {Action: v1.StepWipe}})
	mustCreate(t, c, carol, wipe, func() {
		wipe.Status = v1.ThreatRemediationStatus{Phase: v1.PhasePending, PlanHash: carolsPlan, DetectedAt: c.at(time.Minute),
			Steps: []v1.StepRecord{{Index: 0, Action: v1.StepNotify, State: v1.StepSucceeded}, {Index: 1, Action: v1.StepWipe, State: v1.StepAwaitingApproval}}}
	})
	// A plan with nothing to approve.
	note := handMade("notify-only", alice, []v1.RemediationStep{{Action: v1.StepNotify, Message: "Please update iOS."}})
	mustCreate(t, c, alice, note, func() {
		note.Status = v1.ThreatRemediationStatus{Phase: v1.PhaseAwaitingUser, PlanHash: notifyPlan, DetectedAt: c.at(time.Minute),
			Steps: []v1.StepRecord{{Index: 0, Action: v1.StepNotify, State: v1.StepSucceeded}}}
	})
}

func handMade(name, requester string, steps []v1.RemediationStep) *v1.ThreatRemediation {
	return &v1.ThreatRemediation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: team, Labels: map[string]string{"mtd.operator.dev/connector": "blackberry"},
			Annotations: map[string]string{v1.AnnotationRequestedBy: requester}},
		Spec: v1.ThreatRemediationSpec{ConnectorRef: v1.LocalObjectReference{Name: "blackberry"},
			Device: v1.DeviceReference{EntraDeviceID: "1f6b4d8c-5e7a-4f9b-8c0d-2e3f4a5b6c7d"}, Steps: steps},
	}
}
