package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// alertChunk alerts (the UES client's page size) are applied before the alert cursor
// may move past them.
const alertChunk = 200

// ThreatSyncReconciler takes each connector's device snapshot and feeds the threat
// intake. It is a controller over MTDConnector (named "threatsync") rather than a
// free-running loop: each pass reads Intune's managed devices once (paged, $select),
// stores the snapshot for everyone who needs a device's state, writes the device
// counts, opens a ThreatRemediation for each device newly at or above minimumRisk, and,
// where the connector opts into the modelled UES API, reads the alerts modified since
// status.threatSync.cursor. It comes back after spec.threatSync.interval, so the
// workqueue gives one pass per connector at a time and a deleted connector simply stops
// being requeued.
type ThreatSyncReconciler struct {
	client.Client
	Recorder  events.EventRecorder
	Clients   ClientSource
	Snapshots *snapshot.Store
	Clock     clock.PassiveClock
	// MaxInterval caps every connector's threatSync.interval (tests, the demo); 0 = no cap.
	MaxInterval time.Duration
	// Refreshed, when set, receives the connector after each snapshot so that its open
	// remediations look at the new device state at once (a send never blocks: a missed
	// one is covered by the remediations' own poll).
	Refreshed chan<- event.GenericEvent
	// Operator is the operator's own Kubernetes username, recorded as the requester of
	// the remediations the intake opens.
	Operator string
	// Hints are the alerts syslog reported for devices with no remediation yet.
	Hints *SyslogHints
}

