package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

var (
	heartbeatAge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_partner_heartbeat_age_seconds",
		Help: "Age of the MTD partner's last heartbeat as Intune recorded it, per MTDConnector (-1 when none).",
	}, []string{"namespace", "name"})
	devicesByRisk = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_devices",
		Help: "Intune managed devices of the connector's tenant by the risk the partner reported (partnerReportedThreatState), from the last device snapshot.",
	}, []string{"namespace", "name", "risk"})
	intakeDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_intake_dropped_total",
		Help: "Threat signals the intake dropped, by feed and reason (unknown_device, ambiguous_device, invalid): never guessed onto a device.",
	}, []string{"namespace", "name", "source", "reason"})
	connectorCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_connector_condition",
		Help: "1 for each MTDConnector condition with its current status and reason (one series per connector and condition type).",
	}, []string{"namespace", "name", "type", "status", "reason"})
	devicesWithoutApp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mtd_operator_protect_app_devices_without_app",
		Help: "Managed devices of the platform on which Intune does not report the connector's Protect app, from the last inventory.",
	}, []string{"namespace", "name", "platform"})
)

func init() {
	metrics.Registry.MustRegister(heartbeatAge, devicesByRisk, intakeDropped, devicesWithoutApp, connectorCondition)
}

func publishConnectorMetrics(c *v1.MTDConnector, now time.Time) {
	// A condition's old status and reason go with its new ones: one series per type.
	connectorCondition.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
	for _, cond := range c.Status.Conditions {
		connectorCondition.WithLabelValues(c.Namespace, c.Name, cond.Type, string(cond.Status), cond.Reason).Set(1)
	}
	if c.Status.LastHeartbeatTime != nil {
		heartbeatAge.WithLabelValues(c.Namespace, c.Name).Set(now.Sub(c.Status.LastHeartbeatTime.Time).Seconds())
	} else {
		heartbeatAge.WithLabelValues(c.Namespace, c.Name).Set(-1)
	}
}

// publishDeviceMetrics publishes the connector's device counts.
func publishDeviceMetrics(c *v1.MTDConnector) {
	if d := c.Status.Devices; d != nil {
		for risk, n := range map[string]int32{"secured": d.Secured, "low": d.Low, "medium": d.Medium, "high": d.High, "unassessed": d.Total - d.Secured - d.Low - d.Medium - d.High} {
			devicesByRisk.WithLabelValues(c.Namespace, c.Name, risk).Set(float64(n))
		}
	}
}

// publishAppMetrics publishes the connector's devices without the Protect app.
func publishAppMetrics(c *v1.MTDConnector) {
	forgetAppMetrics(c)
	for _, st := range c.Status.ProtectApp {
		devicesWithoutApp.WithLabelValues(c.Namespace, c.Name, string(st.Platform)).Set(float64(st.DevicesWithoutApp))
	}
}

func forgetAppMetrics(c *v1.MTDConnector) {
	devicesWithoutApp.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
}

func forgetConnectorMetrics(c *v1.MTDConnector) {
	forgetAppMetrics(c)
	connectorCondition.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
	heartbeatAge.DeleteLabelValues(c.Namespace, c.Name)
	devicesByRisk.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
	intakeDropped.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
}
