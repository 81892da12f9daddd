package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

var (
	activeThreats = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_active_threats",
		Help: "Open (not Resolved, Failed or Expired) ThreatRemediations per MTDConnector, by threat type and risk; type manual for hand-made ones.",
	}, []string{"namespace", "connector", "type", "risk"})
	timeToResolve = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mtd_operator_threat_time_to_resolve_seconds",
		Help: "Time from a threat's detection to its remediation reaching Resolved, per MTDConnector.",
		// 1 min .. ~45 days.
		Buckets: prometheus.ExponentialBuckets(60, 3, 11),
	}, []string{"namespace", "connector"})
	stepsRun = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_remediation_steps_total",
		Help: "Remediation steps that reached an outcome, per MTDConnector, by action and outcome (Succeeded, Failed, Skipped, DryRun, Unsent).",
	}, []string{"namespace", "connector", "action", "outcome"})
	oldestThreat = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_active_threats_oldest_detection_timestamp_seconds",
		Help: "Unix time of the detection of the connector's oldest open threat (its remediation's status.detectedAt, else its creation); absent when none is open.",
	}, []string{"namespace", "connector"})
	capHolds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_destructive_action_cap_holds_total",
		Help: "Times a remediation's destructive step was held back because the connector's hourly cap was reached (counted per evaluation).",
	}, []string{"namespace", "connector"})
)

func init() {
	metrics.Registry.MustRegister(activeThreats, timeToResolve, stepsRun, oldestThreat, capHolds)
}

// startConnectorSeries makes the connector's counters exist at 0 (every action's
// failures, the cap's holds), so that the first increase is one an alert can see.
func startConnectorSeries(ns, connector string) {
	for _, a := range []v1.StepAction{v1.StepNotify, v1.StepSyncDevice, v1.StepRemoteLock, v1.StepRetire, v1.StepWipe, v1.StepIgnoreAlert} {
		stepsRun.WithLabelValues(ns, connector, string(a), string(v1.StepFailed)).Add(0)
	}
	capHolds.WithLabelValues(ns, connector).Add(0)
}

// forgetConnectorSeries drops a deleted connector's remediation series.
func forgetConnectorSeries(ns, connector string) {
	labels := prometheus.Labels{"namespace": ns, "connector": connector}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{activeThreats, stepsRun, timeToResolve, oldestThreat, capHolds} {
		v.DeletePartialMatch(labels)
	}
}

func countResolved(tr *v1.ThreatRemediation, d time.Duration) {
	timeToResolve.WithLabelValues(tr.Namespace, string(tr.Spec.ConnectorRef.Name)).Observe(d.Seconds())
}

func countStep(tr *v1.ThreatRemediation, action v1.StepAction, outcome v1.StepState) {
	stepsRun.WithLabelValues(tr.Namespace, string(tr.Spec.ConnectorRef.Name), string(action), string(outcome)).Inc()
}
