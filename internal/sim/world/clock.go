package world

import (
	"sync"
	"time"
)

// Clock is the world's notion of "now". It follows the wall clock plus an
// offset, so tests can jump days ahead ("unresponsive for 7 days") without
// waiting, while the world still moves forward on its own between calls.
// Token lifetimes deliberately do not use it: clients cache tokens by wall
// time and would otherwise be locked out after a jump.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	wall   func() time.Time
}

// NewClock returns a clock that starts at wall time.
func NewClock() *Clock { return &Clock{wall: time.Now} }

// Now returns the world time, truncated to milliseconds as Graph renders it.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall().Add(c.offset).UTC().Truncate(time.Millisecond)
}

// Advance moves the world forward (or backward, for a negative d).
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	return c.Now()
}

// Set makes Now() return t at this instant.
func (c *Clock) Set(t time.Time) time.Time {
	c.mu.Lock()
	c.offset = t.Sub(c.wall())
	c.mu.Unlock()
	return c.Now()
}

// Reset puts the clock back on wall time.
func (c *Clock) Reset() {
	c.mu.Lock()
	c.offset = 0
	c.mu.Unlock()
}
