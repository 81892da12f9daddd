package syslog

// Observer is told what happens to frames and connections, for per-connector metrics
// (the caller wraps Prometheus). Its methods are called from many goroutines at once
// and must not block. Every frame is Received and then either Parsed or Dropped, so
// Received = Parsed + the frame drops; connection drops (source_not_allowed,
// too_many_connections, tls_handshake) come without a Received.
type Observer interface {
	Received()             // a frame arrived
	Parsed()               // a Mobile Alerts event was queued
	Dropped(reason string) // one of DropReasons
}

// Reasons passed to Observer.Dropped.
const (
	ReasonOversized          = "oversized"            // frame over MaxMessageBytes, discarded unread
	ReasonMalformed          = "malformed"            // not RFC 5424, ambiguous pairs, bad length, or cut off
	ReasonNotAnAlert         = "not_an_alert"         // well-formed, but no Alert Id or Alert Name
	ReasonRateLimited        = "rate_limited"         // over the source's MessagesPerSecond
	ReasonQueueFull          = "queue_full"           // the consumer is behind by QueueSize events
	ReasonSourceNotAllowed   = "source_not_allowed"   // connection from outside AllowedSources
	ReasonTooManyConnections = "too_many_connections" // connection over a cap
	ReasonTLSHandshake       = "tls_handshake"        // TLS handshake failed or timed out
)

// DropReasons lists every reason, for metrics to be initialised before the first drop.
var DropReasons = []string{ReasonOversized, ReasonMalformed, ReasonNotAnAlert, ReasonRateLimited,
	ReasonQueueFull, ReasonSourceNotAllowed, ReasonTooManyConnections, ReasonTLSHandshake}

type nopObserver struct{}

func (nopObserver) Received()      {}
func (nopObserver) Parsed()        {}
func (nopObserver) Dropped(string) {}
