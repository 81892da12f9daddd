package sim_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

func TestFaults(t *testing.T) {
	tw := start(t, noThrottle)
	route := "GET /v1.0/deviceManagement/managedDevices"

	t.Run("status with count and Retry-After", func(t *testing.T) {
		f := must(tw.admin.AddFault(ctx, adminapi.Fault{Route: route, Status: 503, RetryAfter: 7, Count: 2}))
		for range 2 {
			r := tw.graph("GET", devicesPath, nil)
			expectGraphError(t, r, 503, "Service Unavailable", "Injected fault")
			if r.header.Get("Retry-After") != "7" {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
		}
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
		fs := must(tw.admin.Faults(ctx))
		if len(fs) != 1 || fs[0].ID != f.ID || fs[0].Hits != 2 {
			t.Fatalf("faults %+v", fs)
		}
		must(0, tw.admin.RemoveFault(ctx, f.ID))
	})
	t.Run("429 by method and path prefix, in the service's shape", func(t *testing.T) {
		must(tw.admin.AddFault(ctx, adminapi.Fault{Method: "GET", PathPrefix: "/ues/devices", Status: 429, RetryAfter: 1, Count: 1}))
		r := tw.ues("GET", "/devices/v2", tw.uesToken(""), nil)
		expectStatus(t, r, 429)
		if r.str("message") == "" || r.header.Get("Retry-After") != "1" {
			t.Fatalf("UES fault %s %v", r.raw, r.header)
		}
		calls := must(tw.admin.Calls(ctx))
		if c := calls["GET /ues/devices/v2"]; c.Throttled != 1 || c.Calls != 1 {
			t.Fatalf("calls %+v", c)
		}
	})
	t.Run("rate", func(t *testing.T) {
		must(tw.admin.AddFault(ctx, adminapi.Fault{Route: "GET /v1.0/identity/conditionalAccess/policies", Status: 500, Rate: 0.5}))
		failed := 0
		for range 200 {
			if tw.graph("GET", caPath, nil).status == 500 {
				failed++
			}
		}
		if failed < 60 || failed > 140 {
			t.Fatalf("%d of 200 failed at rate 0.5", failed)
		}
		must(0, tw.admin.ClearFaults(ctx))
	})
	t.Run("latency", func(t *testing.T) {
		must(tw.admin.AddFault(ctx, adminapi.Fault{Route: route, LatencyMS: 150, Count: 1}))
		start := time.Now()
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Fatalf("answered in %v", el)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		// Unlimited: Go's transport transparently retries an idempotent
		// request once on a dropped reused connection.
		f := must(tw.admin.AddFault(ctx, adminapi.Fault{Route: route, Drop: true}))
		req := must(httpRequest("GET", tw.env[sim.EnvGraphURL]+devicesPath, tw.token))
		if res, err := tw.hc.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("dropped request answered %d", res.StatusCode)
		}
		must(0, tw.admin.RemoveFault(ctx, f.ID))
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
	})
	t.Run("token endpoint fault in AAD shape", func(t *testing.T) {
		must(tw.admin.AddFault(ctx, adminapi.Fault{Route: "POST /{tenant}/oauth2/v2.0/token", Status: 400, Code: "invalid_client", Message: "AADSTS7000222: The provided client secret keys are expired.", Count: 1}))
		r := tw.call("POST", tw.env[sim.EnvAuthorityURL]+tw.env[sim.EnvTenantID]+"/oauth2/v2.0/token", "", "grant_type=client_credentials",
			"Content-Type", "application/x-www-form-urlencoded")
		expectStatus(t, r, 400)
		if r.str("error") != "invalid_client" || !strings.Contains(r.str("error_description"), "AADSTS7000222") {
			t.Fatalf("AAD fault %s", r.raw)
		}
	})
	t.Run("invalid faults", func(t *testing.T) {
		var e *simclient.Error
		if _, err := tw.admin.AddFault(ctx, adminapi.Fault{Route: route}); !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("err %v", err)
		}
		if _, err := tw.admin.AddFault(ctx, adminapi.Fault{Status: 42}); !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAdmin(t *testing.T) {
	tw := start(t, noThrottle, func(o *sim.Options) { o.SeedDemo = true })
	tid := tw.env[sim.EnvTenantID]

	t.Run("tenants and bad requests", func(t *testing.T) {
		ts := must(tw.admin.Tenants(ctx))
		if len(ts) != 1 || ts[0].ID != tid || ts[0].Devices != 10 || ts[0].Users != 5 || !ts[0].Onboarded {
			t.Fatalf("tenants %+v", ts)
		}
		nt := must(tw.admin.CreateTenant(ctx, adminapi.Tenant{DisplayName: "Fabrikam"}))
		if nt.Onboarded || nt.UESTenantID == "" {
			t.Fatalf("new tenant %+v", nt)
		}
		if byUES := must(tw.admin.Tenant(ctx, nt.UESTenantID)); byUES.ID != nt.ID {
			t.Fatalf("tenant by UES id %+v", byUES)
		}
		if env := must(tw.admin.Env(ctx)); env[sim.EnvAdminURL] != tw.env[sim.EnvAdminURL] || len(env) != len(sim.EnvKeys) {
			t.Fatalf("env %v", env)
		}
		var e *simclient.Error
		for name, err := range map[string]error{
			"duplicate tenant": second(tw.admin.CreateTenant(ctx, adminapi.Tenant{ID: tid})),
			"unknown tenant":   second(tw.admin.Device(ctx, world.NewID(), "x")),
			"bad platform":     second(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "x", Platform: "Symbian"})),
			"unknown user":     second(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "x", Platform: world.IOS, UserID: "nobody"})),
			"bad detection":    second(tw.admin.Detect(ctx, tid, must(tw.admin.Snapshot(ctx)).Tenants[0].Devices[0].UESID, adminapi.Detection{Type: "ufo"})),
			"bad assessment":   tw.admin.SetRiskAssessment(ctx, tid, map[string]world.Risk{"maliciousApplication": "extreme"}),
			"unknown partner":  tw.admin.Onboard(ctx, tid, world.NewID()),
			"already onboard":  tw.admin.Onboard(ctx, tid, ""),
			"bad state":        tw.admin.SetPartnerState(ctx, tid, "sleepy"),
		} {
			if !errors.As(err, &e) || e.Status < 400 || e.Message == "" {
				t.Errorf("%s: %v", name, err)
			}
		}
		r := tw.call("POST", tw.env[sim.EnvAdminURL]+"/tenants", "", `{"bogus":1}`)
		if r.status != 400 || r.str("error") == "" {
			t.Fatalf("unknown field %d %s", r.status, r.raw)
		}
		expectStatus(t, tw.call("GET", tw.env[sim.EnvAdminURL]+"/nothing", "", nil), 404)
	})
	t.Run("resolve one alert", func(t *testing.T) {
		dev := must(tw.admin.Snapshot(ctx)).Tenants[0].Devices[0]
		a := must(tw.admin.Detect(ctx, tid, dev.IntuneID, adminapi.Detection{Type: "unsafeWifi", Detail: "Free WiFi"}))
		if a.Status != "active" || a.DeviceID != dev.UESID {
			t.Fatalf("alert %+v", a)
		}
		if r := must(tw.admin.ResolveAlert(ctx, tid, a.ID)); r.Status != "resolved" {
			t.Fatalf("resolved %+v", r)
		}
		var e *simclient.Error
		if _, err := tw.admin.ResolveAlert(ctx, tid, a.ID); !errors.As(err, &e) || e.Status != 409 {
			t.Fatalf("second resolve: %v", err)
		}
	})
	t.Run("partner state override reaches Graph", func(t *testing.T) {
		must(0, tw.admin.SetPartnerState(ctx, tid, "notSetUp"))
		if s := tw.graph("GET", bbConnector, nil).str("partnerState"); s != "notSetUp" {
			t.Fatalf("partnerState %s", s)
		}
		must(0, tw.admin.SetPartnerState(ctx, tid, ""))
	})
	t.Run("clock", func(t *testing.T) {
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		now := must(tw.admin.SetClock(ctx, at))
		if now.Sub(at) < 0 || now.Sub(at) > time.Second {
			t.Fatalf("set clock %v", now)
		}
		now = must(tw.admin.Advance(ctx, 48*time.Hour))
		if now.Sub(at) < 48*time.Hour {
			t.Fatalf("advanced clock %v", now)
		}
		if hb := tw.graph("GET", bbConnector, nil).str("lastHeartbeatDateTime"); !strings.HasPrefix(hb, "2030-01-04") {
			t.Fatalf("heartbeat %s not on world time", hb)
		}
	})
	t.Run("group membership", func(t *testing.T) {
		g := must(tw.admin.CreateGroup(ctx, tid, adminapi.Group{DisplayName: "g"}))
		must(0, tw.admin.AddMembers(ctx, tid, g.ID, "u1", "u2"))
		must(0, tw.admin.RemoveMember(ctx, tid, g.ID, "u1"))
		snap := must(tw.admin.Snapshot(ctx))
		for _, sg := range snap.Tenants[0].Groups {
			if sg.ID == g.ID && (len(sg.Members) != 1 || sg.Members[0] != "u2") {
				t.Fatalf("members %v", sg.Members)
			}
		}
	})
	t.Run("calls, snapshot and reset", func(t *testing.T) {
		must(0, tw.admin.ResetCalls(ctx))
		tw.graph("GET", devicesPath, nil)
		tw.graph("GET", devicesPath, nil)
		tw.graph("PATCH", bbConnector, map[string]any{"iosEnabled": true})
		calls := must(tw.admin.Calls(ctx))
		if calls["GET /v1.0/deviceManagement/managedDevices"].Calls != 2 ||
			calls["PATCH /v1.0/deviceManagement/mobileThreatDefenseConnectors/{id}"].Status[200] != 1 {
			t.Fatalf("calls %+v", calls)
		}
		must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "extra", Platform: world.IOS, OSVersion: "17", Count: 5}))
		snap := must(tw.admin.Snapshot(ctx))
		if len(snap.Tenants) != 2 || len(snap.Tenants[0].Devices) != 15 || len(snap.Tenants[0].Connectors) != 1 {
			t.Fatalf("snapshot tenants=%d devices=%d", len(snap.Tenants), len(snap.Tenants[0].Devices))
		}
		must(0, tw.admin.Reset(ctx))
		ts := must(tw.admin.Tenants(ctx))
		if len(ts) != 1 || ts[0].ID != tid || ts[0].Devices != 10 {
			t.Fatalf("after reset %+v", ts)
		}
		if c := must(tw.admin.Calls(ctx)); len(c) != 2 || c["POST /admin/reset"].Calls != 1 { // reset itself and Tenants
			t.Fatalf("calls after reset %+v", c)
		}
		// The default credentials survive a reset.
		expectStatus(t, tw.graph("GET", devicesPath, nil), 200)
		tw.secretToken(tw.env[sim.EnvClientID], tw.env[sim.EnvClientSecret])
		if now := must(tw.admin.Now(ctx)); time.Since(now) > time.Minute {
			t.Fatalf("clock not reset: %v", now)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	tw := start(t, noThrottle, func(o *sim.Options) { o.AccessLog = &buf })
	tw.graph("GET", devicesPath+"?$top=1", nil)
	eventually(t, "access log line", func() bool {
		return strings.Contains(buf.String(), "GET /v1.0/deviceManagement/managedDevices 200 ")
	})
	if strings.Contains(buf.String(), tw.env[sim.EnvClientSecret]) || strings.Contains(buf.String(), tw.token) {
		t.Fatal("access log leaks a secret")
	}
}

