package intune

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// callInfo travels in the request context from an operation down to the HTTP layer,
// where the limiter, the metrics and the retry budget need to know which operation a
// request belongs to.
type callInfo struct {
	op      string
	limiter *outbound.Limiter
	// deadline ends the time this call may spend waiting (limiter, Retry-After).
	deadline time.Time
	// trace collects what is logged when the call ends.
	trace *callTrace
}

type callKey struct{}

func withCall(ctx context.Context, ci *callInfo) context.Context {
	return context.WithValue(ctx, callKey{}, ci)
}

func callFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	return ci
}

// budget is how long the call may still wait, never negative.
func (ci *callInfo) budget() time.Duration {
	return max(0, time.Until(ci.deadline))
}

// baseTransport trusts the system roots plus cfg.CABundle (corporate TLS inspection,
// the twin), for both Entra ID and Graph.
func baseTransport(cfg Config) (http.RoundTripper, error) {
	if cfg.Transport != nil {
		return cfg.Transport, nil
	}
	t, err := outbound.NewTransport(cfg.CABundle, nil)
	if err != nil {
		return nil, fmt.Errorf("intune: %w", err)
	}
	t.MaxIdleConnsPerHost = 16
	return t, nil
}

// observer sits under kiota's middlewares, so it sees every request that goes on the
// wire, retries included: it records each in the outbound metrics and, for Graph,
// first takes a slot of the tenant's limiter.
type observer struct {
	base    http.RoundTripper
	service string
	// name names a request for the metrics; nil takes the operation from the context.
	name  func(*http.Request) string
	limit bool
}

// entraOperation names Entra ID requests: MSAL's discovery GETs and the token POST.
func entraOperation(req *http.Request) string {
	if req.Method == http.MethodPost {
		return "AcquireToken"
	}
	return "Discovery"
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	started := time.Now()
	ci := callFrom(req.Context())
	op := "unknown"
	switch {
	case o.name != nil:
		op = o.name(req)
	case ci != nil:
		op = ci.op
	}
	if o.limit && ci != nil && ci.limiter != nil {
		wait, err := ci.limiter.Wait(req.Context(), req.Method != http.MethodGet, ci.budget())
		if err == nil && wait > 0 {
			outbound.ObserveLimited(o.service)
			err = &outbound.Error{Service: o.service, Operation: op, Kind: outbound.Throttled, RetryAfter: wait,
				Message: "held back by the operator's per-tenant rate limit"}
		}
		if err != nil {
			// A RoundTripper must close the body even when it sends nothing.
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
	}
	resp, err := o.base.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	outbound.Observe(o.service, op, status, started)
	return resp, err
}
