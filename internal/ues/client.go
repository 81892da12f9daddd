// Package ues is the client of the BlackBerry UES (Cylance Endpoint Security) API: the
// documented authentication, paging and devices, and the modelled mobile API (mobile
// devices and their risk, mobile alerts, the risk assessment and the Intune integration
// status; see docs/ues-api.md). A real tenant serves only the documented part: callers
// use the modelled methods only where a connector opts in (spec.ues.modelledMobileAPI).
//
// As internal/intune does, it shows the rest of the operator a small Client interface
// in plain types; one table (operations.go) says of each operation its route, the scope
// it needs (named in a Forbidden error) and whether it is documented or modelled.
// Errors are classified by internal/outbound and never carry the application secret
// or a token; decisions (tokens, throttling, retries, refusals) are logged through the
// context's logr logger, never with a credential.
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
	"regexp"
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

// Client calls one UES tenant. Implementations are safe for concurrent use.
//
// Each method names its route, the operation (as errors, logs and metrics name it) and
// the scope it needs, and whether BlackBerry documents the route or the project models
// it (docs/ues-api.md). A real tenant serves only the documented routes; the modelled
// ones answer it with an error (NotFound), so callers use them only where a connector
// opts in with spec.ues.modelledMobileAPI. Every error is an *outbound.Error: a 403 names
// the missing scope, a 429 (or the operator's own limiter) is Throttled with its
// Retry-After. No error carries the application secret or a token.
type Client interface {
	// BaseURL is the API base the client calls.
	BaseURL() string

	// Probe proves the API application works with the documented surface alone: the
	// token call (cached for 25 of its 30 minutes) and one cheap documented read, the
	// first page of /devices/v2 with page_size=1. It returns the tenant's device count.
	//
	// Documented: POST /auth/v2/token (Authenticate).
	// Documented: GET /devices/v2 (ListDevices, scope device:list).
	Probe(ctx context.Context) (int, error)
	// Devices lists every device, 1000 per page, one page per step of the iteration.
	//
	// Documented: GET /devices/v2 (ListDevices, scope device:list).
	Devices(ctx context.Context) iter.Seq2[Device, error]
	// Device reads one device.
	//
	// Documented: GET /devices/v2/{id} (GetDevice, scope device:read).
	Device(ctx context.Context, id string) (*Device, error)

	// MobileDevices lists mobile devices with their overall risk, 1000 per page;
	// riskLevel filters when not empty.
	//
	// Modelled: GET /mobiledevices/v1 (ListMobileDevices, scope mobiledevice:list).
	MobileDevices(ctx context.Context, riskLevel string) iter.Seq2[MobileDevice, error]
	// MobileDevice reads one mobile device.
	//
	// Modelled: GET /mobiledevices/v1/{device_id} (GetMobileDevice, scope mobiledevice:read).
	MobileDevice(ctx context.Context, id string) (*MobileDevice, error)
	// Alerts lists mobile alerts oldest modification first, 200 per page.
	//
	// Modelled: GET /mobilealerts/v1 (ListAlerts, scope mobilealert:list).
	Alerts(ctx context.Context, q AlertQuery) iter.Seq2[Alert, error]
	// Alert reads one alert.
	//
	// Modelled: GET /mobilealerts/v1/{alert_id} (GetAlert, scope mobilealert:list).
	Alert(ctx context.Context, id string) (*Alert, error)
	// IgnoreAlert ignores an active alert; a not-active alert is a Conflict. A write:
	// not retried on a transient failure.
	//
	// Modelled: POST /mobilealerts/v1/{alert_id}/ignore (IgnoreAlert, scope mobilealert:update).
	IgnoreAlert(ctx context.Context, id string) (*Alert, error)
	// RiskAssessment reads the tenant's detection type → risk mapping.
	//
	// Modelled: GET /mobilepolicies/v1/riskassessment (GetRiskAssessment, scope mobilepolicy:read).
	RiskAssessment(ctx context.Context) (*RiskAssessment, error)
	// PutRiskAssessment replaces the mapping. A write: not retried on a transient
	// failure.
	//
	// Modelled: PUT /mobilepolicies/v1/riskassessment (PutRiskAssessment, scope mobilepolicy:update).
	PutRiskAssessment(ctx context.Context, detections map[string]string) (*RiskAssessment, error)
	// IntuneIntegration reads UES's Intune integration status.
	//
	// Modelled: GET /integrations/v1/intune (GetIntuneIntegration, scope integration:read).
	IntuneIntegration(ctx context.Context) (*IntegrationStatus, error)
}

