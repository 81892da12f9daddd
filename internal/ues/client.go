// Package ues is the client of the BlackBerry UES (Cylance Endpoint Security) API: the
// documented authentication, paging and devices, and the modelled mobile API (mobile
// devices and their risk, mobile alerts, the risk assessment and the Intune integration
// status; see docs/ues-api.md). A real tenant serves only the documented part: callers
// use the modelled methods only where a connector opts in (spec.ues.modelledMobileAPI).
// Errors are classified by internal/outbound and never carry the application secret
// or a token.
package ues

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

const service = "ues"

// Regions are the documented regional API hosts, keyed as MTDConnector's spec.ues.region.
var Regions = map[string]string{
	"NorthAmerica": "https://protectapi.cylance.com",
	"Europe":       "https://protectapi-euc1.cylance.com",
	"Japan":        "https://protectapi-apne1.cylance.com",
	"Australia":    "https://protectapi-au.cylance.com",
	"SouthAmerica": "https://protectapi-sae1.cylance.com",
	"USGovernment": "https://protectapi.us.cylance.com",
}

// DefaultLimit keeps each UES tenant under a conservative rate: the guide says a limit
// exists but its numbers were not retrievable.
var DefaultLimit = outbound.Window{Max: 100, Period: 10 * time.Second}

var defaultLimiters = outbound.NewLimiters(0, DefaultLimit)

// Config is what a client needs.
type Config struct {
	// BaseURL is the API base; empty uses Region.
	BaseURL string
	Region  string
	// TenantID, AppID and AppSecret are the API application's credentials.
	TenantID  string
	AppID     string
	AppSecret string
	// Scopes to request; empty asks for every scope granted to the application.
	Scopes []string
	// CABundle is PEM to trust in addition to the system roots.
	CABundle []byte
	// Proxy chooses a proxy; nil uses the environment (HTTPS_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// Transport replaces the HTTP transport entirely (tests); CABundle and Proxy are
	// then ignored.
	Transport http.RoundTripper
	// Limiters keeps tenants under the rate limit; nil shares a process-wide registry.
	Limiters *outbound.Limiters
	// MaxWait bounds how long a call waits for the limiter before it returns Throttled.
	MaxWait time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Client calls one UES tenant. It is safe for concurrent use.
type Client struct {
	base     string
	cfg      Config
	http     *http.Client
	limiter  *outbound.Limiter
	now      func() time.Time
	maxWait  time.Duration
	tokenMu  sync.Mutex
	token    string
	tokenExp time.Time
}

// New validates cfg and returns a client. It makes no call.
func New(cfg Config) (*Client, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		var ok bool
		if base, ok = Regions[cfg.Region]; !ok {
			return nil, fmt.Errorf("ues: unknown region %q", cfg.Region)
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ues: base URL %q is not an absolute https URL", base)
	}
	if cfg.TenantID == "" || cfg.AppID == "" || cfg.AppSecret == "" {
		return nil, errors.New("ues: tenant id, application id and application secret are all required")
	}
	rt := cfg.Transport
	if rt == nil {
		t, err := outbound.NewTransport(cfg.CABundle, cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("ues: %w", err)
		}
		rt = t
	}
	limiters := cfg.Limiters
	if limiters == nil {
		limiters = defaultLimiters
	}
	c := &Client{
		base:    base,
		cfg:     cfg,
		http:    &http.Client{Transport: rt, Timeout: 60 * time.Second},
		limiter: limiters.For(base + "|" + cfg.TenantID),
		now:     cfg.Now,
		maxWait: cfg.MaxWait,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxWait <= 0 {
		c.maxWait = 2 * time.Second
	}
	return c, nil
}

// BaseURL is the API base the client calls.
func (c *Client) BaseURL() string { return c.base }

// accessToken returns a cached token, fetching a new one when none is left or it has
// less than five minutes to run (tokens last 30).
func (c *Client) accessToken(ctx context.Context, force bool) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	now := c.now()
	if !force && c.token != "" && !needsRefresh(now, c.tokenExp) {
		return c.token, nil
	}
	assertion, err := buildAssertion(c.cfg.AppID, c.cfg.TenantID, c.cfg.AppSecret, c.cfg.Scopes, now, maxAssertionSpan)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"auth_token": assertion})
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.roundTrip(ctx, "Authenticate", http.MethodPost, "/auth/v2/token", nil, body, "", &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", &outbound.Error{Service: service, Operation: "Authenticate", Kind: outbound.Terminal, StatusCode: http.StatusOK, Message: "the token endpoint answered without an access_token"}
	}
	c.token = out.AccessToken
	c.tokenExp = tokenExpiry(out.AccessToken, now.Add(tokenLifetime))
	return c.token, nil
}

