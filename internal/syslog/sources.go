package syslog

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sources counts open connections, in total and per address, and keeps each address's
// token bucket. A bucket outlives the address's last connection, so that reconnecting
// does not refill it.
type sources struct {
	limits Limits
	mu     sync.Mutex
	total  int
	m      map[netip.Addr]*source
}

type source struct {
	conns int
	lim   *rate.Limiter
}

func newSources(l Limits) *sources {
	return &sources{limits: l, m: map[netip.Addr]*source{}}
}

// acquire admits one connection from addr and returns the address's limiter, or false
// when a connection cap is reached.
func (s *sources) acquire(addr netip.Addr) (*rate.Limiter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.m[addr]
	if s.total >= s.limits.MaxConnections || src != nil && src.conns >= s.limits.MaxConnectionsPerSource {
		return nil, false
	}
	if src == nil {
		s.evict()
		src = &source{lim: rate.NewLimiter(rate.Limit(s.limits.MessagesPerSecond), s.limits.Burst)}
		s.m[addr] = src
	}
	src.conns++
	s.total++
	return src.lim, true
}

// release ends one connection from addr admitted by acquire.
func (s *sources) release(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[addr].conns--
	s.total--
}

// evict keeps the map bounded when addresses come and go. Idle addresses whose bucket
// has refilled carry no state and go first; if idle ones are still too many, the rest
// go as well, since a sender with many addresses could otherwise grow the map without
// limit (and is held by MaxConnections anyway).
func (s *sources) evict() {
	limit := 4 * s.limits.MaxConnections
	if len(s.m) < limit {
		return
	}
	now := time.Now()
	for a, src := range s.m {
		if src.conns == 0 && src.lim.TokensAt(now) >= float64(s.limits.Burst) {
			delete(s.m, a)
		}
	}
	if len(s.m) < limit {
		return
	}
	for a, src := range s.m {
		if src.conns == 0 {
			delete(s.m, a)
		}
	}
}
