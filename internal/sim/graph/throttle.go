package graph

import (
	"math"
	"sync"
	"time"
)

// Limits are Intune's documented throttling limits per app per tenant in
// one window; the tenant-wide limit (all apps) is TenantFactor times them.
type Limits struct {
	Enabled         bool          `json:"enabled"`
	Window          time.Duration `json:"window"`
	ConfigWrites    int           `json:"configWrites"`
	ConfigRequests  int           `json:"configRequests"`
	DevicesWrites   int           `json:"devicesWrites"`
	DevicesRequests int           `json:"devicesRequests"`
	TenantFactor    int           `json:"tenantFactor"`
}

// DefaultLimits are the documented ones: the device configuration service
// (compliance policies) 100 writes / 1000 requests per 20 s, the devices
// service (managed devices) 200 / 2000, and twice that per tenant.
func DefaultLimits() Limits {
	return Limits{Enabled: true, Window: 20 * time.Second, ConfigWrites: 100, ConfigRequests: 1000,
		DevicesWrites: 200, DevicesRequests: 2000, TenantFactor: 2}
}

// Throttle categories: the Intune service a route belongs to.
const (
	catNone    = ""
	catConfig  = "config"
	catDevices = "devices"
)

// Throttler counts requests in fixed windows on wall time (clients wait real
// seconds on Retry-After, so the world clock must not drive it).
type Throttler struct {
	mu  sync.Mutex
	lim Limits
	win map[string]*window
	now func() time.Time
}

type window struct {
	start time.Time
	n     int
}

// NewThrottler starts with the given limits.
func NewThrottler(l Limits) *Throttler {
	return &Throttler{lim: l, win: map[string]*window{}, now: time.Now}
}

// Limits returns the current limits.
func (t *Throttler) Limits() Limits {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lim
}

// SetLimits replaces the limits and forgets the counts.
func (t *Throttler) SetLimits(l Limits) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.Window <= 0 {
		l.Window = 20 * time.Second
	}
	if l.TenantFactor <= 0 {
		l.TenantFactor = 2
	}
	t.lim, t.win = l, map[string]*window{}
}

// Allow counts one request; when a limit is exhausted it answers false and
// the seconds until the window ends.
func (t *Throttler) Allow(tenant, app, cat string, write bool) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.lim.Enabled || cat == catNone {
		return true, 0
	}
	reqs, writes := t.lim.ConfigRequests, t.lim.ConfigWrites
	if cat == catDevices {
		reqs, writes = t.lim.DevicesRequests, t.lim.DevicesWrites
	}
	type limit struct {
		key string
		max int
	}
	f := t.lim.TenantFactor
	checks := []limit{{tenant + "|" + app + "|" + cat + "|r", reqs}, {tenant + "|" + cat + "|r", reqs * f}}
	if write {
		checks = append(checks, limit{tenant + "|" + app + "|" + cat + "|w", writes}, limit{tenant + "|" + cat + "|w", writes * f})
	}
	now := t.now()
	wins := make([]*window, len(checks))
	for i, c := range checks {
		w := t.win[c.key]
		if w == nil || now.Sub(w.start) >= t.lim.Window {
			w = &window{start: now}
			t.win[c.key] = w
		}
		wins[i] = w
		if w.n >= c.max {
			return false, max(1, int(math.Ceil(w.start.Add(t.lim.Window).Sub(now).Seconds())))
		}
	}
	for _, w := range wins {
		w.n++
	}
	return true, 0
}
