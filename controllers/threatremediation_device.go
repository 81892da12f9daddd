package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

var (
	errDeviceNotFound  = errors.New("no Intune managed device matches spec.device")
	errDeviceAmbiguous = errors.New("more than one Intune managed device matches spec.device, so none is acted on")
	errNoSnapshot      = errors.New("waiting for the connector's first device snapshot")
)

// observe finds the device in the connector's device snapshot: no Graph call on a
// normal pass, whatever the number of open remediations. A device the snapshot lacks is
// read from Graph by id — it may have enrolled after the snapshot, or just been retired
// or wiped — and, the first time only, a device known by its Entra id alone is looked
// up with one filtered read whose every item is checked.
func (r *ThreatRemediationReconciler) observe(ctx context.Context, p *remediationPass) error {
	snap := r.Snapshots.Get(p.conn.UID)
	if snap == nil {
		return errNoSnapshot
	}
	s := &p.tr.Status
	d, err := r.locate(ctx, p, snap)
	if err != nil {
		return err
	}
	if d == nil {
		p.removed = true // known before: retired or wiped since
		s.ComplianceState = ""
		return nil
	}
	p.device = d
	s.IntuneDeviceID, s.DeviceName, s.UserPrincipalName, s.ComplianceState = d.ID, d.DeviceName, d.UserPrincipalName, d.ComplianceState
	s.DevicePlatform = platformOf(d)
	s.ProtectAppInstalled = nil
	if has, known := r.Inventories.Get(p.conn.UID).Installed(string(s.DevicePlatform), d.ID); known {
		s.ProtectAppInstalled = &has
	}
	s.DeviceRisk = v1.RiskLevel(snapshot.Risk(d.PartnerReportedThreatState))
	r.observeRisk(p)
	return nil
}

// observeRisk records when Intune was first seen reporting the threat's risk: for an
// episode the intake opened from Intune's device risk, the snapshot that opened it; else
// the first view of the device at or above minimumRisk.
func (r *ThreatRemediationReconciler) observeRisk(p *remediationPass) {
	s, t := &p.tr.Status, p.tr.Spec.Threat
	if s.RiskObservedAt != nil || t == nil {
		return
	}
	switch {
	case t.Source == v1.SourceIntuneDeviceRisk && t.DetectedAt != nil:
		at := *t.DetectedAt
		s.RiskObservedAt = &at
	case snapshot.Rank(string(s.DeviceRisk)) >= snapshot.Rank(string(p.conn.MinimumRisk())):
		at := metav1.NewTime(p.seenAt)
		s.RiskObservedAt = &at
	}
}

// locate returns the device, or nil when a device seen before is no longer managed.
func (r *ThreatRemediationReconciler) locate(ctx context.Context, p *remediationPass, snap *snapshot.Snapshot) (*intune.ManagedDevice, error) {
	s, ref := &p.tr.Status, p.tr.Spec.Device
	id := s.IntuneDeviceID
	if id == "" {
		id = string(ref.IntuneDeviceID)
	}
	p.seenAt = snap.Taken
	if id != "" {
		if d, ok := snap.ByIntuneID(id); ok {
			cp := *d
			return &cp, nil
		}
		return r.readDevice(ctx, p, id)
	}
	entra, err := r.entraID(ctx, p)
	if err != nil {
		return nil, err
	}
	if snapshot.EntraKey(entra) == "" {
		// The zero GUID is what Intune shows for every device not registered in Entra: it
		// names no device, and a filter on it must never be sent (it matches many).
		return nil, fmt.Errorf("%w: the Entra device id %s identifies no single device; name the device by spec.device.intuneDeviceID", errDeviceNotFound, entra)
	}
	d, err := snap.ByEntraID(entra)
	if errors.Is(err, snapshot.ErrNotFound) {
		d, err = r.findByEntraID(ctx, p, entra)
	}
	switch {
	case errors.Is(err, snapshot.ErrAmbiguous):
		return nil, fmt.Errorf("%w: several devices have Entra id %s; name the device by spec.device.intuneDeviceID", errDeviceAmbiguous, entra)
	case errors.Is(err, snapshot.ErrNotFound):
		return nil, fmt.Errorf("%w: Intune manages no device with Entra id %s", errDeviceNotFound, entra)
	case err != nil:
		return nil, err
	}
	cp := *d
	return &cp, nil
}

