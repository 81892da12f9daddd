// Package outbound holds what every call to a cloud API shares: one classification of
// errors, the per-tenant limiter that keeps the operator under documented limits, and
// the metrics of outbound calls. internal/intune and internal/ues both build on it, so
// controllers handle "throttled", "forbidden" or "not found" the same way for both clouds.
package outbound

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Kind is what a controller should do about a failed call.
type Kind string

const (
	// NotFound: the object does not exist (HTTP 404).
	NotFound Kind = "NotFound"
	// Unauthorized: the credentials were refused (bad secret, unknown app, expired
	// certificate). Terminal until the credentials change.
	Unauthorized Kind = "Unauthorized"
	// Forbidden: authenticated, but a permission or scope is missing. Terminal until an
	// administrator grants it.
	Forbidden Kind = "Forbidden"
	// Throttled: the service asked to slow down; RetryAfter says for how long.
	Throttled Kind = "Throttled"
	// Conflict: the request conflicts with the object's state (HTTP 409).
	Conflict Kind = "Conflict"
	// Transient: a 5xx, a timeout or a dropped connection; retry with backoff.
	Transient Kind = "Transient"
	// Terminal: the request itself is wrong (validation); retrying it cannot help.
	Terminal Kind = "Terminal"
)

// Error is a classified failure of one outbound call. Its message never carries a
// secret: it is built from the service's error code and message and the operation name.
type Error struct {
	Service    string // "graph", "entra" or "ues"
	Operation  string // e.g. "GetConnector"
	Kind       Kind
	StatusCode int    // 0 when no response arrived
	Code       string // the service's error code, when it gives one
	Message    string // the service's message
	// RetryAfter is the service's Retry-After (Throttled) or the limiter's wait.
	RetryAfter time.Duration
	// Permission is the missing Graph permission or UES scope, when known (Forbidden).
	Permission string
	Err        error // the underlying error, if any (never one that holds a secret)
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Service, e.Operation, e.Kind)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Permission != "" {
		msg += "; missing permission " + e.Permission
	}
	if e.Kind == Throttled && e.RetryAfter > 0 {
		msg += fmt.Sprintf("; retry after %s", e.RetryAfter)
	}
	if e.Err != nil && e.Message == "" {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the classification of err, or "" when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// IsNotFound reports whether err is a classified 404.
func IsNotFound(err error) bool { return KindOf(err) == NotFound }

// IsThrottled reports whether err asks the caller to slow down.
func IsThrottled(err error) bool { return KindOf(err) == Throttled }

// IsTerminal reports whether retrying err without a change (of spec, Secret or
// permissions) cannot succeed.
func IsTerminal(err error) bool {
	switch KindOf(err) {
	case Unauthorized, Forbidden, Terminal:
		return true
	}
	return false
}

// RetryAfterOf returns how long err asks the caller to wait, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// KindForStatus classifies an HTTP status code.
func KindForStatus(status int) Kind {
	switch {
	case status == http.StatusNotFound:
		return NotFound
	case status == http.StatusUnauthorized:
		return Unauthorized
	case status == http.StatusForbidden:
		return Forbidden
	case status == http.StatusTooManyRequests:
		return Throttled
	case status == http.StatusConflict:
		return Conflict
	case status == http.StatusRequestTimeout, status >= 500:
		return Transient
	default:
		return Terminal
	}
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date); def when absent
// or unreadable.
func ParseRetryAfter(v string, now time.Time, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return def
}
