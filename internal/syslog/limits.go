package syslog

import (
	"fmt"
	"time"
)

// Limits caps what one connector's senders can make the listener hold or do. A zero (or
// negative) field takes its default.
type Limits struct {
	// MaxMessageBytes is the largest frame accepted, default 8192 (RFC 5425's upper
	// "MAY support"), at least 480 (RFC 5424's minimum) and at most 1 MiB. A larger
	// frame is discarded without being buffered.
	MaxMessageBytes int
	// MaxConnections caps open connections across all sources, default 64.
	MaxConnections int
	// MaxConnectionsPerSource caps open connections from one address, default 8.
	MaxConnectionsPerSource int
	// MessagesPerSecond is the token-bucket rate per source address, default 100;
	// math.Inf(1) disables it. Frames over it are dropped (the connection is kept).
	MessagesPerSecond float64
	// Burst is the token bucket's size, default 200.
	Burst int
	// IdleTimeout closes a connection that sends nothing for this long, default 2m.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake, default 10s.
	HandshakeTimeout time.Duration
	// QueueSize is how many events wait for the consumer, default 1024.
	QueueSize int
	// QueueWait is how long a connection waits for room in a full queue before its
	// event is dropped, default 2s; negative: not at all. Waiting holds the sender back
	// through TCP instead of losing a legitimate burst (UES sends from few addresses),
	// and never longer than this, so a stalled consumer cannot hold connections for ever.
	QueueWait time.Duration
}

const (
	minMessageBytes = 480
	maxMessageBytes = 1 << 20
)

// withDefaults fills zero fields and rejects a message size outside the sane range.
func (l Limits) withDefaults() (Limits, error) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessageBytes, 8192)
	def(&l.MaxConnections, 64)
	def(&l.MaxConnectionsPerSource, 8)
	def(&l.Burst, 200)
	def(&l.QueueSize, 1024)
	defDur(&l.IdleTimeout, 2*time.Minute)
	defDur(&l.HandshakeTimeout, 10*time.Second)
	if l.QueueWait == 0 {
		l.QueueWait = 2 * time.Second
	}
	if !(l.MessagesPerSecond > 0) {
		l.MessagesPerSecond = 100
	}
	if l.MaxMessageBytes < minMessageBytes || l.MaxMessageBytes > maxMessageBytes {
		return l, fmt.Errorf("syslog: MaxMessageBytes %d outside %d..%d", l.MaxMessageBytes, minMessageBytes, maxMessageBytes)
	}
	return l, nil
}
