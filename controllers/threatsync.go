package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// applyWorkers bounds the object writes one pass makes at a time; alertChunk alerts
// (the UES client's page size) are applied before the cursor may move past them.
const (
	applyWorkers = 8
	alertChunk   = 200
)

// ThreatSyncReconciler turns UES mobile alerts into ThreatRemediation objects. It is a
// controller over MTDConnector (named "threatsync") rather than a free-running loop:
// each pass reads the alerts modified since the connector's status.threatSync.cursor
// and comes back after spec.threatSync.interval, so the workqueue gives one pass per
// connector at a time, restarts resume from the cursor, and a deleted connector simply
// stops being requeued. It reads nothing else from the clouds: the connector
// reconciler's reads are not repeated here.
type ThreatSyncReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clients  ClientSource
	Clock    clock.PassiveClock
	// MaxInterval caps every connector's threatSync.interval (tests, the demo); 0 = no cap.
	MaxInterval time.Duration
}

// Reconcile implements reconcile.Reconciler.
func (r *ThreatSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var conn v1.MTDConnector
	if err := r.Get(ctx, req.NamespacedName, &conn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !syncsThreats(&conn) {
		return ctrl.Result{}, nil // woken again by a spec change or a Ready transition
	}
	clients, err := r.Clients.Get(ctx, &conn)
	if err != nil {
		if errors.As(err, new(*credentials.Error)) {
			return ctrl.Result{}, nil // the connector reconciler reports it; a fix changes Ready
		}
		return ctrl.Result{}, err
	}
	cursor, passErr := r.pass(ctx, &conn, clients.UES)
	if err := r.saveProgress(ctx, &conn, cursor, passErr == nil); err != nil {
		return ctrl.Result{}, errors.Join(passErr, err)
	}
	if passErr != nil {
		emit(r.Recorder, &conn, corev1.EventTypeWarning, "ThreatSyncFailed", "ThreatSync", passErr.Error())
		return requeueFor(passErr)
	}
	return ctrl.Result{RequeueAfter: jitter(r.interval(&conn))}, nil
}

// syncsThreats says whether the connector's alerts are to be read now: threat sync on,
// and the connector Ready, which it only is as its tenant's owner and not suspended.
func syncsThreats(c *v1.MTDConnector) bool {
	ready := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReady)
	return threatSyncEnabled(c) && !c.Spec.Suspend && c.DeletionTimestamp.IsZero() &&
		ready != nil && ready.Status == metav1.ConditionTrue && ready.Reason == ReasonReady
}

func (r *ThreatSyncReconciler) interval(c *v1.MTDConnector) time.Duration {
	d := time.Minute
	if i := c.Spec.ThreatSync.Interval; i != nil {
		d = i.Duration
	}
	if r.MaxInterval > 0 {
		d = min(d, r.MaxInterval)
	}
	return d
}

// pass reads every alert modified at or after the cursor, oldest first, and applies
// them a chunk of a page's size at a time (writes in parallel within the chunk). The start is inclusive,
// which is the overlap: the alerts sharing the cursor's exact modified_time are read
// again and cost nothing more (see apply), as docs/ues-api.md asks of a poller. The
// returned cursor is the modified_time of the last chunk whose objects are all in place,
// so a failure part-way resumes at (and re-reads) the first chunk not yet applied.
func (r *ThreatSyncReconciler) pass(ctx context.Context, conn *v1.MTDConnector, u *ues.Client) (time.Time, error) {
	var cursor time.Time
	if s := conn.Status.ThreatSync; s != nil && s.Cursor != nil {
		cursor = s.Cursor.Time
	}
	minRisk := riskRank(minimumRisk(conn))
	var page []ues.Alert
	flush := func() error {
		if err := r.applyAll(ctx, conn, page, minRisk); err != nil {
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

// applyAll applies alerts with up to applyWorkers writes in flight.
func (r *ThreatSyncReconciler) applyAll(ctx context.Context, conn *v1.MTDConnector, alerts []ues.Alert, minRisk int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, applyWorkers)
	)
	for i := range alerts {
		wg.Add(1)
		sem <- struct{}{}
		go func(a *ues.Alert) {
			defer func() { <-sem; wg.Done() }()
			if err := r.apply(ctx, conn, a, minRisk); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(&alerts[i])
	}
	wg.Wait()
	return errors.Join(errs...)
}

// apply makes the cluster reflect one alert: an active alert at or above the minimum
// risk has its ThreatRemediation; a changed status is copied onto an existing one.
// Reads go to the cache, so an alert already reflected costs no API call at all.
func (r *ThreatSyncReconciler) apply(ctx context.Context, conn *v1.MTDConnector, a *ues.Alert, minRisk int) error {
	key := types.NamespacedName{Namespace: conn.Namespace, Name: remediationName(a.AlertID)}
	var cur v1.ThreatRemediation
	err := r.Get(ctx, key, &cur)
	switch {
	case apierrors.IsNotFound(err):
		if a.Status != ues.AlertActive || riskRank(a.RiskLevel) < minRisk || riskRank(a.RiskLevel) == 0 {
			return nil
		}
		tr := remediationFor(conn, a)
		if err := r.Create(ctx, tr); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	case err != nil:
		return err
	case cur.Annotations[AnnotationAlertStatus] == a.Status:
		return nil
	}
	patch := client.MergeFrom(cur.DeepCopy())
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[AnnotationAlertStatus] = a.Status
	return client.IgnoreNotFound(r.Patch(ctx, &cur, patch))
}

// saveProgress writes status.threatSync with a JSON merge patch of only that field:
// the connector reconciler owns the rest of the status and patches only its own
// fields too, so neither overwrites the other. lastRunTime moves only when the pass
// finished.
func (r *ThreatSyncReconciler) saveProgress(ctx context.Context, conn *v1.MTDConnector, cursor time.Time, finished bool) error {
	patch := client.MergeFrom(conn.DeepCopy())
	s := &v1.ThreatSyncStatus{}
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
	return client.IgnoreNotFound(r.Status().Patch(ctx, conn, patch))
}
