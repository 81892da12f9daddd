package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// The intake is one pipeline, whatever the feed: a signal names a device and a risk
// (Intune's partnerReportedThreatState), maybe with an alert (the modelled UES API; the
// syslog feed later). Each device has at most one open ThreatRemediation made by the
// intake, for its current risk episode: a signal for a device with an open one enriches
// it (an alert's id, type and detail), never opens a second; a device with none that
// reaches minimumRisk gets one. A signal that names no single managed device is dropped
// and counted, never guessed.

// Labels and annotations the intake and the remediation reconciler share.
const (
	LabelConnector = "mtd.operator.dev/connector"
	// LabelDevice is the Entra device id (azureADDeviceId), lower case.
	LabelDevice = "mtd.operator.dev/device"
	// LabelIntuneDevice is the Intune managedDevice id, lower case: what the intake
	// keys a device's episodes by.
	LabelIntuneDevice = "mtd.operator.dev/intune-device"
	// LabelEpisode numbers a device's risk episodes, 1, 2, ...
	LabelEpisode    = "mtd.operator.dev/episode"
	LabelThreatType = "mtd.operator.dev/threat-type"
	// LabelKeep "true" keeps a resolved remediation past the retention period.
	LabelKeep = "mtd.operator.dev/keep"
	// AnnotationAlertStatus is the UES alert's status (active, resolved, ignored) as
	// the intake last read it. A metadata write, so the intake never competes with the
	// reconciler for the status, and a change wakes the reconciler at once.
	AnnotationAlertStatus = "mtd.operator.dev/alert-status"
)

// applyWorkers bounds the object writes one pass makes at a time.
const applyWorkers = 8

// intake is one pass's view of a connector's intake-made remediations, so that each
// signal finds its device's open remediation without an API read.
type intake struct {
	c       client.Client
	conn    *v1.MTDConnector
	self    string   // the operator's username: the requester of what the intake opens
	hints   *hintsOf // alerts syslog reported for devices with no remediation yet
	snap    *snapshot.Snapshot
	minRank int

	mu sync.Mutex
	// open is each device's open remediation, by lower-case Intune id; episodes the
	// highest episode number each device has had (open or not).
	open     map[string]*v1.ThreatRemediation
	episodes map[string]int
	byAlert  map[string]*v1.ThreatRemediation
}

