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
		Help: "Mobile devices in the connector's UES tenant by overall risk.",
	}, []string{"namespace", "name", "risk"})
)

func init() {
	metrics.Registry.MustRegister(heartbeatAge, devicesByRisk)
}

func observeConnector(c *v1.MTDConnector, now time.Time) {
	if c.Status.LastHeartbeatTime != nil {
		heartbeatAge.WithLabelValues(c.Namespace, c.Name).Set(now.Sub(c.Status.LastHeartbeatTime.Time).Seconds())
	} else {
		heartbeatAge.WithLabelValues(c.Namespace, c.Name).Set(-1)
	}
	if d := c.Status.Devices; d != nil {
		for risk, n := range map[string]int32{"secured": d.Secured, "low": d.Low, "medium": d.Medium, "high": d.High} {
			devicesByRisk.WithLabelValues(c.Namespace, c.Name, risk).Set(float64(n))
		}
	}
}

func forgetConnectorMetrics(c *v1.MTDConnector) {
	heartbeatAge.DeleteLabelValues(c.Namespace, c.Name)
	devicesByRisk.DeletePartialMatch(prometheus.Labels{"namespace": c.Namespace, "name": c.Name})
}
