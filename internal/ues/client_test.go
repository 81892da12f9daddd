package ues_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtest"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

var (
	twin  *sim.Server
	env   map[string]string
	admin *simclient.Client
	ca    []byte
)

func TestMain(m *testing.M) {
	// Most tests here exercise the modelled mobile API, so this twin serves it; the
	// documented-only twin of TestProbeUsesTheDocumentedSurfaceOnly is a real tenant's shape.
	t, err := simtest.Start(context.Background(), sim.Options{ModelledUES: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	twin, env, admin, ca = t.Server, t.Env, t.Admin, t.CA
	code := m.Run()
	twin.Close()
	os.Exit(code)
}

// newClient builds a client for the twin's UES tenant with its own limiter registry, so
// tests do not share rate budgets.
func newClient(t *testing.T, mod func(*ues.Config)) ues.Client {
	t.Helper()
	cfg := ues.Config{
		BaseURL:   env[sim.EnvUESURL],
		TenantID:  env[sim.EnvUESTenantID],
		AppID:     env[sim.EnvUESAppID],
		AppSecret: env[sim.EnvUESAppSecret],
		CABundle:  ca,
		Limiters:  outbound.NewLimiters(0, ues.DefaultLimit),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := ues.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tenant() string { return env[sim.EnvTenantID] }

// fresh resets the twin's world, faults and counters between tests.
func fresh(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := admin.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.ResetCalls(ctx); err != nil {
		t.Fatal(err)
	}
}

func enrol(t *testing.T, n int, platform string) []adminapi.DeviceView {
	t.Helper()
	u, err := admin.CreateUser(context.Background(), tenant(), adminapi.User{UserPrincipalName: fmt.Sprintf("user%d@contoso.example", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	created, err := admin.CreateDevices(context.Background(), tenant(), adminapi.Device{
		DeviceName: "phone", Platform: platform, OSVersion: "14", UserID: u.ID, Count: n,
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Count != n {
		t.Fatalf("enrolled %d devices, want %d", created.Count, n)
	}
	return created.Devices
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ues.Config
		want string
	}{
		{"unknown region", ues.Config{Region: "Mars", TenantID: "t", AppID: "a", AppSecret: "s"}, `unknown region "Mars"`},
		{"http base", ues.Config{BaseURL: "http://ues.example", TenantID: "t", AppID: "a", AppSecret: "s"}, "not an absolute https URL"},
		{"no secret", ues.Config{Region: "Europe", TenantID: "t", AppID: "a"}, "are all required"},
		{"bad CA", ues.Config{Region: "Europe", TenantID: "t", AppID: "a", AppSecret: "s", CABundle: []byte("nope")}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ues.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := ues.New(ues.Config{Region: "Japan", TenantID: "t", AppID: "a", AppSecret: "s"})
	if err != nil || c.BaseURL() != "https://protectapi-apne1.cylance.com" {
		t.Fatalf("region Japan = %v, %v", c, err)
	}
}

func TestPagingAndTokenReuse(t *testing.T) {
	fresh(t)
	enrol(t, 2500, "Android")
	c := newClient(t, nil)
	ctx := context.Background()

	devs := collect(t, c.MobileDevices(ctx, ""))
	if len(devs) != 2500 {
		t.Fatalf("listed %d mobile devices, want 2500", len(devs))
	}
	seen := map[string]bool{}
	for _, d := range devs {
		if seen[d.DeviceID] {
			t.Fatalf("device %s listed twice", d.DeviceID)
		}
		seen[d.DeviceID] = true
		if d.RiskLevel != "secured" || d.EntraDeviceID == "" {
			t.Fatalf("device %+v: want secured with an Entra id", d)
		}
	}
	plain := collect(t, c.Devices(ctx))
	if len(plain) != 2500 {
		t.Fatalf("listed %d devices, want 2500", len(plain))
	}
	// 1000 per page: 3 pages each; one token for all six calls.
	if got := testkit.Calls(t, admin, "GET /ues/mobiledevices/v1"); got != 3 {
		t.Errorf("mobile device pages = %d, want 3", got)
	}
	if got := testkit.Calls(t, admin, "GET /ues/devices/v2"); got != 3 {
		t.Errorf("device pages = %d, want 3", got)
	}
	if got := testkit.Calls(t, admin, "POST /ues/auth/v2/token"); got != 1 {
		t.Errorf("token requests = %d, want 1 (cached)", got)
	}
	d, err := c.MobileDevice(ctx, devs[0].DeviceID)
	if err != nil || d.DeviceID != devs[0].DeviceID {
		t.Fatalf("MobileDevice = %+v, %v", d, err)
	}
}

// TestProbeUsesTheDocumentedSurfaceOnly runs the connector's reachability check against
// a twin that, like a real UES tenant, serves no modelled route: it must succeed with
// the token call and one page of /devices/v2, and the modelled calls must fail as they
// would against a real tenant.
func TestProbeUsesTheDocumentedSurfaceOnly(t *testing.T) {
	ctx := context.Background()
	real, err := simtest.Start(ctx, sim.Options{SeedDemo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	c, err := ues.New(ues.Config{BaseURL: real.Env[sim.EnvUESURL], TenantID: real.Env[sim.EnvUESTenantID],
		AppID: real.Env[sim.EnvUESAppID], AppSecret: real.Env[sim.EnvUESAppSecret], CABundle: real.CA,
		Limiters: outbound.NewLimiters(0, ues.DefaultLimit)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("Probe counted %d devices, want the demo world's 10", n)
	}
	cs, err := real.Admin.Calls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs["POST /ues/auth/v2/token"].Calls != 1 || cs["GET /ues/devices/v2"].Calls != 1 {
		t.Fatalf("Probe made %+v, want one token call and one device page", cs)
	}
	if _, err := c.IntuneIntegration(ctx); outbound.KindOf(err) != outbound.NotFound {
		t.Fatalf("the modelled integration route on a documented-only tenant: %v, want NotFound", err)
	}
}

func TestTokenRefreshedAfterRevocation(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	ctx := context.Background()
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatal(err)
	}
	// A revoked token is answered 401; the client re-authenticates once, transparently.
	if err := admin.RevokeTokens(ctx, tenant(), "ues"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if got := testkit.Calls(t, admin, "POST /ues/auth/v2/token"); got != 2 {
		t.Fatalf("token requests = %d, want 2", got)
	}
	if got := testkit.Calls(t, admin, "GET /ues/integrations/v1/intune"); got != 3 {
		t.Fatalf("integration reads = %d, want 3 (one refused, one retried)", got)
	}
}

func TestWrongSecretIsUnauthorizedAndSecretFree(t *testing.T) {
	fresh(t)
	const secret = "not-the-secret-3f9a"
	c := newClient(t, func(cfg *ues.Config) { cfg.AppSecret = secret })
	_, err := c.IntuneIntegration(context.Background())
	if outbound.KindOf(err) != outbound.Unauthorized {
		t.Fatalf("err = %v, want Unauthorized", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
	if !outbound.IsTerminal(err) {
		t.Fatal("bad credentials must be terminal")
	}
}

func TestMissingScopeIsForbiddenNamingIt(t *testing.T) {
	fresh(t)
	app, err := admin.CreateUESApp(context.Background(), tenant(), adminapi.UESApp{Name: "devices only", Scopes: []string{"device:list"}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, func(cfg *ues.Config) { cfg.AppID, cfg.AppSecret = app.ID, app.Secret })
	for _, err := range c.MobileDevices(context.Background(), "") {
		var e *outbound.Error
		if outbound.KindOf(err) != outbound.Forbidden || !asError(err, &e) || e.Permission != "mobiledevice:list" {
			t.Fatalf("err = %v, want Forbidden naming mobiledevice:list", err)
		}
	}
	if _, err := collectErr(c.Devices(context.Background())); err != nil {
		t.Fatalf("the granted scope must work: %v", err)
	}
}

// TestEveryScopeIsTheTwins calls every operation with an application that holds none
// of their scopes: the scope the client names in each Forbidden is the one the twin's
// 403 says the route needs.
func TestEveryScopeIsTheTwins(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	app, err := admin.CreateUESApp(ctx, tenant(), adminapi.UESApp{Name: "zones only", Scopes: []string{"zone:list"}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, func(cfg *ues.Config) { cfg.AppID, cfg.AppSecret = app.ID, app.Secret })
	first := func(seq func(func(ues.Alert, error) bool)) error { _, err := collectErr(seq); return err }
	seen := map[string]bool{}
	for _, call := range []func() error{
		func() error { _, err := c.Probe(ctx); return err },
		func() error { _, err := collectErr(c.Devices(ctx)); return err },
		func() error { _, err := c.Device(ctx, "d"); return err },
		func() error { _, err := collectErr(c.MobileDevices(ctx, "")); return err },
		func() error { _, err := c.MobileDevice(ctx, "d"); return err },
		func() error { return first(c.Alerts(ctx, ues.AlertQuery{})) },
		func() error { _, err := c.Alert(ctx, "a"); return err },
		func() error { _, err := c.IgnoreAlert(ctx, "a"); return err },
		func() error { _, err := c.RiskAssessment(ctx); return err },
		func() error { _, err := c.PutRiskAssessment(ctx, map[string]string{"unsafeWifi": "low"}); return err },
		func() error { _, err := c.IntuneIntegration(ctx); return err },
	} {
		var e *outbound.Error
		if err := call(); !asError(err, &e) || e.Kind != outbound.Forbidden || e.Permission == "" {
			t.Errorf("err = %v, want Forbidden naming a scope", err)
			continue
		}
		if !strings.Contains(e.Message, "scope "+e.Permission+".") {
			t.Errorf("%s names scope %s; the twin says %q", e.Operation, e.Permission, e.Message)
		}
		seen[e.Operation] = true
	}
	if len(seen) != 10 {
		t.Errorf("operations refused: %v, want the 10 that need a scope", seen)
	}
}

func TestThrottlingSurfacesRetryAfter(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	if _, err := admin.AddFault(ctx, adminapi.Fault{Route: "GET /ues/integrations/v1/intune", Status: 429, RetryAfter: 7, Count: 1}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nil)
	start := time.Now()
	_, err := c.IntuneIntegration(ctx)
	if !outbound.IsThrottled(err) || outbound.RetryAfterOf(err) != 7*time.Second {
		t.Fatalf("err = %v, want Throttled with Retry-After 7s", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("a throttled call must return, not sleep out the Retry-After")
	}
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

func TestTransientFailuresAreRetriedForReads(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	for _, f := range []adminapi.Fault{
		{Route: "GET /ues/integrations/v1/intune", Status: 503, Count: 1},
		{Route: "GET /ues/integrations/v1/intune", Drop: true, Count: 1},
	} {
		if _, err := admin.AddFault(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, nil)
	if _, err := c.IntuneIntegration(ctx); err != nil {
		t.Fatalf("a 503 and a dropped connection must be retried: %v", err)
	}
	// Three failures in a row exhaust the retries and come back Transient.
	if _, err := admin.AddFault(ctx, adminapi.Fault{Route: "GET /ues/integrations/v1/intune", Status: 500, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IntuneIntegration(ctx); outbound.KindOf(err) != outbound.Transient {
		t.Fatalf("err = %v, want Transient", err)
	}
}

func TestAlertsIncrementalIgnoreAndConflict(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	dev := enrol(t, 1, "iOS")[0]
	if err := admin.SetRiskAssessment(ctx, tenant(), map[string]world.Risk{"maliciousApplication": "high"}); err != nil {
		t.Fatal(err)
	}
	alert, err := admin.Detect(ctx, tenant(), dev.EntraID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.evil.app"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nil)
	got := collect(t, c.Alerts(ctx, ues.AlertQuery{Statuses: []string{ues.AlertActive}}))
	if len(got) != 1 || got[0].AlertType != "maliciousApplication" || got[0].RiskLevel != "high" || got[0].Detail != "com.evil.app" {
		t.Fatalf("active alerts = %+v", got)
	}
	cursor := got[0].ModifiedTime.Time
	md, err := c.MobileDevice(ctx, got[0].DeviceID)
	if err != nil || md.RiskLevel != "high" {
		t.Fatalf("device risk = %+v, %v; want high", md, err)
	}

	ignored, err := c.IgnoreAlert(ctx, alert.ID)
	if err != nil || ignored.Status != ues.AlertIgnored {
		t.Fatalf("IgnoreAlert = %+v, %v", ignored, err)
	}
	if _, err := c.IgnoreAlert(ctx, alert.ID); outbound.KindOf(err) != outbound.Conflict {
		t.Fatalf("ignoring twice = %v, want Conflict", err)
	}
	changed := collect(t, c.Alerts(ctx, ues.AlertQuery{ModifiedSince: cursor}))
	if len(changed) != 1 || changed[0].Status != ues.AlertIgnored || !changed[0].ModifiedTime.After(cursor) && !changed[0].ModifiedTime.Equal(cursor) {
		t.Fatalf("changed since cursor = %+v", changed)
	}
	if md, _ := c.MobileDevice(ctx, got[0].DeviceID); md.RiskLevel != "secured" {
		t.Fatalf("after ignore the device risk = %s, want secured", md.RiskLevel)
	}
	if _, err := c.Alert(ctx, "00000000-0000-0000-0000-000000000000"); !outbound.IsNotFound(err) {
		t.Fatalf("unknown alert = %v, want NotFound", err)
	}
}

func TestRiskAssessmentRoundTrip(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	c := newClient(t, nil)
	ra, err := c.RiskAssessment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Configured {
		t.Fatalf("a fresh tenant has no risk assessment (newer product docs), got %+v", ra)
	}
	want := map[string]string{"maliciousApplication": "high", "manInTheMiddle": "high", "unsafeWifi": "medium"}
	if _, err := c.PutRiskAssessment(ctx, want); err != nil {
		t.Fatal(err)
	}
	ra, err = c.RiskAssessment(ctx)
	if err != nil || !ra.Configured || fmt.Sprint(ra.Detections) != fmt.Sprint(want) {
		t.Fatalf("RiskAssessment = %+v, %v", ra, err)
	}
	if _, err := c.PutRiskAssessment(ctx, map[string]string{"maliciousApplication": "extreme"}); outbound.KindOf(err) != outbound.Terminal {
		t.Fatalf("an invalid level = %v, want Terminal", err)
	}
	st, err := c.IntuneIntegration(ctx)
	if err != nil || st.IntuneTenantID != tenant() || !st.RiskAssessmentConfigured {
		t.Fatalf("IntuneIntegration = %+v, %v", st, err)
	}
	// Counts by risk come with the status: one read for the whole picture.
	dev := enrol(t, 3, "Android")[0]
	if _, err := admin.Detect(ctx, tenant(), dev.EntraID, adminapi.Detection{Type: "unsafeWifi"}); err != nil {
		t.Fatal(err)
	}
	st, err = c.IntuneIntegration(ctx)
	if err != nil || fmt.Sprint(st.DevicesByRisk) != "map[high:0 low:0 medium:1 secured:2]" {
		t.Fatalf("devices by risk = %v, %v", st.DevicesByRisk, err)
	}
}

func TestLimiterHoldsBackWithoutCalling(t *testing.T) {
	fresh(t)
	c := newClient(t, func(cfg *ues.Config) {
		cfg.Limiters = outbound.NewLimiters(0, outbound.Window{Max: 3, Period: time.Hour})
		cfg.MaxWait = 10 * time.Millisecond
	})
	ctx := context.Background()
	// Three slots: one token request and two reads; the third read is held back.
	for i := 0; i < 2; i++ {
		if _, err := c.IntuneIntegration(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.IntuneIntegration(ctx)
	if !outbound.IsThrottled(err) || outbound.RetryAfterOf(err) < 59*time.Minute {
		t.Fatalf("err = %v, want Throttled by the limiter for about an hour", err)
	}
	if got := testkit.Calls(t, admin, "GET /ues/integrations/v1/intune"); got != 2 {
		t.Fatalf("reads that reached the twin = %d, want 2", got)
	}
}

func asError(err error, target **outbound.Error) bool { return errors.As(err, target) }

// collectErr drains a listing and returns the first error.
func collectErr[T any](seq func(func(T, error) bool)) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// TestIDsThatWouldEscapeTheirPathAreRefusedWithoutACall: path escaping lets "." and ".."
// through, so an alert id of ".." would turn an ignore into a POST to another route. Such
// ids, and anything that is not one plain path segment, are refused before any call.
func TestIDsThatWouldEscapeTheirPathAreRefusedWithoutACall(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	ctx := context.Background()
	uesCalls := func() int64 {
		cs, err := admin.Calls(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for route, v := range cs {
			if strings.Contains(route, "/ues/") {
				n += v.Calls
			}
		}
		return n
	}
	start := uesCalls()
	for _, id := range []string{"..", ".", "", "../../devices/v2", "a/b", "a b", "%2e%2e"} {
		if _, err := c.IgnoreAlert(ctx, id); outbound.KindOf(err) != outbound.Terminal {
			t.Errorf("IgnoreAlert(%q) = %v, want a Terminal refusal", id, err)
		}
		if _, err := c.Alert(ctx, id); outbound.KindOf(err) != outbound.Terminal {
			t.Errorf("Alert(%q) = %v, want a Terminal refusal", id, err)
		}
		if _, err := c.Device(ctx, id); outbound.KindOf(err) != outbound.Terminal {
			t.Errorf("Device(%q) = %v, want a Terminal refusal", id, err)
		}
	}
	if n := uesCalls() - start; n != 0 {
		t.Fatalf("refused ids still made %d UES calls", n)
	}
}
