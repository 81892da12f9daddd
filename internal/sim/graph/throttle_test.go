package graph

import (
	"testing"
	"time"
)

func TestThrottler(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottler(Limits{Enabled: true, Window: 20 * time.Second, ConfigWrites: 2, ConfigRequests: 3,
		DevicesWrites: 1, DevicesRequests: 10, TenantFactor: 2})
	th.now = func() time.Time { return now }
	type step struct {
		app, cat string
		write    bool
		advance  time.Duration
		ok       bool
		after    int
	}
	steps := []step{
		{"a", catConfig, true, 0, true, 0},
		{"a", catConfig, true, 0, true, 0},
		{"a", catConfig, true, 5 * time.Second, false, 15}, // per-app writes spent
		{"a", catConfig, false, 0, true, 0},                // a read still fits (3rd request)
		{"a", catConfig, false, 0, false, 15},              // per-app requests spent
		{"b", catConfig, true, 0, true, 0},                 // another app: own budget
		{"b", catConfig, true, 0, true, 0},                 // tenant writes now 4 = 2 x 2
		{"c", catConfig, true, 0, false, 15},               // tenant-wide writes spent
		{"a", catDevices, true, 0, true, 0},                // other service unaffected
		{"a", catNone, true, 0, true, 0},                   // unthrottled routes
		{"a", catConfig, true, 15 * time.Second, true, 0},  // new window
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, after := th.Allow("t", s.app, s.cat, s.write)
		if ok != s.ok || after != s.after {
			t.Fatalf("step %d %+v: got %v, %d", i, s, ok, after)
		}
	}
	th.SetLimits(Limits{Enabled: false})
	for range 100 {
		if ok, _ := th.Allow("t", "a", catConfig, true); !ok {
			t.Fatal("throttled while disabled")
		}
	}
}
