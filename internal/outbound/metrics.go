package outbound

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_outbound_requests_total",
		Help: "Calls to cloud APIs by service (entra, graph, ues), operation and HTTP status code (0 when no response arrived).",
	}, []string{"service", "operation", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mtd_operator_outbound_request_duration_seconds",
		Help:    "Duration of calls to cloud APIs, including the time spent waiting for the limiter.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"service", "operation"})
	throttledTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mtd_operator_outbound_throttled_total",
		Help: "Calls answered 429 by the service, or held back by the operator's own limiter (source=limiter).",
	}, []string{"service", "source"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, requestDuration, throttledTotal)
}

// Observe records one finished call.
func Observe(service, operation string, status int, started time.Time) {
	requestsTotal.WithLabelValues(service, operation, strconv.Itoa(status)).Inc()
	requestDuration.WithLabelValues(service, operation).Observe(time.Since(started).Seconds())
	if status == 429 {
		throttledTotal.WithLabelValues(service, "service").Inc()
	}
}

// ObserveLimited records a call the operator's own limiter held back.
func ObserveLimited(service string) {
	throttledTotal.WithLabelValues(service, "limiter").Inc()
}
