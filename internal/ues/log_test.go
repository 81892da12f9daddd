package ues_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// capture collects JSON log lines, V(1) included.
type capture struct {
	mu    sync.Mutex
	raw   strings.Builder
	lines []map[string]any
}

func (c *capture) context(t *testing.T) context.Context {
	l := funcr.NewJSON(func(obj string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.raw.WriteString(obj + "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(obj), &m); err != nil {
			t.Errorf("log line %s: %v", obj, err)
		}
		c.lines = append(c.lines, m)
	}, funcr.Options{Verbosity: 1})
	return log.IntoContext(context.Background(), l)
}

// find returns the first line with msg whose keys hold want (compared as text).
func (c *capture) find(t *testing.T, msg string, want map[string]string) map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
next:
	for _, l := range c.lines {
		if l["msg"] != msg {
			continue
		}
		for k, v := range want {
			got, ok := l[k]
			if !ok || (v != "*" && strings.TrimSuffix(strings.TrimPrefix(mustJSON(got), `"`), `"`) != v) {
				continue next
			}
		}
		return l
	}
	t.Errorf("no log line %q with %v in:\n%s", msg, want, c.raw.String())
	return nil
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// recorder remembers every credential that crossed the wire: assertions and secrets
// sent, Authorization headers, access tokens received.
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	secret []string
}

func (r *recorder) keep(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s {
		if v != "" {
			r.secret = append(r.secret, v)
		}
	}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.keep(req.Header.Get("Authorization"), strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "))
	if req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		var b struct {
			AuthToken string `json:"auth_token"`
		}
		if json.Unmarshal(body, &b) == nil {
			r.keep(b.AuthToken)
		}
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var b struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &b) == nil {
		r.keep(b.AccessToken)
	}
	return resp, nil
}

// TestLogsNameTheCallNeverTheCredentials drives a token fetch, a refused (revoked)
// token, a missing scope, a wrong secret and a 429 with a logger in the context: each
// decision is logged with the stable keys, and nothing that crossed the wire as a
// credential appears in the output.
func TestLogsNameTheCallNeverTheCredentials(t *testing.T) {
	fresh(t)
	var logs capture
	ctx := logs.context(t)
	base, err := outbound.NewTransport(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{base: base}
	uesTenant := env[sim.EnvUESTenantID]
	const wrong = "wrong-ues-secret-5be1"

	// A token, then a call; a revoked token, refused and renewed.
	c := newClient(t, func(cfg *ues.Config) { cfg.Transport = rec })
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeTokens(context.Background(), tenant(), "ues"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatal(err)
	}
	// A scope the application lacks.
	app, err := admin.CreateUESApp(context.Background(), tenant(), adminapi.UESApp{Name: "devices only", Scopes: []string{"device:list"}})
	if err != nil {
		t.Fatal(err)
	}
	limited := newClient(t, func(cfg *ues.Config) { cfg.Transport, cfg.AppID, cfg.AppSecret = rec, app.ID, app.Secret })
	if _, err := limited.MobileDevice(ctx, "d1"); !outbound.IsTerminal(err) {
		t.Fatalf("err = %v, want Forbidden", err)
	}
	// A wrong secret: the token call itself is refused.
	bad := newClient(t, func(cfg *ues.Config) { cfg.Transport, cfg.AppSecret = rec, wrong })
	if _, err := bad.Probe(ctx); outbound.KindOf(err) != outbound.Unauthorized {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
	// A 429 from the service.
	if _, err := admin.AddFault(context.Background(), adminapi.Fault{Route: "GET /ues/integrations/v1/intune", Status: 429, RetryAfter: 7, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IntuneIntegration(ctx); !outbound.IsThrottled(err) {
		t.Fatalf("err = %v, want Throttled", err)
	}

	common := map[string]string{"service": "ues", "tenant": uesTenant}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	logs.find(t, "UES access token acquired", with("operation", "Authenticate", "call", "GetIntuneIntegration", "trigger", "first", "expires", "*"))
	logs.find(t, "UES refused the access token; re-authenticating", with("operation", "GetIntuneIntegration", "code", "401"))
	logs.find(t, "UES access token acquired", with("operation", "Authenticate", "trigger", "refused"))
	logs.find(t, "UES refused the call", with("operation", "GetMobileDevice", "reason", "Forbidden", "code", "403", "scope", "mobiledevice:read"))
	logs.find(t, "UES token request failed", with("operation", "Authenticate", "call", "ListDevices", "reason", "Unauthorized", "code", "401"))
	logs.find(t, "UES call throttled", with("operation", "GetIntuneIntegration", "code", "429", "retryAfter", "7s", "by", "service"))
	if l := logs.find(t, "UES access token acquired", with()); l != nil && l["level"] != float64(1) {
		t.Errorf("a token acquired is logged at V(1), got %v", l)
	}
	if l := logs.find(t, "UES token request failed", with()); l != nil && l["level"] != float64(0) {
		t.Errorf("a failed token request is logged at Info, got %v", l)
	}

	rec.keep(env[sim.EnvUESAppSecret], app.Secret, wrong)
	if len(rec.secret) < 6 {
		t.Fatalf("recorded only %d credentials", len(rec.secret))
	}
	out := logs.raw.String()
	for _, s := range rec.secret {
		if strings.Contains(out, s) {
			t.Errorf("the logs hold a credential (%.12s…):\n%s", s, out)
		}
	}
	if strings.Contains(out, "eyJ") || strings.Contains(out, "Bearer") {
		t.Errorf("the logs hold something token-shaped:\n%s", out)
	}
}
