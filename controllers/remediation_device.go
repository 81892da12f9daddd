package controllers

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

var errDeviceNotFound = errors.New("no Intune managed device matches spec.device")

// observe reads the device from Intune: one GET by the recorded Intune id on every
// pass; the first time, one filtered list by Entra id (after one UES read when only
// the UES id is known). Intune's partnerReportedThreatState is BlackBerry's risk as
// the partner reported it, so no per-device UES read is needed to judge resolution.
func (r *ThreatRemediationReconciler) observe(ctx context.Context, p *remediationPass) error {
	s, ref := &p.tr.Status, p.tr.Spec.Device
	if s.IntuneDeviceID == "" {
		s.IntuneDeviceID = string(ref.IntuneDeviceID)
	}
	var d *intune.ManagedDevice
	if s.IntuneDeviceID != "" {
		got, err := p.clients.Intune.GetManagedDevice(ctx, s.IntuneDeviceID)
		if outbound.IsNotFound(err) {
			if ref.IntuneDeviceID != "" && s.DeviceName == "" {
				return fmt.Errorf("%w: Intune has no device %s", errDeviceNotFound, ref.IntuneDeviceID)
			}
			p.removed = true // known before: retired or wiped since
			s.ComplianceState = ""
			return nil
		}
		if err != nil {
			return err
		}
		d = got
	} else {
		found, err := r.findDevice(ctx, p)
		if err != nil {
			return err
		}
		d = found
	}
	p.device = d
	s.IntuneDeviceID, s.DeviceName, s.UserPrincipalName, s.ComplianceState = d.ID, d.DeviceName, d.UserPrincipalName, d.ComplianceState
	s.DeviceRisk = riskOf(d.PartnerReportedThreatState)
	return nil
}

// findDevice resolves the Intune device from the Entra id (shared by both clouds) or,
// failing that, from the UES device's entra_device_id.
func (r *ThreatRemediationReconciler) findDevice(ctx context.Context, p *remediationPass) (*intune.ManagedDevice, error) {
	ref := p.tr.Spec.Device
	entra := string(ref.EntraDeviceID)
	if entra == "" {
		md, err := p.clients.UES.MobileDevice(ctx, string(ref.UESDeviceID))
		if outbound.IsNotFound(err) {
			return nil, fmt.Errorf("%w: UES has no device %s", errDeviceNotFound, ref.UESDeviceID)
		}
		if err != nil {
			return nil, err
		}
		entra = md.EntraDeviceID
	}
	list, err := p.clients.Intune.ListManagedDevices(ctx, intune.DeviceFilter{AzureADDeviceID: entra})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: Intune manages no device with Entra id %s", errDeviceNotFound, entra)
	}
	return &list[0], nil
}

// riskOf reads Intune's partnerReportedThreatState as a risk level; "" when the
// partner has reported nothing usable.
func riskOf(threatState string) v1.RiskLevel {
	switch threatState {
	case "secured":
		return v1.RiskSecured
	case "lowSeverity":
		return v1.RiskLow
	case "mediumSeverity":
		return v1.RiskMedium
	case "highSeverity":
		return v1.RiskHigh
	}
	return ""
}

// resolution says whether the remediation has reached its end: the device left
// Intune; or, for a threat, BlackBerry reports it gone (device secured, or the alert
// resolved or ignored) and Intune reports the device compliant again. A hand-made
// remediation otherwise ends when its plan has run (see planDone).
func resolution(p *remediationPass) (reason, msg string, ok bool) {
	if p.removed {
		return ReasonDeviceRemoved, "the device is no longer managed by Intune (retired or wiped)", true
	}
	if p.tr.Spec.Threat == nil || p.device == nil || p.device.ComplianceState != "compliant" {
		return "", "", false
	}
	alert := p.tr.Annotations[AnnotationAlertStatus]
	switch {
	case p.device.PartnerReportedThreatState == "secured":
		return ReasonThreatResolved, "BlackBerry reports the device secured and Intune reports it compliant", true
	case alert == ues.AlertResolved || alert == ues.AlertIgnored:
		return ReasonThreatResolved, "the alert is " + alert + " in UES and Intune reports the device compliant", true
	}
	return "", "", false
}

// openPhase is where an unfinished remediation stands.
func openPhase(p *remediationPass) v1.RemediationPhase {
	escalated, notified := false, false
	for _, rec := range p.tr.Status.Steps {
		if rec.State == v1.StepSucceeded {
			escalated = escalated || rec.Action != v1.StepNotify
			notified = notified || rec.Action == v1.StepNotify
		}
	}
	switch {
	case escalated:
		return v1.PhaseEscalated
	case notified:
		return v1.PhaseAwaitingUser
	case p.device != nil && p.device.ComplianceState == "noncompliant":
		return v1.PhaseBlocked
	}
	return v1.PhasePending
}

func phaseMessage(p *remediationPass) string {
	msg := "waiting for the device to be secured and compliant"
	if p.tr.Spec.Threat == nil {
		msg = "running the plan"
	}
	if p.device != nil {
		msg += fmt.Sprintf(" (Intune: %s, partner: %s)", p.device.ComplianceState, p.device.PartnerReportedThreatState)
	}
	if next := nextStep(p.tr); next != nil {
		msg += fmt.Sprintf("; next step %d (%s)", next.Index, next.Action)
		if !p.wake.IsZero() {
			msg += " at " + p.wake.UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	return msg
}
