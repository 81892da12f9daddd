// Package testkit is the harness the test suites share: waiting for a condition,
// waiting for a Kubernetes object, the twin's call counts and the operator's metrics.
// Only tests import it.
package testkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
)

// Poll is how often Eventually looks again.
const Poll = 50 * time.Millisecond

// Eventually looks at cond every Poll until it holds, and fails the test with cond's
// last state if it still does not once timeout has passed. cond runs on the test's
// goroutine, so it may fail the test itself.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	EventuallyEvery(t, timeout, Poll, what, cond)
}

// EventuallyEvery is Eventually looking every interval instead of every Poll: less
// often where each look is costly (a kubectl process), more often where what it waits
// for is in the test's own process.
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			switch {
			case state == "":
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			case strings.Contains(state, "\n"):
				t.Fatalf("timed out after %s waiting for %s; last state:\n%s", timeout, what, state)
			default:
				t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
			}
		}
		<-tick.C // the poll interval, not a synchronisation
	}
}

// WaitObject waits until ok holds for the object at key and returns that object. Each
// look reads a fresh object from c. Until the object exists it is waited for; any other
// error reading it fails the test at once. ok's state is what a timeout reports.
//
// P is inferred from ok: WaitObject(t, c, key, d, "ready", func(c *v1.MTDConnector) (bool, string) {...}).
func WaitObject[T any, P interface {
	*T
	client.Object
}](t testing.TB, c client.Client, key client.ObjectKey, timeout time.Duration, what string, ok func(P) (bool, string)) P {
	t.Helper()
	var got P
	Eventually(t, timeout, what+" on "+key.String(), func() (bool, string) {
		obj := P(new(T))
		if err := c.Get(context.Background(), key, obj); err != nil {
			if client.IgnoreNotFound(err) != nil {
				t.Fatalf("reading %s: %v", key, err)
			}
			return false, err.Error()
		}
		done, state := ok(obj)
		if done {
			got = obj
		}
		return done, state
	})
	return got
}

// Calls is how many requests the twin has answered on route ("GET
// /v1.0/deviceManagement/managedDevices"), all tenants together, since its counts were
// last reset.
func Calls(t testing.TB, admin *simclient.Client, route string) int64 {
	t.Helper()
	return Route(t, admin, route).Calls
}

// Route is the twin's whole record of route: its calls, how many of them it throttled,
// and its answers by HTTP status.
func Route(t testing.TB, admin *simclient.Client, route string) mw.RouteStats {
	t.Helper()
	cs, err := admin.Calls(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cs[route]
}

// Metric finds the metric of family name whose labels are exactly labels, or nil
// (whose getters read as zero).
func Metric(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	for _, m := range family(t, g, name) {
		if len(m.GetLabel()) == len(labels) && hasLabels(m, labels) {
			return m
		}
	}
	return nil
}

// Gauge reads the gauge of family name with exactly labels, and whether it is there.
func Gauge(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	m := Metric(t, g, name, labels)
	return m.GetGauge().GetValue(), m != nil
}

// Counter reads the counter of family name with exactly labels (0 when absent).
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	return Metric(t, g, name, labels).GetCounter().GetValue()
}

// CounterSum adds up the counters of family name that carry labels, whatever their
// other labels.
func CounterSum(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	total := 0.0
	for _, m := range family(t, g, name) {
		if hasLabels(m, labels) {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// Label is a metric's value of one label ("" without it).
func Label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// family gathers g and returns the metrics of family name.
func family(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		if Label(m, k) != v {
			return false
		}
	}
	return true
}