func second[T any](_ T, err error) error { return err }

// TestAdminActionResults: an action result recorded by hand is served by
// Graph as given, never carried out; the route validates what it records.
func TestAdminActionResults(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	d := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "d", Platform: world.Android, OSVersion: "14"})).Devices[0]

	started := time.Date(2030, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	got := must(tw.admin.RecordActionResult(ctx, tid, d.IntuneID, adminapi.ActionResult{ActionName: "retire", ActionState: "failed",
		StartDateTime: started, LastUpdatedDateTime: started.Add(time.Minute)}))
	if got.ActionName != "retire" || got.ActionState != "failed" || !got.StartDateTime.Equal(started) || !got.LastUpdatedDateTime.Equal(started.Add(time.Minute)) {
		t.Fatalf("recorded %+v", got)
	}
	// Defaults: started now, updated when started; any of the device's ids.
	before := must(tw.admin.Now(ctx))
	def := must(tw.admin.RecordActionResult(ctx, tid, d.UESID, adminapi.ActionResult{ActionName: "wipe", ActionState: "pending"}))
	if def.StartDateTime.Before(before) || def.StartDateTime.After(must(tw.admin.Now(ctx))) || !def.LastUpdatedDateTime.Equal(def.StartDateTime) {
		t.Fatalf("defaults %+v (now %v)", def, before)
	}

	r := tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select=deviceActionResults", nil)
	expectStatus(t, r, 200)
	rs := graphActionResults(t, r)
	if len(rs) != 2 || !rs[0].is("retire", "failed", started, started.Add(time.Minute)) ||
		!rs[1].is("wipe", "pending", def.StartDateTime, def.StartDateTime) {
		t.Fatalf("Graph shows %+v", rs)
	}
	// Nothing is carried out: the recorded wipe stays pending and the device enrolled.
	must(tw.admin.Advance(ctx, 30*24*time.Hour))
	if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); !v.Managed || !v.Activated || len(v.ActionResults) != 2 || v.ActionResults[1].ActionState != "pending" ||
		!slices.Equal(v.Actions, []string{"retire", "wipe"}) {
		t.Fatalf("after a month: %+v", v)
	}

	path := tw.env[sim.EnvAdminURL] + "/tenants/" + tid + "/devices/" + d.IntuneID + "/action-results"
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"actionName":"retire","actionState":"stuck"}`, 400},
		{`{"actionName":"retire","actionState":"Done"}`, 400},
		{`{"actionName":"retire"}`, 400},
		{`{"actionState":"done"}`, 400},
		{`{"actionName":"retire","actionState":"done","startDateTime":"2030-01-02T00:00:00Z","lastUpdatedDateTime":"2030-01-01T00:00:00Z"}`, 400},
		{`{"actionName":"retire","actionState":"done","startDateTime":"yesterday"}`, 400},
		{`{"actionName":"retire","actionState":"done","reason":"x"}`, 400},
	} {
		if r := tw.call("POST", path, "", tc.body); r.status != tc.status || r.str("error") == "" {
			t.Errorf("POST %s: %d %s, want %d", tc.body, r.status, r.raw, tc.status)
		}
	}
	var e *simclient.Error
	ok := adminapi.ActionResult{ActionName: "retire", ActionState: "done"}
	if _, err := tw.admin.RecordActionResult(ctx, tid, world.NewID(), ok); !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("unknown device: %v", err)
	}
	if _, err := tw.admin.RecordActionResult(ctx, world.NewID(), d.IntuneID, ok); !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("unknown tenant: %v", err)
	}
	expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/retire", nil), 204)
	if _, err := tw.admin.RecordActionResult(ctx, tid, d.IntuneID, ok); !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("retired device: %v", err)
	}
	if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); len(v.ActionResults) != 3 {
		t.Fatalf("a refused result was recorded: %+v", v.ActionResults)
	}
}