// Reconcile implements reconcile.Reconciler.
func (r *ThreatSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var conn v1.MTDConnector
	if err := r.Get(ctx, req.NamespacedName, &conn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !connectorUsable(&conn) {
		return ctrl.Result{}, nil // woken again by a spec change or a Ready transition
	}
	clients, err := r.Clients.Get(ctx, &conn)
	if err != nil {
		if errors.As(err, new(*credentials.Error)) {
			return ctrl.Result{}, nil // the connector reconciler reports it; a fix changes Ready
		}
		return ctrl.Result{}, err
	}
	logger := log.FromContext(ctx).WithValues("connector", conn.Name, "tenant", conn.Spec.Intune.TenantID)
	snap, err := r.takeSnapshot(ctx, clients.Intune)
	if err != nil {
		emit(r.Recorder, &conn, corev1.EventTypeWarning, "ThreatSyncFailed", "ThreatSync", "reading Intune's managed devices: "+err.Error())
		return requeueFor(err)
	}
	r.Snapshots.Put(conn.UID, snap)
	logger.V(1).Info("device snapshot taken", "devices", snap.Len())

	cursor, passErr := time.Time{}, error(nil)
	if s := conn.Status.ThreatSync; s != nil && s.Cursor != nil {
		cursor = s.Cursor.Time
	}
	if conn.ThreatSyncEnabled() {
		in, err := newIntake(ctx, r.Client, &conn, snap, r.Operator, r.Hints)
		if err != nil {
			return ctrl.Result{}, err
		}
		passErr = in.fromDeviceRisk(ctx)
		if conn.Spec.UES.ModelledMobileAPI && passErr == nil {
			cursor, passErr = r.alertPass(ctx, in, clients.UES, cursor)
		}
	}
	if err := r.saveProgress(ctx, &conn, snap, cursor, passErr == nil); err != nil {
		return ctrl.Result{}, errors.Join(passErr, err)
	}
	r.wakeRemediations(&conn)
	if passErr != nil {
		emit(r.Recorder, &conn, corev1.EventTypeWarning, "ThreatSyncFailed", "ThreatSync", passErr.Error())
		return requeueFor(passErr)
	}
	return ctrl.Result{RequeueAfter: jitter(r.interval(&conn))}, nil
}

func (r *ThreatSyncReconciler) interval(c *v1.MTDConnector) time.Duration {
	d := c.ThreatSyncInterval()
	if r.MaxInterval > 0 {
		d = min(d, r.MaxInterval)
	}
	return d
}

// takeSnapshot reads every managed device, 1,000 a page, with only the fields used.
func (r *ThreatSyncReconciler) takeSnapshot(ctx context.Context, g intune.Client) (*snapshot.Snapshot, error) {
	taken := r.Clock.Now()
	devices, err := g.ListManagedDevices(ctx, intune.DeviceFilter{})
	if err != nil {
		return nil, err
	}
	return snapshot.New(taken, devices), nil
}

// alertPass reads every modelled UES alert modified at or after the cursor, oldest
// first, and feeds them to the intake a chunk of a page's size at a time. The start is
// inclusive, which is the overlap: the alerts sharing the cursor's exact modified_time
// are read again and cost nothing more, as docs/ues-api.md asks of a poller. The
// returned cursor is the modified_time of the last chunk fully applied, so a failure
// part-way resumes at (and re-reads) the first chunk not yet applied.
func (r *ThreatSyncReconciler) alertPass(ctx context.Context, in *intake, u ues.Client, cursor time.Time) (time.Time, error) {
	var page []ues.Alert
	flush := func() error {
		if err := parallel(len(page), func(i int) error { return in.fromAlert(ctx, &page[i]) }); err != nil {
			return err
		}
		for _, a := range page {
			if a.ModifiedTime.After(cursor) {
				cursor = a.ModifiedTime.Time
			}
		}
		page = page[:0]
		return nil
	}
	for a, err := range u.Alerts(ctx, ues.AlertQuery{ModifiedSince: cursor}) {
		if err != nil {
			return cursor, errors.Join(err, flush())
		}
		if page = append(page, a); len(page) == alertChunk {
			if err := flush(); err != nil {
				return cursor, err
			}
		}
	}
	return cursor, flush()
}

// wakeRemediations tells the remediation controller that the connector's devices were
// read again.
func (r *ThreatSyncReconciler) wakeRemediations(conn *v1.MTDConnector) {
	if r.Refreshed == nil {
		return
	}
	select {
	case r.Refreshed <- event.GenericEvent{Object: conn}:
	default:
	}
}

// saveProgress writes status.threatSync and status.devices with a JSON merge patch of
// only those fields: the connector reconciler owns the rest of the status and patches
// only its own fields too, so neither overwrites the other. lastRunTime moves only
// when the pass finished.
func (r *ThreatSyncReconciler) saveProgress(ctx context.Context, conn *v1.MTDConnector, snap *snapshot.Snapshot, cursor time.Time, finished bool) error {
	patch := client.MergeFrom(conn.DeepCopy())
	s := &v1.ThreatSyncStatus{SnapshotDevices: int32(snap.Len())}
	taken := metav1.NewTime(snap.Taken)
	s.SnapshotTime = &taken
	if old := conn.Status.ThreatSync; old != nil {
		s.LastRunTime = old.LastRunTime
	}
	if finished {
		now := metav1.NewTime(r.Clock.Now())
		s.LastRunTime = &now
	}
	if !cursor.IsZero() {
		c := metav1.NewMicroTime(cursor)
		s.Cursor = &c
	}
	conn.Status.ThreatSync = s
	conn.Status.Devices = deviceCounts(snap, conn.Status.Devices)
	publishDeviceMetrics(conn)
	return client.IgnoreNotFound(r.Status().Patch(ctx, conn, patch))
}

// deviceCounts are the snapshot's counts, with allSecuredSince carried over from the
// previous counts while every assessed device stays secured.
func deviceCounts(snap *snapshot.Snapshot, prev *v1.DeviceRiskCounts) *v1.DeviceRiskCounts {
	c := snap.Counts()
	out := &v1.DeviceRiskCounts{Secured: c.Secured, Low: c.Low, Medium: c.Medium, High: c.High, Total: c.Total}
	for _, d := range snap.Devices() {
		if p := platformOf(&d); p != "" {
			if out.Platforms == nil {
				out.Platforms = map[v1.Platform]int32{}
			}
			out.Platforms[p]++
		}
	}
	if c.Assessed() > 0 && c.Secured == c.Assessed() {
		since := metav1.NewTime(snap.Taken)
		if prev != nil && prev.AllSecuredSince != nil {
			since = *prev.AllSecuredSince
		}
		out.AllSecuredSince = &since
	}
	return out
}