// client implements Client over net/http.
type client struct {
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

var _ Client = (*client)(nil)

// New validates cfg and returns a client. It makes no call.
func New(cfg Config) (Client, error) {
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
	c := &client{
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

func (c *client) BaseURL() string { return c.base }

// What made the client fetch a token, as logged ("trigger").
const (
	tokenFirst    = "first"    // none cached yet
	tokenExpiring = "expiring" // the cached one has less than refreshMargin left
	tokenRefused  = "refused"  // the service refused the cached one (revoked, or expired early)
)

// accessToken returns a cached token, fetching a new one when none is left or it has
// less than five minutes to run (tokens last 30), or when force says the service
// refused the cached one. caller is the operation that needs the token (for the logs).
func (c *client) accessToken(ctx context.Context, caller op, force bool) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	now := c.now()
	trigger := tokenRefused
	switch {
	case c.token == "":
		trigger = tokenFirst
	case force:
	case !needsRefresh(now, c.tokenExp):
		return c.token, nil
	default:
		trigger = tokenExpiring
	}
	logger := c.logger(ctx, opAuthenticate).WithValues("call", string(caller), "trigger", trigger)
	assertion, err := buildAssertion(c.cfg.AppID, c.cfg.TenantID, c.cfg.AppSecret, c.cfg.Scopes, now, maxAssertionSpan)
	if err != nil {
		logTokenFailure(logger, err)
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"auth_token": assertion})
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.roundTrip(ctx, opAuthenticate, operations[opAuthenticate].path(), nil, body, "", &out); err != nil {
		logTokenFailure(logger, err)
		return "", err
	}
	if out.AccessToken == "" {
		err := &outbound.Error{Service: service, Operation: string(opAuthenticate), Kind: outbound.Terminal, StatusCode: http.StatusOK, Message: "the token endpoint answered without an access_token"}
		logTokenFailure(logger, err)
		return "", err
	}
	c.token = out.AccessToken
	c.tokenExp = tokenExpiry(out.AccessToken, now.Add(tokenLifetime))
	logger.V(1).Info("UES access token acquired", "expires", c.tokenExp.UTC().Format(time.RFC3339))
	return c.token, nil
}

// refreshMargin is how long before expiry a token is replaced, so that a call never
// starts with a token that runs out on the way.
const refreshMargin = 5 * time.Minute

func needsRefresh(now, exp time.Time) bool { return !now.Before(exp.Add(-refreshMargin)) }

// call makes an authenticated call of operation o to path (its route with the ids
// filled in), re-authenticating once when the token is refused (revoked, or expired
// early).
func (c *client) call(ctx context.Context, o op, path string, query url.Values, body []byte, out any) error {
	token, err := c.accessToken(ctx, o, false)
	if err != nil {
		return err
	}
	err = c.roundTrip(ctx, o, path, query, body, token, out)
	if outbound.KindOf(err) == outbound.Unauthorized {
		c.logger(ctx, o).V(1).Info("UES refused the access token; re-authenticating", "code", http.StatusUnauthorized)
		if token, err = c.accessToken(ctx, o, true); err != nil {
			return err
		}
		err = c.roundTrip(ctx, o, path, query, body, token, out)
	}
	if err != nil {
		logOutcome(c.logger(ctx, o), err)
	}
	return err
}

// roundTrip sends one request through the limiter, retrying idempotent reads twice on
// transient failures, and classifies the outcome.
func (c *client) roundTrip(ctx context.Context, o op, path string, query url.Values, body []byte, token string, out any) error {
	spec := operations[o]
	attempts := 1
	if spec.read() {
		attempts = 3
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			delay := time.Duration(i*i) * 200 * time.Millisecond
			c.logger(ctx, o).V(1).Info("retrying a UES read", "attempt", i+1, "delay", delay.String(),
				"code", statusOf(err), "reason", reasonOf(err))
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		err = c.once(ctx, o, spec, path, query, body, token, out)
		if outbound.KindOf(err) != outbound.Transient {
			return err
		}
	}
	return err
}

func (c *client) once(ctx context.Context, o op, spec opSpec, path string, query url.Values, body []byte, token string, out any) error {
	opName := string(o)
	wait, err := c.limiter.Wait(ctx, !spec.read(), c.maxWait)
	if err != nil {
		return err
	}
	if wait > 0 {
		outbound.ObserveLimited(service)
		return &outbound.Error{Service: service, Operation: opName, Kind: outbound.Throttled, RetryAfter: wait, Message: limiterMessage}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, spec.method, u, rdr)
	if err != nil {
		return &outbound.Error{Service: service, Operation: opName, Kind: outbound.Terminal, Err: err}
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
		outbound.Observe(service, opName, 0, started)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The transport's error names the URL and the cause, never headers or bodies.
		return &outbound.Error{Service: service, Operation: opName, Kind: outbound.Transient, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	outbound.Observe(service, opName, resp.StatusCode, started)
	if err != nil {
		return &outbound.Error{Service: service, Operation: opName, Kind: outbound.Transient, StatusCode: resp.StatusCode, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &outbound.Error{Service: service, Operation: opName, Kind: outbound.Terminal, StatusCode: resp.StatusCode, Message: "unreadable response: " + err.Error()}
		}
		return nil
	}
	return c.classify(o, resp, data)
}

// limiterMessage is the message of a call the operator's own limiter held back.
const limiterMessage = "held back by the operator's per-tenant rate limit"

// classify turns an error response into an *outbound.Error.
func (c *client) classify(o op, resp *http.Response, data []byte) error {
	e := &outbound.Error{Service: service, Operation: string(o), Kind: outbound.KindForStatus(resp.StatusCode), StatusCode: resp.StatusCode}
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Message = c.redact(body.Message)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	switch e.Kind {
	case outbound.Throttled:
		e.RetryAfter = outbound.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now(), 30*time.Second)
	case outbound.Forbidden:
		e.Permission = operations[o].scope
	}
	return e
}

// jwtPattern matches a compact JWS, such as the client assertion or an access token.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// redact removes from a service's message the application secret and anything shaped
// like a token or an assertion, should the service ever echo one.
func (c *client) redact(s string) string {
	if secret := c.cfg.AppSecret; len(secret) >= 4 {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return jwtPattern.ReplaceAllString(s, "[redacted]")
}

// pages walks a paged listing lazily, one page per call.
func pages[T any](ctx context.Context, c *client, o op, query url.Values, pageSize int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page_size", strconv.Itoa(pageSize))
		for page := 1; ; page++ {
			q.Set("page", strconv.Itoa(page))
			var p Page[T]
			if err := c.call(ctx, o, operations[o].path(), q, nil, &p); err != nil {
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

// get reads one object of operation o.
func get[T any](ctx context.Context, c *client, o op, ids ...string) (*T, error) {
	var v T
	if err := validIDs(o, ids); err != nil {
		return &v, err
	}
	return &v, c.call(ctx, o, operations[o].path(ids...), nil, nil, &v)
}

// idPattern is what an id placed in a path may look like: path escaping alone lets "."
// and ".." through, which would walk to another route.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// validIDs refuses, before any call, an id that is not a single plain path segment.
func validIDs(o op, ids []string) error {
	for _, id := range ids {
		if !idPattern.MatchString(id) {
			return &outbound.Error{Service: service, Operation: string(o), Kind: outbound.Terminal, Message: fmt.Sprintf("refusing the id %q: not a plain UES id", truncateID(id))}
		}
	}
	return nil
}

func truncateID(id string) string {
	if len(id) > 64 {
		return id[:64] + "..."
	}
	return id
}

func (c *client) Devices(ctx context.Context) iter.Seq2[Device, error] {
	return pages[Device](ctx, c, opListDevices, nil, 1000)
}

func (c *client) Probe(ctx context.Context) (int, error) {
	var p Page[Device]
	q := url.Values{"page": {"1"}, "page_size": {"1"}}
	if err := c.call(ctx, opListDevices, operations[opListDevices].path(), q, nil, &p); err != nil {
		return 0, err
	}
	return p.TotalNumberOfItems, nil
}

func (c *client) Device(ctx context.Context, id string) (*Device, error) {
	return get[Device](ctx, c, opGetDevice, id)
}

func (c *client) MobileDevices(ctx context.Context, riskLevel string) iter.Seq2[MobileDevice, error] {
	q := url.Values{}
	if riskLevel != "" {
		q.Set("risk_level", riskLevel)
	}
	return pages[MobileDevice](ctx, c, opListMobileDevices, q, 1000)
}

func (c *client) MobileDevice(ctx context.Context, id string) (*MobileDevice, error) {
	return get[MobileDevice](ctx, c, opGetMobileDevice, id)
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

func (c *client) Alerts(ctx context.Context, q AlertQuery) iter.Seq2[Alert, error] {
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
	return pages[Alert](ctx, c, opListAlerts, v, 200)
}

func (c *client) Alert(ctx context.Context, id string) (*Alert, error) {
	return get[Alert](ctx, c, opGetAlert, id)
}

func (c *client) IgnoreAlert(ctx context.Context, id string) (*Alert, error) {
	var a Alert
	if err := validIDs(opIgnoreAlert, []string{id}); err != nil {
		return &a, err
	}
	return &a, c.call(ctx, opIgnoreAlert, operations[opIgnoreAlert].path(id), nil, []byte("{}"), &a)
}

func (c *client) RiskAssessment(ctx context.Context) (*RiskAssessment, error) {
	return get[RiskAssessment](ctx, c, opGetRiskAssessment)
}

func (c *client) PutRiskAssessment(ctx context.Context, detections map[string]string) (*RiskAssessment, error) {
	body, err := json.Marshal(map[string]any{"detections": detections})
	if err != nil {
		return nil, err
	}
	var r RiskAssessment
	return &r, c.call(ctx, opPutRiskAssessment, operations[opPutRiskAssessment].path(), nil, body, &r)
}

func (c *client) IntuneIntegration(ctx context.Context) (*IntegrationStatus, error) {
	return get[IntegrationStatus](ctx, c, opGetIntuneIntegration)
}
