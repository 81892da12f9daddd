package ues_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// TestLogsNameTheCallNeverTheCredentials drives a token fetch, a refused (revoked)
// token, a missing scope, a wrong secret and a 429 with a logger in the context: each
// decision is logged with the stable keys, and nothing that crossed the wire as a
// credential appears in the output.
func TestLogsNameTheCallNeverTheCredentials(t *testing.T) {
	fresh(t)
	var logs testkit.Logs
	ctx := logs.Context(t)
	base, err := outbound.NewTransport(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &testkit.CredentialRecorder{Base: base}
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
	logs.Find(t, "UES access token acquired", with("operation", "Authenticate", "call", "GetIntuneIntegration", "trigger", "first", "expires", "*"))
	logs.Find(t, "UES refused the access token; re-authenticating", with("operation", "GetIntuneIntegration", "code", "401"))
	logs.Find(t, "UES access token acquired", with("operation", "Authenticate", "trigger", "refused"))
	logs.Find(t, "UES refused the call", with("operation", "GetMobileDevice", "reason", "Forbidden", "code", "403", "scope", "mobiledevice:read"))
	logs.Find(t, "UES token request failed", with("operation", "Authenticate", "call", "ListDevices", "reason", "Unauthorized", "code", "401"))
	logs.Find(t, "UES call throttled", with("operation", "GetIntuneIntegration", "code", "429", "retryAfter", "7s", "source", "service"))
	if l := logs.Find(t, "UES access token acquired", with()); l != nil && l["level"] != float64(1) {
		t.Errorf("a token acquired is logged at V(1), got %v", l)
	}
	if l := logs.Find(t, "UES token request failed", with()); l != nil && l["level"] != float64(0) {
		t.Errorf("a failed token request is logged at Info, got %v", l)
	}

	rec.Keep(env[sim.EnvUESAppSecret], app.Secret, wrong)
	if len(rec.Seen()) < 6 {
		t.Fatalf("recorded only %d credentials", len(rec.Seen()))
	}
	out := logs.Raw()
	for _, s := range rec.Seen() {
		if strings.Contains(out, s) {
			t.Errorf("the logs hold a credential (%.12s…):\n%s", s, out)
		}
	}
	if strings.Contains(out, "eyJ") || strings.Contains(out, "Bearer") {
		t.Errorf("the logs hold something token-shaped:\n%s", out)
	}
}
