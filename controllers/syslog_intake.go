package controllers

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/syslog"
)

// What a syslog Mobile Alerts event does, through the one intake pipeline:
//   - an alert id already known is a redelivery: nothing (delivery is at least once);
//   - a device with an open remediation gets the alert's id, type and detail, once;
//   - a device without one gets one at once when the connector's policies declare the
//     alert's type at or above minimumRisk (spec.riskAssessment, the mapping set in the
//     UES console); otherwise the alert is held, and the remediation Intune's device
//     risk opens later carries it (the feed is "a fast hint", Intune the truth);
//   - Resolved and Ignored events change nothing: anyone who can reach the port can
//     send one, and only Intune's word ends a threat;
//   - an event naming no single managed device is dropped and counted, never guessed.
//
// Devices are matched, in this order, by an Entra device id field, else by device name
// and user e-mail together, against the connector's device snapshot. Which keys carry
// them is assumed (BlackBerry documents Alert Id and Alert Name only): see docs.

// Outcomes of one event, the values of mtd_operator_syslog_events_total's outcome.
const (
	syslogOpened    = "opened"
	syslogEnriched  = "enriched"
	syslogHeld      = "held"
	syslogDuplicate = "duplicate"
	syslogStatus    = "status_event"
)

// The keys an event may name its device by (assumed; looked up case-insensitively).
var (
	entraKeys      = []string{"Entra Device ID", "Azure Device ID", "Azure AD Device ID"}
	deviceNameKeys = []string{"Device Name"}
	userKeys       = []string{"User Email", "Email", "User", "User Name"}
)

// alertIDPattern is spec.threat.alertID's pattern: an id that reaches a URL.
var alertIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// fromSyslog feeds one event and says what it did, or why it was dropped
// (errDropped wraps the reason).
func (in *intake) fromSyslog(ctx context.Context, ev syslog.Event, declared map[v1.DetectionType]v1.ThreatRiskLevel, now time.Time) (string, error) {
	if name := strings.ToLower(ev.Name); name != "" && name != "created" {
		return syslogStatus, nil
	}
	if !alertIDPattern.MatchString(ev.AlertID) {
		return "", dropped("invalid_alert_id")
	}
	if in.alertRemediation(ev.AlertID) != nil || in.hints.known(ev.AlertID) {
		return syslogDuplicate, nil
	}
	d, err := in.syslogDevice(ev)
	if err != nil {
		return "", err
	}
	threat := &v1.ThreatReference{Source: v1.SourceUESSyslog, AlertID: ev.AlertID, Type: detectionType(ev.Type), Detail: truncate(ev.Detail, 1024)}
	if threat.Type == "" && ev.Type != "" {
		threat.Detail = truncate(ev.Type+": "+ev.Detail, 1024) // a type this API version does not know yet
	}
	threat.Risk = declared[threat.Type]
	if tr := in.openFor(d.ID); tr != nil {
		if tr.Spec.Threat != nil && tr.Spec.Threat.AlertID != "" {
			return syslogDuplicate, nil // it follows another alert of the same episode
		}
		return syslogEnriched, in.enrich(ctx, tr, threat, "")
	}
	if threat.Risk != "" && snapshot.Rank(string(threat.Risk)) >= in.minRank {
		return syslogOpened, in.open1(ctx, d, threat, now, "")
	}
	if !in.hints.hold(d.ID, threat, now) {
		return "", dropped("hints_full")
	}
	log.FromContext(ctx).Info("syslog alert held for the remediation Intune's risk will open", "connector", in.conn.Name,
		"device", d.ID, "alert", ev.AlertID, "type", ev.Type)
	return syslogHeld, nil
}

// syslogDevice finds the event's device in the snapshot, exactly.
func (in *intake) syslogDevice(ev syslog.Event) (*intune.ManagedDevice, error) {
	var (
		d   *intune.ManagedDevice
		err error
	)
	if entra := syslog.Field(ev.Fields, entraKeys...); entra != "" {
		d, err = in.snap.ByEntraID(entra)
	} else {
		d, err = in.snap.ByNameAndUser(syslog.Field(ev.Fields, deviceNameKeys...), syslog.Field(ev.Fields, userKeys...))
	}
	switch {
	case errors.Is(err, snapshot.ErrAmbiguous):
		return nil, dropped("ambiguous_device")
	case err != nil:
		return nil, dropped("unknown_device")
	}
	return d, nil
}

