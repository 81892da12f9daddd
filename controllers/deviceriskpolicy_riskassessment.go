package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// ConditionRiskAssessment says whether spec.riskAssessment is in place in UES, or what a
// person must do about it. It never fails Ready: the compliance policies work without
// it, and a real UES tenant takes the assessment only from its console.
const ConditionRiskAssessment = "RiskAssessment"

// Reasons of the RiskAssessment condition.
const (
	ReasonConsoleOnly       = "ConsoleOnly"
	ReasonAllDevicesSecured = "AllDevicesSecured"
)

// syncRiskAssessment keeps the RiskAssessment condition, which never fails Ready. With
// the modelled UES API it writes spec.riskAssessment when it differs. The mapping is per
// UES tenant: declare it in one DeviceRiskPolicy only. Without the section the
// assessment is left alone (removing it would make UES report every device as secured,
// silently switching the protection off). Without the modelled API nothing can be
// written: the condition says to set it in the console, and warns when Intune has seen
// every device secured for days, which is what UES reports without an assessment.
func (r *DeviceRiskPolicyReconciler) syncRiskAssessment(ctx context.Context, p *policyPass) error {
	ra := p.pol.Spec.RiskAssessment
	if !p.conn.Spec.UES.ModelledMobileAPI {
		r.riskAssessmentConsoleOnly(p)
		return nil
	}
	if ra == nil {
		meta.RemoveStatusCondition(&p.pol.Status.Conditions, ConditionRiskAssessment)
		return nil
	}
	want := riskAssessmentMap(ra)
	live, err := p.clients.UES.RiskAssessment(ctx)
	if err != nil {
		return err
	}
	if live.Configured && maps.Equal(want, live.Detections) {
		p.conds.set(ConditionRiskAssessment, true, ReasonUpToDate, "the UES risk assessment matches spec.riskAssessment (modelled API)")
		return nil
	}
	if !p.mayWrite("the UES risk assessment differs") {
		p.conds.set(ConditionRiskAssessment, false, ReasonDriftDetected, "ObserveOnly: the UES risk assessment differs from spec.riskAssessment")
		return nil
	}
	if _, err := p.clients.UES.PutRiskAssessment(ctx, want); err != nil {
		return err
	}
	emit(r.Recorder, p.pol, corev1.EventTypeNormal, ReasonUpdated, "Update", "wrote the UES risk assessment")
	p.conds.set(ConditionRiskAssessment, true, ReasonUpdated, "wrote spec.riskAssessment to UES (modelled API)")
	return nil
}

// allSecuredWarning is how long every assessed device may be reported secured before
// the RiskAssessment condition points at a missing assessment.
const allSecuredWarning = 72 * time.Hour

// riskAssessmentConsoleOnly says what a person must do in the UES console.
func (r *DeviceRiskPolicyReconciler) riskAssessmentConsoleOnly(p *policyPass) {
	var warn string
	if d := p.conn.Status.Devices; d != nil && d.AllSecuredSince != nil && r.Clock.Since(d.AllSecuredSince.Time) >= allSecuredWarning {
		warn = fmt.Sprintf(" Intune has reported every assessed device (%d) secured since %s: that is what UES reports when no risk assessment is configured.",
			d.Secured, d.AllSecuredSince.UTC().Format(time.RFC3339))
	}
	switch {
	case p.pol.Spec.RiskAssessment != nil:
		p.conds.set(ConditionRiskAssessment, false, ReasonConsoleOnly, "BlackBerry publishes no API for the risk assessment, so spec.riskAssessment is not applied: "+
			"set it in the UES console (Policies > User policy > Protect Mobile > Risk assessment) as declared: "+riskAssessmentText(p.pol.Spec.RiskAssessment)+"."+warn)
	case warn != "":
		p.conds.set(ConditionRiskAssessment, false, ReasonAllDevicesSecured, "check the UES console's risk assessment (Policies > User policy > Protect Mobile > Risk assessment)."+warn)
	default:
		meta.RemoveStatusCondition(&p.pol.Status.Conditions, ConditionRiskAssessment)
	}
}

// riskAssessmentText lists the declared mapping, sorted, for a person to copy.
func riskAssessmentText(ra *v1.RiskAssessment) string {
	m := riskAssessmentMap(ra)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

// ConditionDeviceAdministrator is set on a policy that keeps an Android device
// administrator policy (platform Android). It never fails Ready.
const ConditionDeviceAdministrator = "AndroidDeviceAdministrator"

// ReasonDeviceAdministratorUnsupported: Intune ended device administrator management on
// devices with Google Mobile Services on 31 December 2024.
const ReasonDeviceAdministratorUnsupported = "DeviceAdministratorUnsupported"

// noteDeviceAdministrator says, on a policy with the Android platform, what it is and
// where company phones are today.
func noteDeviceAdministrator(p *policyPass) {
	if !slices.Contains(p.pol.Spec.Platforms, v1.PlatformAndroid) {
		meta.RemoveStatusCondition(&p.pol.Status.Conditions, ConditionDeviceAdministrator)
		return
	}
	p.conds.set(ConditionDeviceAdministrator, true, ReasonDeviceAdministratorUnsupported,
		"platform Android is Android device administrator (androidCompliancePolicy), which Intune no longer supports on devices with Google Mobile Services since 31 December 2024; "+
			"Android Enterprise devices need AndroidEnterprise (fully managed, dedicated, corporate-owned work profile) and AndroidWorkProfile (personally owned)")
}
