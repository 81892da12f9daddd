package outbound

import (
	"context"
	"sync"
	"time"
)

// Window is a documented limit: at most Max calls in any Period, counting only writes
// when WritesOnly is set (Intune limits writes and all requests separately).
type Window struct {
	Max        int
	Period     time.Duration
	WritesOnly bool
}

// Limiter keeps one key (a tenant and service) under a set of sliding-window limits. A
// sliding window that allows at most Max calls in any Period also respects every fixed
// window the service may count in, and unlike a token bucket it reaches the documented
// rate exactly: 300 writes at 100 per 20 s take 40 s, not more.
//
// Acquire never blocks longer than the caller's bound: a longer wait comes back as a
// Throttled error with RetryAfter, so a reconcile returns and requeues instead of holding
// a worker.
type Limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	windows []window
}

type window struct {
	Window
	stamps []time.Time // ring buffer of the last Max call times
	next   int
}

// NewLimiter builds a limiter for the given windows, each lengthened by margin. The
// margin absorbs the latency between a call leaving here and the service counting it:
// calls spaced by a full window here may arrive closer together there. Spending the
// safety margin on time rather than on the count keeps a burst near the documented
// rate (300 writes at 100 per 20 s + 1 s take 42 s; at 90 per 20 s they would take 60).
func NewLimiter(margin time.Duration, limits ...Window) *Limiter {
	l := &Limiter{now: time.Now}
	for _, w := range limits {
		n := max(w.Max, 1)
		l.windows = append(l.windows, window{Window: Window{Max: n, Period: w.Period + margin, WritesOnly: w.WritesOnly}, stamps: make([]time.Time, n)})
	}
	return l
}

// reserve takes a slot at the earliest time all windows allow and returns that time.
func (l *Limiter) reserve(write bool, maxWait time.Duration) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	at := now
	for i := range l.windows {
		w := &l.windows[i]
		if w.WritesOnly && !write {
			continue
		}
		// The oldest of the last Max calls must have left the window.
		if oldest := w.stamps[w.next]; !oldest.IsZero() {
			if free := oldest.Add(w.Period); free.After(at) {
				at = free
			}
		}
	}
	if at.Sub(now) > maxWait {
		return at, false
	}
	for i := range l.windows {
		w := &l.windows[i]
		if w.WritesOnly && !write {
			continue
		}
		w.stamps[w.next] = at
		w.next = (w.next + 1) % len(w.stamps)
	}
	return at, true
}

// Wait takes a slot, sleeping until it is due when that is within maxWait; otherwise it
// takes nothing and returns how long the caller should wait before trying again.
func (l *Limiter) Wait(ctx context.Context, write bool, maxWait time.Duration) (retryAfter time.Duration, err error) {
	at, ok := l.reserve(write, maxWait)
	if !ok {
		return at.Sub(l.now()), nil
	}
	d := at.Sub(l.now())
	if d <= 0 {
		return 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Limiters hands out one Limiter per key, made on first use.
type Limiters struct {
	mu     sync.Mutex
	margin time.Duration
	limits []Window
	byKey  map[string]*Limiter
}

// NewLimiters makes a registry whose limiters all enforce limits (see NewLimiter).
func NewLimiters(margin time.Duration, limits ...Window) *Limiters {
	return &Limiters{margin: margin, limits: limits, byKey: map[string]*Limiter{}}
}

// For returns the limiter of key.
func (r *Limiters) For(key string) *Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.byKey[key]
	if !ok {
		l = NewLimiter(r.margin, r.limits...)
		r.byKey[key] = l
	}
	return l
}
