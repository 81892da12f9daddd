package controllers

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/syslog"
)

// Per-connector syslog metrics: what arrived, what was a Mobile Alerts event, what the
// intake did with it, and what was dropped, by reason. The listener reports the first
// two and its own drops (size, rate, connections, TLS, queue); the intake the rest.
var (
	syslogMessages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_syslog_messages_total",
		Help: "Syslog frames received by a connector's listener (stage=received) and Mobile Alerts events among them (stage=parsed).",
	}, []string{"namespace", "name", "stage"})
	syslogEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_syslog_events_total",
		Help: "Mobile Alerts events the intake applied, by outcome: opened, enriched, held (for the remediation Intune's risk opens), duplicate, status_event.",
	}, []string{"namespace", "name", "outcome"})
	syslogDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_syslog_dropped_total",
		Help: "Syslog frames or events dropped, by reason: oversized, malformed, not_an_alert, rate_limited, queue_full, source_not_allowed, too_many_connections, tls_handshake, unknown_device, ambiguous_device, invalid_alert_id, no_snapshot, connector_not_ready, threat_sync_disabled, hints_full, error.",
	}, []string{"namespace", "name", "reason"})
)

func init() { metrics.Registry.MustRegister(syslogMessages, syslogEvents, syslogDropped) }

// syslogObserver counts a listener's frames for its connector.
type syslogObserver struct{ ns, name string }

func (o syslogObserver) Received() { syslogMessages.WithLabelValues(o.ns, o.name, "received").Inc() }
func (o syslogObserver) Parsed()   { syslogMessages.WithLabelValues(o.ns, o.name, "parsed").Inc() }
func (o syslogObserver) Dropped(reason string) {
	syslogDropped.WithLabelValues(o.ns, o.name, reason).Inc()
}

// batchSize bounds how many queued events one intake pass applies.
const batchSize = 256

// consume applies the listener's events until it closes, a batch at a time: whatever
// is queued when the intake is ready, so a burst costs one index of the connector's
// remediations per batch, and a single alert waits for nothing.
func (r *SyslogReconciler) consume(ctx context.Context, key types.NamespacedName, run *runningListener) {
	defer close(run.done)
	events := run.l.Events()
	for ev := range events {
		batch := []syslog.Event{ev}
	drain:
		for len(batch) < batchSize {
			select {
			case e, ok := <-events:
				if !ok {
					break drain
				}
				batch = append(batch, e)
			default:
				break drain
			}
		}
		r.apply(ctx, key, run.uid, batch)
	}
}

// apply feeds a batch to the connector's intake, through the same checks as every
// other path: a usable connector (positively owning its tenant) and its snapshot.
func (r *SyslogReconciler) apply(ctx context.Context, key types.NamespacedName, uid types.UID, batch []syslog.Event) {
	drop := func(reason string) {
		syslogDropped.WithLabelValues(key.Namespace, key.Name, reason).Add(float64(len(batch)))
		log.FromContext(ctx).Info("syslog events dropped", "connector", key.Name, "events", len(batch), "reason", reason)
	}
	var conn v1.MTDConnector
	if err := r.Get(ctx, key, &conn); err != nil || conn.UID != uid || !connectorUsable(&conn) {
		drop("connector_not_ready")
		return
	}
	if !conn.ThreatSyncEnabled() {
		drop("threat_sync_disabled")
		return
	}
	snap := r.Snapshots.Get(uid)
	if snap == nil {
		drop("no_snapshot")
		return
	}
	in, err := newIntake(ctx, r.Client, &conn, snap, r.Operator, r.Hints)
	if err != nil {
		drop("error")
		return
	}
	declared, err := r.declaredRisks(ctx, &conn)
	if err != nil {
		drop("error")
		return
	}
	now := r.Clock.Now()
	// In parallel, as the intake applies Intune's risk: a burst is as many creates as
	// alerts, and the listener's queue must not fill behind them. The intake registers a
	// device's remediation before creating it, so two alerts of one device (or one
	// alert twice) in a batch still make one.
	_ = parallel(len(batch), func(i int) error {
		ev := batch[i]
		outcome, err := in.fromSyslog(ctx, ev, declared, now)
		if err != nil {
			reason := droppedReason(err)
			syslogDropped.WithLabelValues(key.Namespace, key.Name, reason).Inc()
			log.FromContext(ctx).Info("syslog event dropped", "connector", key.Name, "alert", ev.AlertID, "reason", reason, "sender", ev.Source.String())
			return nil
		}
		syslogEvents.WithLabelValues(key.Namespace, key.Name, outcome).Inc()
		return nil
	})
}

// declaredRisks is the risk each detection type raises a device to, as the connector's
// DeviceRiskPolicies declare the UES console's risk assessment (the highest where they
// differ): what lets a syslog alert open a remediation before Intune hears of it.
func (r *SyslogReconciler) declaredRisks(ctx context.Context, conn *v1.MTDConnector) (map[v1.DetectionType]v1.ThreatRiskLevel, error) {
	var list v1.DeviceRiskPolicyList
	if err := r.List(ctx, &list, client.InNamespace(conn.Namespace), client.MatchingFields{indexConnectorRef: conn.Name}); err != nil {
		return nil, err
	}
	out := map[v1.DetectionType]v1.ThreatRiskLevel{}
	for _, p := range list.Items {
		if p.Spec.RiskAssessment == nil {
			continue
		}
		for _, d := range p.Spec.RiskAssessment.Detections {
			if snapshot.Rank(string(d.Risk)) > snapshot.Rank(string(out[d.Type])) {
				out[d.Type] = d.Risk
			}
		}
	}
	return out, nil
}
