package intune

import (
	"net/http"
	"strconv"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// retryDelaySeconds is the kiota retry handler's base back-off when the service gives
// no Retry-After (its minimum: smaller values fall back to its default of 3 s).
const retryDelaySeconds = 1

// graphMiddlewares are msgraph-sdk-go's default middlewares (telemetry, gzip request
// compression, redirects, parameter decoding, user agent, header inspection) with the
// retry handler bounded by the call's wait budget: kiota would otherwise sleep out a
// Retry-After of minutes inside a reconcile. A retry whose delay does not fit the
// budget is not made, and the 429/503 comes back to be classified as Throttled or
// Transient with its Retry-After.
func graphMiddlewares() []khttp.Middleware {
	opts := msgraphsdk.GetDefaultClientOptions()
	mws := msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)
	for i, m := range mws {
		if _, ok := m.(*khttp.RetryHandler); ok {
			mws[i] = khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
				MaxRetries:   3,
				DelaySeconds: retryDelaySeconds,
				ShouldRetry:  retryWithinBudget,
			})
		}
	}
	return mws
}

// retryWithinBudget is kiota's ShouldRetry hook; executionCount is the number of
// retries made so far. Only idempotent methods are retried: a POST (a policy create, a
// device action such as a wipe) or a PATCH is sent once per attempt the caller records,
// and a 429/503/504 comes back to the caller, which decides (and records) a new attempt.
func retryWithinBudget(_ time.Duration, executionCount int, req *http.Request, resp *http.Response) bool {
	ci := callFrom(req.Context())
	if ci == nil || !idempotent(req.Method) {
		return false
	}
	delay := nextRetryDelay(resp, executionCount+1, time.Now())
	tenant := ""
	if ci.trace != nil {
		tenant = ci.trace.tenant
		if resp.StatusCode == http.StatusTooManyRequests {
			ci.trace.throttled(delay)
		}
	}
	if delay > ci.budget() {
		return false
	}
	log.FromContext(req.Context(), "service", service, "operation", ci.op, "tenant", tenant).V(1).Info("retrying a Graph request",
		"method", req.Method, "code", resp.StatusCode, "attempt", executionCount+2, "delay", delay.String())
	return true
}

// idempotent methods may be sent again without a second effect.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// nextRetryDelay is an upper bound of the delay kiota's retry handler will sleep before
// retry number n: the Retry-After header (seconds or an HTTP date), else its
// exponential back-off plus its jitter of up to one second.
func nextRetryDelay(resp *http.Response, n int, now time.Time) time.Duration {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(s) * time.Second
		}
		if t, err := time.Parse(time.RFC1123, v); err == nil {
			return t.Sub(now)
		}
	}
	return time.Duration(retryDelaySeconds<<(n-1))*time.Second + time.Second
}
