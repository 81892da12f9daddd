package intune_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// TestLogsNameTheCallNeverTheCredentials drives a token fetch, a revoked token, a
// missing permission, a wrong client secret and throttling (absorbed by the SDK's
// retry, then too long to wait) with a logger in the context: each decision is logged
// with the stable keys, and no credential that crossed the wire appears in the output.
func TestLogsNameTheCallNeverTheCredentials(t *testing.T) {
	fresh(t)
	var logs testkit.Logs
	lctx := logs.Context(t)
	base, err := outbound.NewTransport(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &testkit.CredentialRecorder{Base: base}
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
	if l := logs.Find(t, "Entra access token acquired", entra("trigger", "first", "expires", "*")); l != nil && l["level"] != float64(1) {
		t.Errorf("a token acquired is logged at V(1): %v", l)
	}
	logs.Find(t, "Graph refused the access token; renewing the Entra credential", graph("code", "401"))
	logs.Find(t, "Entra access token acquired", entra("trigger", "refused"))
	logs.Find(t, "Graph refused the call", graph("reason", "Forbidden", "code", "403", "permission", "DeviceManagementServiceConfig.Read.All"))
	if l := logs.Find(t, "Entra token request failed", entra("reason", "Unauthorized", "code", "401", "message", "*")); l != nil {
		if l["level"] != float64(0) || !strings.Contains(l["message"].(string), "AADSTS7000215") {
			t.Errorf("a failed token request is logged at Info with Entra ID's code: %v", l)
		}
	}
	logs.Find(t, "retrying a Graph request", graph("code", "429", "attempt", "2", "delay", "1s"))
	logs.Find(t, "call throttled; the SDK retried it", graph("code", "429", "retryAfter", "1s", "retries", "1"))
	logs.Find(t, "call throttled", graph("code", "429", "retryAfter", "30s", "source", "service"))

	rec.Keep(env[sim.EnvClientSecret], a.Secret, wrong)
	if len(rec.Seen()) < 8 {
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
