package intune

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// The client logs its decisions with these keys: service (graph or entra), operation,
// tenant, code (the HTTP status, 0 when none arrived), reason (the classification of a
// failure), retryAfter; call names the Graph operation a token was wanted for. It never
// logs a secret, a token, an assertion, a header, a body or a URL, and messages pass
// through the same redaction as errors.

const (
	entraService        = "entra"
	entraTokenOperation = "AcquireToken"
)

// callTrace gathers, across the requests and retries of one call, what is logged once
// when the call ends.
type callTrace struct {
	tenant string
	mu     sync.Mutex
	// throttles counts the 429s the SDK's retry handler saw; retryAfter is the last
	// one's delay.
	throttles  int
	retryAfter time.Duration
}

func (t *callTrace) throttled(d time.Duration) {
	t.mu.Lock()
	t.throttles++
	t.retryAfter = d
	t.mu.Unlock()
}

func (t *callTrace) seen() (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.throttles, t.retryAfter
}

func (c *client) logger(ctx context.Context, svc, op string) logr.Logger {
	return log.FromContext(ctx, "service", svc, "operation", op, "tenant", c.tenant)
}

// logOutcome logs, once per call, at Info: a throttle (by Graph, Entra ID or the
// operator's limiter) with its Retry-After, even when the SDK's retries absorbed it; a
// failure to get a token with its classification; and a call Graph refused.
func (c *client) logOutcome(ctx context.Context, op string, tr *callTrace, e *outbound.Error) {
	if e != nil && e.Kind == outbound.Throttled {
		// "source" as in mtd_operator_outbound_throttled_total: the service's 429 or our limiter.
		source := "service"
		if e.StatusCode == 0 {
			source = "limiter"
		}
		c.logger(ctx, e.Service, op).Info("call throttled", "code", e.StatusCode,
			"retryAfter", e.RetryAfter.String(), "source", source)
		return
	}
	if n, d := tr.seen(); n > 0 {
		c.logger(ctx, service, op).Info("call throttled; the SDK retried it", "code", 429,
			"retryAfter", d.String(), "source", "service", "retries", n)
	}
	switch {
	case e == nil:
	case e.Service == entraService:
		c.logger(ctx, entraService, entraTokenOperation).Info("Entra token request failed", "call", op,
			"reason", e.Kind, "code", e.StatusCode, "errorCode", e.Code, "message", c.redact(e.Message))
	case e.Kind == outbound.Unauthorized || e.Kind == outbound.Forbidden:
		kv := []any{"reason", e.Kind, "code", e.StatusCode, "errorCode", e.Code, "message", c.redact(e.Message)}
		if e.Permission != "" {
			kv = append(kv, "permission", e.Permission)
		}
		c.logger(ctx, service, op).Info("Graph refused the call", kv...)
	}
}