// readDevice reads one device by its Intune id, checking that the answer is that device.
func (r *ThreatRemediationReconciler) readDevice(ctx context.Context, p *remediationPass, id string) (*intune.ManagedDevice, error) {
	p.seenAt = r.Clock.Now()
	got, err := p.clients.Intune.GetManagedDevice(ctx, id)
	switch {
	case outbound.IsNotFound(err):
		if p.tr.Status.DeviceName != "" {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: Intune has no device %s", errDeviceNotFound, id)
	case err != nil:
		return nil, err
	case !strings.EqualFold(got.ID, id):
		return nil, fmt.Errorf("%w: Graph answered device %q for id %s", errDeviceNotFound, got.ID, id)
	}
	return got, nil
}

// entraID is the device's Entra id: given, or (modelled API only) the one UES records
// for the given UES device id.
func (r *ThreatRemediationReconciler) entraID(ctx context.Context, p *remediationPass) (string, error) {
	ref := p.tr.Spec.Device
	if ref.EntraDeviceID != "" {
		return string(ref.EntraDeviceID), nil
	}
	if !p.conn.Spec.UES.ModelledMobileAPI {
		return "", fmt.Errorf("%w: only spec.device.uesDeviceID is given, and BlackBerry documents no API that maps a UES device to Intune (the connector does not opt into the modelled API, spec.ues.modelledMobileAPI); give intuneDeviceID or entraDeviceID", errDeviceNotFound)
	}
	md, err := p.clients.UES.MobileDevice(ctx, string(ref.UESDeviceID))
	if outbound.IsNotFound(err) {
		return "", fmt.Errorf("%w: UES has no device %s", errDeviceNotFound, ref.UESDeviceID)
	}
	if err != nil {
		return "", err
	}
	if snapshot.EntraKey(md.EntraDeviceID) == "" {
		return "", fmt.Errorf("%w: UES records no Entra id for device %s", errDeviceNotFound, ref.UESDeviceID)
	}
	return md.EntraDeviceID, nil
}

// findByEntraID is the one Graph lookup of a device the snapshot does not hold yet.
func (r *ThreatRemediationReconciler) findByEntraID(ctx context.Context, p *remediationPass, entra string) (*intune.ManagedDevice, error) {
	p.seenAt = r.Clock.Now()
	list, err := p.clients.Intune.ListManagedDevices(ctx, intune.DeviceFilter{AzureADDeviceID: entra})
	if err != nil {
		return nil, err
	}
	return snapshot.New(time.Time{}, list).ByEntraID(entra)
}

// resolution says whether the remediation has reached its end: the device left
// Intune; or, for a threat, BlackBerry reports it gone (device secured or below the
// connector's minimumRisk, or the alert resolved or ignored) and Intune reports the
// device compliant again. A hand-made
// remediation otherwise ends when its plan has run (see planDone).
func resolution(p *remediationPass) (reason, msg string, ok bool) {
	if p.removed {
		return ReasonDeviceRemoved, "the device is no longer managed by Intune (retired or wiped)", true
	}
	if p.tr.Spec.Threat == nil || p.device == nil || p.device.ComplianceState != "compliant" {
		return "", "", false
	}
	alert := p.tr.Annotations[AnnotationAlertStatus]
	risk, floor := snapshot.Risk(p.device.PartnerReportedThreatState), string(p.conn.MinimumRisk())
	// Intune's word counts once it has reported the risk, in a later view (times are
	// stored to the second, hence the margin).
	observed := p.tr.Status.RiskObservedAt
	recovered := observed != nil && !p.seenAt.Before(observed.Add(time.Second))
	// A threat seen first by syslog and fixed before UES's next report never reaches
	// Intune: once Intune has had its window to hear of it, its "secured" counts too.
	if observed == nil && p.tr.Spec.Threat.Source == v1.SourceUESSyslog && p.unreported > 0 &&
		!p.seenAt.Before(p.tr.Status.DetectedAt.Add(p.unreported)) && risk == snapshot.RiskSecured {
		return ReasonThreatResolved, fmt.Sprintf("Intune never reported this threat's risk in the %s after the syslog alert, and reports the device secured and compliant", p.unreported), true
	}
	switch {
	case recovered && risk == snapshot.RiskSecured:
		return ReasonThreatResolved, "BlackBerry reports the device secured and Intune reports it compliant", true
	case recovered && risk != "" && snapshot.Rank(risk) < snapshot.Rank(floor):
		return ReasonThreatResolved, fmt.Sprintf("BlackBerry reports the device at %s risk, below the connector's minimumRisk %s, and Intune reports it compliant", risk, floor), true
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
