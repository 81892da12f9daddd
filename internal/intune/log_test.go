package intune_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/uuid"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// logCapture collects JSON log lines, V(1) included.
type logCapture struct {
	mu    sync.Mutex
	raw   strings.Builder
	lines []map[string]any
}

func (c *logCapture) context(t *testing.T) context.Context {
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

// find insists on a line with msg whose keys hold want ("*": any value), compared as
// text.
func (c *logCapture) find(t *testing.T, msg string, want map[string]string) map[string]any {
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
			b, _ := json.Marshal(got)
			if !ok || (v != "*" && strings.Trim(string(b), `"`) != v) {
				continue next
			}
		}
		return l
	}
	t.Errorf("no log line %q with %v in:\n%s", msg, want, c.raw.String())
	return nil
}

// credRecorder remembers every credential that crosses the wire: the client secret or
// assertion sent to Entra ID, the tokens it returns, the Authorization headers sent to
// Graph.
type credRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	creds []string
}

func (r *credRecorder) keep(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s {
		if len(v) >= 8 {
			r.creds = append(r.creds, v)
		}
	}
}

func (r *credRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	auth := req.Header.Get("Authorization")
	r.keep(auth, strings.TrimPrefix(auth, "Bearer "))
	if req.Body != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			r.keep(form.Get("client_secret"), form.Get("client_assertion"))
		}
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/oauth2/") {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var b struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if json.Unmarshal(body, &b) == nil {
		r.keep(b.AccessToken, b.RefreshToken, b.IDToken)
	}
	return resp, nil
}

// TestLogsNameTheCallNeverTheCredentials drives a token fetch, a revoked token, a
// missing permission, a wrong client secret and throttling (absorbed by the SDK's
// retry, then too long to wait) with a logger in the context: each decision is logged
// with the stable keys, and no credential that crossed the wire appears in the output.
func TestLogsNameTheCallNeverTheCredentials(t *testing.T) {
	fresh(t)
	var logs logCapture
	lctx := logs.context(t)
	base, err := outbound.NewTransport(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &credRecorder{base: base}
	wrong := "wrong-" + uuid.NewString()
	getConnector := func(c intune.Client) error {
		_, err := c.GetConnector(lctx, intune.BlackBerryConnectorID)
		return err
	}

	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	if err := getConnector(c); err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeTokens(ctx, tenant(), "entra"); err != nil {
		t.Fatal(err)
	}
	if err := getConnector(c); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	a := app(t, adminapi.App{Roles: []string{world.RoleConfigRead}})
	limited := newClient(t, func(cfg *intune.Config) {
		cfg.Transport, cfg.ClientID, cfg.Credential = rec, a.ClientID, intune.Credential{ClientSecret: a.Secret}
	})
	asOutbound(t, getConnector(limited), outbound.Forbidden)
	bad := newClient(t, func(cfg *intune.Config) { cfg.Transport, cfg.Credential.ClientSecret = rec, wrong })
	asOutbound(t, getConnector(bad), outbound.Unauthorized)
	fault(t, adminapi.Fault{Route: "GET " + routeConnector, Status: 429, RetryAfter: 1, Count: 1})
	if err := getConnector(c); err != nil {
		t.Fatalf("a short 429 is retried: %v", err)
	}
	fault(t, adminapi.Fault{Route: "GET " + routeConnector, Status: 429, RetryAfter: 30, Count: 1})
	asOutbound(t, getConnector(c), outbound.Throttled)

	graph := func(kv ...string) map[string]string {
		m := map[string]string{"service": "graph", "tenant": tenant(), "operation": "GetConnector"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	entra := func(kv ...string) map[string]string {
		m := graph(kv...)
		m["service"], m["operation"], m["call"] = "entra", "AcquireToken", "GetConnector"
		return m
	}
	if l := logs.find(t, "Entra access token acquired", entra("trigger", "first", "expires", "*")); l != nil && l["level"] != float64(1) {
		t.Errorf("a token acquired is logged at V(1): %v", l)
	}
	logs.find(t, "Graph refused the access token; renewing the Entra credential", graph("code", "401"))
	logs.find(t, "Entra access token acquired", entra("trigger", "refused"))
	logs.find(t, "Graph refused the call", graph("reason", "Forbidden", "code", "403", "permission", "DeviceManagementServiceConfig.Read.All"))
	if l := logs.find(t, "Entra token request failed", entra("reason", "Unauthorized", "code", "401", "message", "*")); l != nil {
		if l["level"] != float64(0) || !strings.Contains(l["message"].(string), "AADSTS7000215") {
			t.Errorf("a failed token request is logged at Info with Entra ID's code: %v", l)
		}
	}
	logs.find(t, "retrying a Graph request", graph("code", "429", "attempt", "2", "delay", "1s"))
	logs.find(t, "call throttled; the SDK retried it", graph("code", "429", "retryAfter", "1s", "retries", "1"))
	logs.find(t, "call throttled", graph("code", "429", "retryAfter", "30s", "by", "graph"))

	rec.keep(env[sim.EnvClientSecret], a.Secret, wrong)
	if len(rec.creds) < 8 {
		t.Fatalf("recorded only %d credentials", len(rec.creds))
	}
	out := logs.raw.String()
	for _, s := range rec.creds {
		if strings.Contains(out, s) {
			t.Errorf("the logs hold a credential (%.12s…):\n%s", s, out)
		}
	}
	if strings.Contains(out, "eyJ") || strings.Contains(out, "Bearer") {
		t.Errorf("the logs hold something token-shaped:\n%s", out)
	}
}
