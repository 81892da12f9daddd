package ues

import (
	"context"
	"errors"
	"net/url"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// The client logs its decisions with these keys: service, operation, tenant (the UES
// tenant id), code (the HTTP status, 0 when none arrived), reason (the classification
// of a failure), retryAfter. It never logs the application secret, the assertion, a
// token, a header, a body or a URL.

// logger is the context's logger with the keys of one operation.
func (c *client) logger(ctx context.Context, o op) logr.Logger {
	return log.FromContext(ctx, "service", service, "operation", string(o), "tenant", c.cfg.TenantID)
}

// logThrottled logs a call that comes back Throttled, once, at Info; it reports
// whether err was one.
func logThrottled(l logr.Logger, err error) bool {
	var e *outbound.Error
	if !errors.As(err, &e) || e.Kind != outbound.Throttled {
		return false
	}
	// "source" as in mtd_operator_outbound_throttled_total: the service's 429 or our limiter.
	source := "service"
	if e.StatusCode == 0 {
		source = "limiter"
	}
	l.Info("UES call throttled", "code", e.StatusCode, "retryAfter", e.RetryAfter.String(), "source", source)
	return true
}

// logOutcome logs at Info what a controller cannot fix by retrying soon: a throttled
// call, and credentials or scopes UES refused.
func logOutcome(l logr.Logger, err error) {
	if logThrottled(l, err) {
		return
	}
	var e *outbound.Error
	if errors.As(err, &e) && (e.Kind == outbound.Unauthorized || e.Kind == outbound.Forbidden) {
		kv := []any{"reason", e.Kind, "code", e.StatusCode, "message", cause(err)}
		if e.Permission != "" {
			kv = append(kv, "scope", e.Permission)
		}
		l.Info("UES refused the call", kv...)
	}
}

// logTokenFailure logs a failed token request at Info with its classification.
func logTokenFailure(l logr.Logger, err error) {
	if logThrottled(l, err) {
		return
	}
	l.Info("UES token request failed", "reason", reasonOf(err), "code", statusOf(err), "message", cause(err))
}

// reasonOf is the classification of err for the logs.
func reasonOf(err error) string {
	if k := outbound.KindOf(err); k != "" {
		return string(k)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "Cancelled"
	}
	return "Error"
}

// statusOf is err's HTTP status, 0 when none arrived.
func statusOf(err error) int {
	var e *outbound.Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// cause is a loggable account of err: the service's (redacted) message, or the
// transport's cause without the URL.
func cause(err error) string {
	var e *outbound.Error
	if !errors.As(err, &e) {
		return err.Error() // a context error, or a local one: neither holds a secret
	}
	if e.Message != "" || e.Err == nil {
		return e.Message
	}
	var ue *url.Error
	if errors.As(e.Err, &ue) {
		return ue.Err.Error()
	}
	return e.Err.Error()
}
