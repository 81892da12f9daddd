package controllers

import (
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// Labels and annotations the threat sync and the remediation reconciler share.
const (
	LabelConnector  = "mtd.operator.dev/connector"
	LabelDevice     = "mtd.operator.dev/device"
	LabelThreatType = "mtd.operator.dev/threat-type"
	// LabelKeep "true" keeps a resolved remediation past the retention period.
	LabelKeep = "mtd.operator.dev/keep"
	// AnnotationAlertStatus is the UES alert's status (active, resolved, ignored) as
	// the threat sync last read it. A metadata write, so the sync never competes with
	// the reconciler for the status, and a change wakes the reconciler at once.
	AnnotationAlertStatus = "mtd.operator.dev/alert-status"
)

// remediationName is the object name for an alert: deterministic, so two replicas or
// a restart racing to create it meet in AlreadyExists instead of making two.
func remediationName(alertID string) string {
	name := "threat-" + strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(alertID), "-"), "-.")
	return strings.TrimRight(truncate(name, 253), "-.")
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9.-]+`)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// guid keeps an id only when the API's GUID validation will accept it.
func guid(id string) v1.GUID {
	if guidPattern.MatchString(id) {
		return v1.GUID(id)
	}
	return ""
}

// defaultPlan is what spec.threatSync.defaultPlan's documentation promises when empty.
func defaultPlan() []v1.RemediationStep {
	return []v1.RemediationStep{
		{Action: v1.StepNotify, After: &metav1.Duration{}},
		{Action: v1.StepSyncDevice, After: &metav1.Duration{Duration: 15 * time.Minute}},
	}
}

// riskRank orders UES risk levels; anything else (none, "") ranks lowest.
func riskRank(r string) int {
	switch strings.ToLower(r) {
	case string(v1.RiskLow):
		return 1
	case string(v1.RiskMedium):
		return 2
	case string(v1.RiskHigh):
		return 3
	}
	return 0
}

// remediationFor is the ThreatRemediation the threat sync opens for an alert.
func remediationFor(conn *v1.MTDConnector, a *ues.Alert) *v1.ThreatRemediation {
	ts := conn.Spec.ThreatSync
	steps := ts.DefaultPlan
	if len(steps) == 0 {
		steps = defaultPlan()
	}
	detected := metav1.NewTime(a.CreatedTime.Time)
	labels := map[string]string{LabelConnector: conn.Name, LabelThreatType: a.AlertType}
	if id := guid(a.EntraDeviceID); id != "" {
		labels[LabelDevice] = strings.ToLower(string(id))
	}
	return &v1.ThreatRemediation{
		ObjectMeta: metav1.ObjectMeta{
			Name: remediationName(a.AlertID), Namespace: conn.Namespace, Labels: labels,
			Annotations: map[string]string{AnnotationAlertStatus: a.Status},
		},
		Spec: v1.ThreatRemediationSpec{
			ConnectorRef: v1.LocalObjectReference{Name: v1.ObjectName(conn.Name)},
			Device:       v1.DeviceReference{EntraDeviceID: guid(a.EntraDeviceID), UESDeviceID: guid(a.DeviceID)},
			Threat: &v1.ThreatReference{
				AlertID: a.AlertID, Type: v1.DetectionType(a.AlertType), Risk: v1.ThreatRiskLevel(strings.ToLower(a.RiskLevel)),
				Detail: truncate(a.Detail, 1024), DetectedAt: &detected,
			},
			Steps:    steps,
			Approved: ts.ApproveDestructiveSteps,
		},
	}
}

// threatSyncEnabled reads spec.threatSync.enabled with its default (true).
func threatSyncEnabled(c *v1.MTDConnector) bool {
	return c.Spec.ThreatSync.Enabled == nil || *c.Spec.ThreatSync.Enabled
}

// minimumRisk reads spec.threatSync.minimumRisk with its default (high).
func minimumRisk(c *v1.MTDConnector) string {
	if m := c.Spec.ThreatSync.MinimumRisk; m != "" {
		return string(m)
	}
	return string(v1.RiskHigh)
}
