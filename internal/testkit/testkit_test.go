package testkit_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// recorder is a testing.TB whose Fatalf records the message and ends the goroutine,
// as the real one does.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine and returns what it failed with.
func run(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failed
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	if failed := run(t, func(tb testing.TB) {
		testkit.Eventually(tb, time.Minute, "three looks", func() (bool, string) { n++; return n == 3, "" })
	}); failed != "" || n != 3 {
		t.Fatalf("failed %q after %d looks", failed, n)
	}
}

func TestEventuallyFailsWithTheLastState(t *testing.T) {
	n := 0
	failed := run(t, func(tb testing.TB) {
		testkit.EventuallyEvery(tb, 30*time.Millisecond, time.Millisecond, "never", func() (bool, string) { n++; return false, fmt.Sprint("look ", n) })
	})
	if want := fmt.Sprintf("timed out after 30ms waiting for never; last state: look %d", n); failed != want || n < 2 {
		t.Fatalf("failed %q, want %q", failed, want)
	}
	if failed := run(t, func(tb testing.TB) {
		testkit.EventuallyEvery(tb, 0, time.Millisecond, "never", func() (bool, string) { return false, "a\nb" })
	}); failed != "timed out after 0s waiting for never; last state:\na\nb" {
		t.Fatalf("failed %q", failed)
	}
	if failed := run(t, func(tb testing.TB) {
		testkit.EventuallyEvery(tb, 0, time.Millisecond, "never", func() (bool, string) { return false, "" })
	}); failed != "timed out after 0s waiting for never" {
		t.Fatalf("failed %q", failed)
	}
}

func TestMetricsMatchLabelsExactly(t *testing.T) {
	reg := prometheus.NewRegistry()
	steps := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steps_total"}, []string{"action", "outcome"})
	devices := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "devices"}, []string{"risk"})
	reg.MustRegister(steps, devices)
	steps.WithLabelValues("lock", "Succeeded").Add(2)
	steps.WithLabelValues("lock", "Failed").Add(1)
	steps.WithLabelValues("wipe", "Succeeded").Add(5)
	devices.WithLabelValues("high").Set(0)

	if n := testkit.Counter(t, reg, "steps_total", map[string]string{"action": "lock", "outcome": "Failed"}); n != 1 {
		t.Errorf("counter = %v, want 1", n)
	}
	if m := testkit.Metric(t, reg, "steps_total", map[string]string{"action": "lock"}); m != nil {
		t.Errorf("a subset of the labels matched %v", m)
	}
	if n := testkit.Counter(t, reg, "steps_total", map[string]string{"action": "retire", "outcome": "Succeeded"}); n != 0 {
		t.Errorf("absent counter = %v, want 0", n)
	}
	if n := testkit.CounterSum(t, reg, "steps_total", map[string]string{"action": "lock"}); n != 3 {
		t.Errorf("sum = %v, want 3", n)
	}
	if n := testkit.CounterSum(t, reg, "steps_total", nil); n != 8 {
		t.Errorf("sum of all = %v, want 8", n)
	}
	if v, ok := testkit.Gauge(t, reg, "devices", map[string]string{"risk": "high"}); !ok || v != 0 {
		t.Errorf("gauge = %v (present %v), want a present 0", v, ok)
	}
	if _, ok := testkit.Gauge(t, reg, "devices", map[string]string{"risk": "low"}); ok {
		t.Error("an absent gauge is present")
	}
	m := testkit.Metric(t, reg, "steps_total", map[string]string{"action": "wipe", "outcome": "Succeeded"})
	if got := testkit.Label(m, "action") + "/" + testkit.Label(m, "outcome") + testkit.Label(m, "none"); got != "wipe/Succeeded" {
		t.Errorf("labels %q", got)
	}
}