// errDropped is an event the intake refuses, with the reason it is counted under.
type errDropped struct{ reason string }

func (e *errDropped) Error() string { return "dropped: " + e.reason }

func dropped(reason string) error { return &errDropped{reason} }

// droppedReason is the reason of a refused event, or "error" for a failure.
func droppedReason(err error) string {
	var d *errDropped
	if errors.As(err, &d) {
		return d.reason
	}
	return "error"
}

// SyslogHints hold, per connector, the alerts syslog reported for devices that have no
// remediation yet, until the intake opens one from Intune's device risk. They are
// bounded in number and age, and kept in memory only: after a restart, the remediation
// opens from Intune's risk without the alert's detail.
type SyslogHints struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	now func() time.Time
	by  map[types.UID]*connectorHints
}

type connectorHints struct {
	byDevice map[string]heldAlert // lower-case Intune id
	alerts   map[string]time.Time // alert ids held, with when they arrived
}

type heldAlert struct {
	threat v1.ThreatReference
	at     time.Time
}

// NewSyslogHints is an empty store on the given clock.
func NewSyslogHints(now func() time.Time) *SyslogHints {
	return &SyslogHints{ttl: time.Hour, max: 10000, now: now, by: map[types.UID]*connectorHints{}}
}

// forConnector is the connector's hints (nil-safe: a nil store holds nothing).
func (h *SyslogHints) forConnector(uid types.UID) *hintsOf {
	if h == nil {
		return nil
	}
	return &hintsOf{h, uid}
}

// hintsOf is one connector's view of the store.
type hintsOf struct {
	h   *SyslogHints
	uid types.UID
}

func (c *hintsOf) get(create bool) *connectorHints {
	ch := c.h.by[c.uid]
	if ch == nil && create {
		ch = &connectorHints{byDevice: map[string]heldAlert{}, alerts: map[string]time.Time{}}
		c.h.by[c.uid] = ch
	}
	return ch
}

// hold keeps the device's first alert; false when the store is full.
func (c *hintsOf) hold(device string, threat *v1.ThreatReference, at time.Time) bool {
	if c == nil {
		return false
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	ch := c.get(true)
	if len(ch.alerts) >= c.h.max {
		c.expire(ch) // only when full: a lookup checks its own entry's age
	}
	if len(ch.alerts) >= c.h.max {
		return false
	}
	ch.alerts[threat.AlertID] = at
	dev := strings.ToLower(device)
	// A later alert of the same device: the first one stays, unless it is too old.
	if held, ok := ch.byDevice[dev]; !ok || held.at.Before(c.cutoff()) {
		ch.byDevice[dev] = heldAlert{threat: *threat, at: at}
	}
	return true
}

// known says whether an alert id is held (a redelivery).
func (c *hintsOf) known(alertID string) bool {
	if c == nil {
		return false
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	ch := c.get(false)
	if ch == nil {
		return false
	}
	at, ok := ch.alerts[alertID]
	return ok && !at.Before(c.cutoff())
}

// take removes and returns the device's held alert, if it is fresh.
func (c *hintsOf) take(device string) (*v1.ThreatReference, time.Time, bool) {
	if c == nil {
		return nil, time.Time{}, false
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	ch := c.get(false)
	if ch == nil {
		return nil, time.Time{}, false
	}
	held, ok := ch.byDevice[strings.ToLower(device)]
	if !ok {
		return nil, time.Time{}, false
	}
	delete(ch.byDevice, strings.ToLower(device))
	if held.at.Before(c.cutoff()) {
		return nil, time.Time{}, false
	}
	return &held.threat, held.at, true
}

// expire drops what is older than the store's ttl. A held alert id stays known for the
// ttl even once its remediation opened, which then knows it too.
func (c *hintsOf) expire(ch *connectorHints) {
	cutoff := c.cutoff()
	for dev, held := range ch.byDevice {
		if held.at.Before(cutoff) {
			delete(ch.byDevice, dev)
		}
	}
	for id, at := range ch.alerts {
		if at.Before(cutoff) {
			delete(ch.alerts, id)
		}
	}
}

// cutoff is the oldest time a hint may be from.
func (c *hintsOf) cutoff() time.Time { return c.h.now().Add(-c.h.ttl) }

// forget drops a connector's hints.
func (h *SyslogHints) forget(uid types.UID) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.by, uid)
}