// newIntake indexes the connector's intake-made remediations (by their connector label,
// which every one carries) from the cache. Every pass reads them all, retained resolved
// ones included, so the cache's objects are indexed as they are, not copied: the intake
// only reads them, and copies one before it patches it (enrich, setAlertStatus).
func newIntake(ctx context.Context, c client.Client, conn *v1.MTDConnector, snap *snapshot.Snapshot, self string, hints *SyslogHints) (*intake, error) {
	var list v1.ThreatRemediationList
	if err := c.List(ctx, &list, client.InNamespace(conn.Namespace), client.MatchingLabels{LabelConnector: conn.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	in := &intake{c: c, conn: conn, self: self, hints: hints.forConnector(conn.UID), snap: snap, minRank: snapshot.Rank(string(conn.MinimumRisk())),
		open: map[string]*v1.ThreatRemediation{}, episodes: map[string]int{}, byAlert: map[string]*v1.ThreatRemediation{}}
	for i := range list.Items {
		tr := &list.Items[i]
		dev := tr.Labels[LabelIntuneDevice]
		if dev == "" {
			continue // hand-made: not an episode of the intake
		}
		n, _ := strconv.Atoi(tr.Labels[LabelEpisode])
		in.episodes[dev] = max(in.episodes[dev], n)
		if t := tr.Spec.Threat; t != nil && t.AlertID != "" {
			in.byAlert[t.AlertID] = tr
		}
		if !terminalPhase(tr.Status.Phase) {
			in.open[dev] = tr
		}
	}
	return in, nil
}

// fromDeviceRisk opens a remediation for each device of the snapshot at or above the
// minimum risk that has none open. A device already followed costs nothing.
func (in *intake) fromDeviceRisk(ctx context.Context) error {
	var risky []*intune.ManagedDevice
	devices := in.snap.Devices()
	for i := range devices {
		if snapshot.Rank(snapshot.Risk(devices[i].PartnerReportedThreatState)) >= in.minRank && in.openFor(devices[i].ID) == nil {
			risky = append(risky, &devices[i])
		}
	}
	return parallel(len(risky), func(i int) error {
		d := risky[i]
		risk := v1.ThreatRiskLevel(snapshot.Risk(d.PartnerReportedThreatState))
		if held, at, ok := in.hints.take(d.ID); ok {
			// Syslog saw it first: the remediation carries what it is, from when it was seen.
			held.Risk = risk
			return in.open1(ctx, d, held, at, "")
		}
		return in.open1(ctx, d, &v1.ThreatReference{
			Source: v1.SourceIntuneDeviceRisk, Risk: risk,
			Detail: "BlackBerry reported " + d.PartnerReportedThreatState + " to Intune",
		}, in.snap.Taken, "")
	})
}

// fromAlert feeds one modelled UES alert: a status change is copied onto its
// remediation; an active alert at or above the minimum risk enriches its device's open
// remediation or opens one.
func (in *intake) fromAlert(ctx context.Context, a *ues.Alert) error {
	if tr := in.alertRemediation(a.AlertID); tr != nil {
		return in.setAlertStatus(ctx, tr, a.Status)
	}
	if a.Status != ues.AlertActive || snapshot.Rank(a.RiskLevel) < in.minRank {
		return nil
	}
	d, err := in.snap.ByEntraID(a.EntraDeviceID)
	if err != nil {
		reason := "unknown_device"
		if errors.Is(err, snapshot.ErrAmbiguous) {
			reason = "ambiguous_device"
		}
		intakeDropped.WithLabelValues(in.conn.Namespace, in.conn.Name, string(v1.SourceUESModelledAPI), reason).Inc()
		log.FromContext(ctx).Info("alert dropped: it names no single managed device", "connector", in.conn.Name, "alert", a.AlertID, "reason", reason)
		return nil
	}
	threat := &v1.ThreatReference{
		Source: v1.SourceUESModelledAPI, AlertID: a.AlertID, Type: detectionType(a.AlertType),
		Risk: v1.ThreatRiskLevel(strings.ToLower(a.RiskLevel)), Detail: truncate(a.Detail, 1024),
	}
	if threat.Type == "" && a.AlertType != "" {
		threat.Detail = truncate(a.AlertType+": "+a.Detail, 1024) // a type this API version does not know yet
	}
	if tr := in.openFor(d.ID); tr != nil {
		return in.enrich(ctx, tr, threat, a.Status)
	}
	return in.open1(ctx, d, threat, a.CreatedTime.Time, a.Status)
}

func (in *intake) openFor(deviceID string) *v1.ThreatRemediation {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.open[strings.ToLower(deviceID)]
}

func (in *intake) alertRemediation(alertID string) *v1.ThreatRemediation {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.byAlert[alertID]
}

// open1 creates the device's next episode. Its name is a function of the device and the
// episode number, so two replicas, a restart, or a pass working from a cache that has
// not yet seen the last create all meet in AlreadyExists instead of making two.
func (in *intake) open1(ctx context.Context, d *intune.ManagedDevice, threat *v1.ThreatReference, detected time.Time, alertStatus string) error {
	dev := strings.ToLower(d.ID)
	in.mu.Lock()
	if in.open[dev] != nil {
		in.mu.Unlock()
		return nil
	}
	episode := in.episodes[dev] + 1
	tr := remediationFor(in.conn, d, episode, threat, detected, alertStatus)
	// Where admission cannot set the requester (no MutatingAdmissionPolicy), it checks
	// that the one named is the writer's own username.
	setAnnotationOn(tr, v1.AnnotationRequestedBy, in.self)
	in.open[dev], in.episodes[dev] = tr, episode
	if threat.AlertID != "" {
		in.byAlert[threat.AlertID] = tr
	}
	in.mu.Unlock()
	switch err := in.c.Create(ctx, tr); {
	case apierrors.IsInvalid(err):
		// Bad input is quarantined, never a stalled pass: counted, logged, skipped.
		intakeDropped.WithLabelValues(in.conn.Namespace, in.conn.Name, string(threat.Source), "invalid").Inc()
		log.FromContext(ctx).Error(err, "threat remediation refused by the API server", "connector", in.conn.Name, "device", d.ID)
		return nil
	case err != nil && !apierrors.IsAlreadyExists(err):
		return err
	}
	log.FromContext(ctx).Info("threat remediation opened", "connector", in.conn.Name, "remediation", tr.Name,
		"device", d.ID, "source", threat.Source, "risk", threat.Risk, "alert", threat.AlertID)
	return nil
}

// enrich adds an alert's id, type and detail to a remediation that has none yet (one
// Intune opened): fields are filled in, never changed.
func (in *intake) enrich(ctx context.Context, tr *v1.ThreatRemediation, alert *v1.ThreatReference, status string) error {
	if tr.Spec.Threat != nil && tr.Spec.Threat.AlertID != "" {
		return nil // it follows another alert of the same episode
	}
	cur := tr.DeepCopy()
	patch := client.MergeFrom(tr.DeepCopy())
	t := cur.Spec.Threat
	if t == nil {
		t = &v1.ThreatReference{}
		cur.Spec.Threat = t
	}
	t.AlertID, t.Type, t.Detail = alert.AlertID, alert.Type, alert.Detail
	if t.Source == "" {
		t.Source = alert.Source
	}
	if t.Risk == "" {
		t.Risk = alert.Risk
	}
	setLabel(cur, LabelThreatType, string(alert.Type))
	setAnnotationOn(cur, AnnotationAlertStatus, status)
	if err := in.c.Patch(ctx, cur, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	in.mu.Lock()
	in.byAlert[alert.AlertID] = cur
	in.open[strings.ToLower(cur.Labels[LabelIntuneDevice])] = cur
	in.mu.Unlock()
	log.FromContext(ctx).Info("threat remediation enriched with its alert", "connector", in.conn.Name, "remediation", cur.Name, "alert", alert.AlertID, "type", alert.Type)
	return nil
}

// setAlertStatus copies a changed alert status onto its remediation (a metadata write).
func (in *intake) setAlertStatus(ctx context.Context, tr *v1.ThreatRemediation, status string) error {
	if tr.Annotations[AnnotationAlertStatus] == status {
		return nil
	}
	cur := tr.DeepCopy()
	patch := client.MergeFrom(tr.DeepCopy())
	setAnnotationOn(cur, AnnotationAlertStatus, status)
	return client.IgnoreNotFound(in.c.Patch(ctx, cur, patch))
}

func setLabel(o client.Object, k, v string) { o.SetLabels(withEntry(o.GetLabels(), k, v)) }

func setAnnotationOn(o client.Object, k, v string) {
	o.SetAnnotations(withEntry(o.GetAnnotations(), k, v))
}

// withEntry sets m[k] = v, making m when nil; an empty v changes nothing.
func withEntry(m map[string]string, k, v string) map[string]string {
	if v == "" {
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// parallel runs fn for 0..n-1 with up to applyWorkers at a time and joins the errors.
func parallel(n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, applyWorkers)
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// remediationName is the object name of a device's risk episode: risk-<Intune id>-<n>
// for an Intune id (a GUID). Any other id keeps a readable prefix and gains a hash of
// the whole id, so that two ids never share a name and the name is always valid.
func remediationName(intuneDeviceID string, episode int) string {
	id := strings.ToLower(intuneDeviceID)
	if !guidPattern.MatchString(id) {
		sum := sha256.Sum256([]byte(intuneDeviceID))
		prefix := strings.Trim(invalidNameChars.ReplaceAllString(id, "-"), "-")
		if len(prefix) > 40 {
			prefix = strings.Trim(prefix[:40], "-")
		}
		id = strings.TrimPrefix(prefix+"-"+hex.EncodeToString(sum[:8]), "-")
	}
	return "risk-" + id + "-" + strconv.Itoa(episode)
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9]+`)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// guid keeps an id only when the API's GUID validation will accept it.
func guid(id string) v1.GUID {
	if guidPattern.MatchString(id) && snapshot.EntraKey(id) != "" {
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

// remediationFor is the ThreatRemediation the intake opens for a device's episode.
func remediationFor(conn *v1.MTDConnector, d *intune.ManagedDevice, episode int, threat *v1.ThreatReference, detected time.Time, alertStatus string) *v1.ThreatRemediation {
	ts := conn.Spec.ThreatSync
	// Each remediation owns its plan: Create decodes the server's answer into the object,
	// which must not write into the connector's defaultPlan (and concurrently so).
	steps := defaultPlan()
	if len(ts.DefaultPlan) > 0 {
		steps = make([]v1.RemediationStep, len(ts.DefaultPlan))
		for i := range ts.DefaultPlan {
			ts.DefaultPlan[i].DeepCopyInto(&steps[i])
		}
	}
	at := metav1.NewTime(detected)
	threat = threat.DeepCopy()
	threat.DetectedAt = &at
	tr := &v1.ThreatRemediation{
		ObjectMeta: metav1.ObjectMeta{
			Name: remediationName(d.ID, episode), Namespace: conn.Namespace,
			Labels: map[string]string{LabelConnector: conn.Name, LabelIntuneDevice: strings.ToLower(d.ID), LabelEpisode: strconv.Itoa(episode)},
		},
		Spec: v1.ThreatRemediationSpec{
			ConnectorRef: v1.LocalObjectReference{Name: v1.ObjectName(conn.Name)},
			Device:       v1.DeviceReference{IntuneDeviceID: guid(d.ID), EntraDeviceID: guid(d.AzureADDeviceID)},
			Threat:       threat,
			Steps:        steps,
		},
	}
	if id := guid(d.AzureADDeviceID); id != "" {
		tr.Labels[LabelDevice] = strings.ToLower(string(id))
	}
	setLabel(tr, LabelThreatType, string(threat.Type))
	setAnnotationOn(tr, AnnotationAlertStatus, alertStatus)
	return tr
}

// detectionType keeps an alert type the API knows, else "".
func detectionType(t string) v1.DetectionType {
	if slices.Contains(v1.DetectionTypes, v1.DetectionType(t)) {
		return v1.DetectionType(t)
	}
	return ""
}