// refreshMargin is how long before expiry a token is replaced, so that a call never
// starts with a token that runs out on the way.
const refreshMargin = 5 * time.Minute

func needsRefresh(now, exp time.Time) bool { return !now.Before(exp.Add(-refreshMargin)) }

// call makes an authenticated call, re-authenticating once when the token is refused
// (revoked, or expired early).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body []byte, out any) error {
	token, err := c.accessToken(ctx, false)
	if err != nil {
		return err
	}
	err = c.roundTrip(ctx, op, method, path, query, body, token, out)
	if outbound.KindOf(err) != outbound.Unauthorized {
		return err
	}
	if token, err = c.accessToken(ctx, true); err != nil {
		return err
	}
	return c.roundTrip(ctx, op, method, path, query, body, token, out)
}

// roundTrip sends one request through the limiter, retrying idempotent reads twice on
// transient failures, and classifies the outcome.
func (c *Client) roundTrip(ctx context.Context, op, method, path string, query url.Values, body []byte, token string, out any) error {
	attempts := 1
	if method == http.MethodGet {
		attempts = 3
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(time.Duration(i*i) * 200 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		err = c.once(ctx, op, method, path, query, body, token, out)
		if outbound.KindOf(err) != outbound.Transient {
			return err
		}
	}
	return err
}

func (c *Client) once(ctx context.Context, op, method, path string, query url.Values, body []byte, token string, out any) error {
	wait, err := c.limiter.Wait(ctx, method != http.MethodGet, c.maxWait)
	if err != nil {
		return err
	}
	if wait > 0 {
		outbound.ObserveLimited(service)
		return &outbound.Error{Service: service, Operation: op, Kind: outbound.Throttled, RetryAfter: wait, Message: "held back by the operator's per-tenant rate limit"}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rdr)
	if err != nil {
		return &outbound.Error{Service: service, Operation: op, Kind: outbound.Terminal, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	started := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		outbound.Observe(service, op, 0, started)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The transport's error names the URL and the cause, never headers or bodies.
		return &outbound.Error{Service: service, Operation: op, Kind: outbound.Transient, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	outbound.Observe(service, op, resp.StatusCode, started)
	if err != nil {
		return &outbound.Error{Service: service, Operation: op, Kind: outbound.Transient, StatusCode: resp.StatusCode, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &outbound.Error{Service: service, Operation: op, Kind: outbound.Terminal, StatusCode: resp.StatusCode, Message: "unreadable response: " + err.Error()}
		}
		return nil
	}
	return classify(op, resp, data, c.now())
}

// classify turns an error response into an *outbound.Error.
func classify(op string, resp *http.Response, data []byte, now time.Time) error {
	e := &outbound.Error{Service: service, Operation: op, Kind: outbound.KindForStatus(resp.StatusCode), StatusCode: resp.StatusCode}
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Message = body.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	switch e.Kind {
	case outbound.Throttled:
		e.RetryAfter = outbound.ParseRetryAfter(resp.Header.Get("Retry-After"), now, 30*time.Second)
	case outbound.Forbidden:
		e.Permission = scopeFor(op)
	}
	return e
}

// scopeFor names the UES scope an operation needs, so a 403 says what to grant.
func scopeFor(op string) string {
	switch op {
	case "ListDevices":
		return "device:list"
	case "GetDevice":
		return "device:read"
	case "ListMobileDevices":
		return "mobiledevice:list"
	case "GetMobileDevice":
		return "mobiledevice:read"
	case "ListAlerts", "GetAlert":
		return "mobilealert:list"
	case "IgnoreAlert":
		return "mobilealert:update"
	case "GetRiskAssessment":
		return "mobilepolicy:read"
	case "PutRiskAssessment":
		return "mobilepolicy:update"
	case "GetIntuneIntegration":
		return "integration:read"
	}
	return ""
}

// pages walks a paged listing lazily, one page per call.
func pages[T any](ctx context.Context, c *Client, op, path string, query url.Values, pageSize int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page_size", strconv.Itoa(pageSize))
		for page := 1; ; page++ {
			q.Set("page", strconv.Itoa(page))
			var p Page[T]
			if err := c.call(ctx, op, http.MethodGet, path, q, nil, &p); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.PageItems {
				if !yield(item, nil) {
					return
				}
			}
			if page >= p.TotalPages || len(p.PageItems) == 0 {
				return
			}
		}
	}
}

// Devices lists every device (documented /devices/v2), 1000 per page.
func (c *Client) Devices(ctx context.Context) iter.Seq2[Device, error] {
	return pages[Device](ctx, c, "ListDevices", "/devices/v2", nil, 1000)
}

// Probe proves the API application works with the documented surface alone: the
// token call (cached for 25 of its 30 minutes) and one cheap documented read, the
// first page of /devices/v2 with page_size=1. It returns the tenant's device count.
func (c *Client) Probe(ctx context.Context) (int, error) {
	var p Page[Device]
	q := url.Values{"page": {"1"}, "page_size": {"1"}}
	if err := c.call(ctx, "ListDevices", http.MethodGet, "/devices/v2", q, nil, &p); err != nil {
		return 0, err
	}
	return p.TotalNumberOfItems, nil
}

// Device reads one device (documented).
func (c *Client) Device(ctx context.Context, id string) (*Device, error) {
	var d Device
	return &d, c.call(ctx, "GetDevice", http.MethodGet, "/devices/v2/"+url.PathEscape(id), nil, nil, &d)
}

// MobileDevices lists mobile devices with their overall risk (modelled); riskLevel
// filters when not empty.
func (c *Client) MobileDevices(ctx context.Context, riskLevel string) iter.Seq2[MobileDevice, error] {
	q := url.Values{}
	if riskLevel != "" {
		q.Set("risk_level", riskLevel)
	}
	return pages[MobileDevice](ctx, c, "ListMobileDevices", "/mobiledevices/v1", q, 1000)
}

// MobileDevice reads one mobile device (modelled).
func (c *Client) MobileDevice(ctx context.Context, id string) (*MobileDevice, error) {
	var d MobileDevice
	return &d, c.call(ctx, "GetMobileDevice", http.MethodGet, "/mobiledevices/v1/"+url.PathEscape(id), nil, nil, &d)
}

// AlertQuery selects mobile alerts.
type AlertQuery struct {
	// ModifiedSince is inclusive: alerts modified at or after it (a cursor).
	ModifiedSince time.Time
	// ModifiedBefore is exclusive; zero means no bound.
	ModifiedBefore time.Time
	// Statuses filters by status; empty means all.
	Statuses []string
	DeviceID string
}

// Alerts lists mobile alerts oldest modification first (modelled), 200 per page.
func (c *Client) Alerts(ctx context.Context, q AlertQuery) iter.Seq2[Alert, error] {
	v := url.Values{}
	if !q.ModifiedSince.IsZero() {
		v.Set("start_time", q.ModifiedSince.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if !q.ModifiedBefore.IsZero() {
		v.Set("end_time", q.ModifiedBefore.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if len(q.Statuses) > 0 {
		v.Set("status", strings.Join(q.Statuses, ","))
	}
	if q.DeviceID != "" {
		v.Set("device_id", q.DeviceID)
	}
	return pages[Alert](ctx, c, "ListAlerts", "/mobilealerts/v1", v, 200)
}

// Alert reads one alert (modelled).
func (c *Client) Alert(ctx context.Context, id string) (*Alert, error) {
	var a Alert
	return &a, c.call(ctx, "GetAlert", http.MethodGet, "/mobilealerts/v1/"+url.PathEscape(id), nil, nil, &a)
}

// IgnoreAlert ignores an active alert (modelled); a not-active alert is a Conflict.
func (c *Client) IgnoreAlert(ctx context.Context, id string) (*Alert, error) {
	var a Alert
	return &a, c.call(ctx, "IgnoreAlert", http.MethodPost, "/mobilealerts/v1/"+url.PathEscape(id)+"/ignore", nil, []byte("{}"), &a)
}

// RiskAssessment reads the tenant's detection type → risk mapping (modelled).
func (c *Client) RiskAssessment(ctx context.Context) (*RiskAssessment, error) {
	var r RiskAssessment
	return &r, c.call(ctx, "GetRiskAssessment", http.MethodGet, "/mobilepolicies/v1/riskassessment", nil, nil, &r)
}

// PutRiskAssessment replaces the mapping (modelled).
func (c *Client) PutRiskAssessment(ctx context.Context, detections map[string]string) (*RiskAssessment, error) {
	body, err := json.Marshal(map[string]any{"detections": detections})
	if err != nil {
		return nil, err
	}
	var r RiskAssessment
	return &r, c.call(ctx, "PutRiskAssessment", http.MethodPut, "/mobilepolicies/v1/riskassessment", nil, body, &r)
}

// IntuneIntegration reads UES's Intune integration status (modelled).
func (c *Client) IntuneIntegration(ctx context.Context) (*IntegrationStatus, error) {
	var s IntegrationStatus
	return &s, c.call(ctx, "GetIntuneIntegration", http.MethodGet, "/integrations/v1/intune", nil, nil, &s)
}
