package sim_test

import (
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const companyApp = "5f6a1b0e-7c3d-4e2f-9a8b-1c2d3e4f5a6b" // a line-of-business app registered in the tenant

// setup is the integration as a tenant has it, on the documented surface
// only: connector on for both platforms (Graph), the risk assessment (set in
// the UES console, which the admin API stands in for: no REST route is
// published), one MTD compliance policy per platform at maxRisk, and a
// Conditional Access policy requiring compliant devices for e-mail,
// SharePoint/OneDrive and the company app (Graph).
type setup struct {
	maxRisk    string
	grace      int
	connector  map[string]any
	assign     []any
	caState    string
	assessment map[string]world.Risk
}

func defaultSetup() setup {
	return setup{maxRisk: "low", caState: "enabled",
		connector:  map[string]any{"androidEnabled": true, "iosEnabled": true},
		assign:     []any{map[string]any{"target": map[string]any{"@odata.type": world.AllUsersTarget}}},
		assessment: map[string]world.Risk{"maliciousApplication": "high", "manInTheMiddle": "high", "unsafeWifi": "medium", "sideLoadedApplication": "low"}}
}

func (tw *twin) apply(s setup) {
	tw.t.Helper()
	expectStatus(tw.t, tw.graph("PATCH", bbConnector, s.connector), 200)
	must(0, tw.admin.SetRiskAssessment(ctx, tw.env[sim.EnvTenantID], s.assessment))
	for _, typ := range []string{world.AndroidPolicyType, world.AndroidWorkPolicyType, world.IOSPolicyType} {
		b := policyBody(typ, "MTD "+typ, s.maxRisk)
		b["scheduledActionsForRule"] = blockAction(s.grace)
		r := tw.graph("POST", policiesPath, b)
		expectStatus(tw.t, r, 201)
		expectStatus(tw.t, tw.graph("POST", policiesPath+"/"+r.str("id")+"/assign", map[string]any{"assignments": s.assign}), 200)
	}
	expectStatus(tw.t, tw.graph("POST", caPath, caBody("Compliant phones only", s.caState,
		[]string{world.ExchangeOnlineApp, world.SharePointApp, companyApp}, nil)), 201)
}

// phone enrols one device for a new user.
func (tw *twin) phone(platform string, groups ...string) adminapi.DeviceView {
	tw.t.Helper()
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: world.NewID() + "@contoso.example", Groups: groups}))
	c := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "phone", Platform: platform, OSVersion: "14", UserID: u.ID}))
	return c.Devices[0]
}

// access returns whether the device may reach each app and the Wi-Fi.
func (tw *twin) access(dev string, apps ...string) map[string]bool {
	tw.t.Helper()
	tid := tw.env[sim.EnvTenantID]
	out := map[string]bool{}
	for _, app := range apps {
		out[app] = must(tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: dev, App: app})).Allowed
	}
	out["wifi"] = must(tw.admin.NetworkAccess(ctx, tid, adminapi.NetworkAccess{Device: dev})).Allowed
	return out
}

// intune reads the device as the operator sees it through Graph.
func (tw *twin) intune(d adminapi.DeviceView) (compliance, threat string) {
	tw.t.Helper()
	r := tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select=complianceState,partnerReportedThreatState", nil)
	expectStatus(tw.t, r, 200)
	return r.str("complianceState"), r.str("partnerReportedThreatState")
}

func expectAccess(t *testing.T, got map[string]bool, want bool, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if got[k] != want {
			t.Errorf("access to %s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
}

// TestProductScenarios walks the sample scenarios of the BlackBerry Protect
// Mobile connector page end to end.
func TestProductScenarios(t *testing.T) {
	apps := []string{world.ExchangeOnlineApp, world.SharePointApp, companyApp}
	tests := []struct {
		name      string
		platform  string
		detection string
		blocked   []string // blocked while the threat is active
	}{
		{"malicious app blocks e-mail, OneDrive and company apps (Android)", world.Android, "maliciousApplication",
			[]string{world.ExchangeOnlineApp, world.SharePointApp, companyApp}},
		{"malicious app blocks e-mail, OneDrive and company apps (iOS)", world.IOS, "maliciousApplication",
			[]string{world.ExchangeOnlineApp, world.SharePointApp, companyApp}},
		{"man-in-the-middle blocks Wi-Fi and SharePoint", world.Android, "manInTheMiddle",
			[]string{"wifi", world.SharePointApp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tw := start(t, noThrottle)
			tw.apply(defaultSetup())
			tid := tw.env[sim.EnvTenantID]
			d := tw.phone(tc.platform)

			expectAccess(t, tw.access(d.EntraID, apps...), true, append(apps, "wifi")...)
			if c, th := tw.intune(d); c != "compliant" || th != "secured" {
				t.Fatalf("before: %s/%s", c, th)
			}

			must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: tc.detection, Detail: "detected"}))
			if v := must(tw.admin.Device(ctx, tid, d.UESID)); v.Risk != world.RiskHigh {
				t.Fatalf("risk %s", v.Risk)
			}
			if c, th := tw.intune(d); c != "noncompliant" || th != "highSeverity" {
				t.Fatalf("during: %s/%s", c, th)
			}
			during := tw.access(d.EntraID, apps...)
			expectAccess(t, during, false, tc.blocked...)
			res := must(tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: d.IntuneID, App: world.SharePointApp}))
			if len(res.Policies) != 1 || res.Policies[0].Result != "block" || res.Reason == "" {
				t.Fatalf("access result %+v", res)
			}

			must(tw.admin.Remediate(ctx, tid, d.UESID, tc.detection)) // app removed / left the network
			if c, th := tw.intune(d); c != "compliant" || th != "secured" {
				t.Fatalf("after: %s/%s", c, th)
			}
			expectAccess(t, tw.access(d.EntraID, apps...), true, append(apps, "wifi")...)
		})
	}
}

// TestComplianceRules covers the Intune evaluation rules one by one.
func TestComplianceRules(t *testing.T) {
	t.Run("grace period", func(t *testing.T) {
		tw := start(t, noThrottle)
		s := defaultSetup()
		s.grace = 24
		tw.apply(s)
		d := tw.phone(world.Android)
		must(tw.admin.Detect(ctx, tw.env[sim.EnvTenantID], d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
		if c, _ := tw.intune(d); c != "inGracePeriod" {
			t.Fatalf("compliance %s", c)
		}
		expectAccess(t, tw.access(d.IntuneID, world.ExchangeOnlineApp), true, world.ExchangeOnlineApp, "wifi")
		must(tw.admin.Advance(ctx, 25*time.Hour))
		if c, _ := tw.intune(d); c != "noncompliant" {
			t.Fatalf("compliance after grace %s", c)
		}
		expectAccess(t, tw.access(d.IntuneID, world.ExchangeOnlineApp), false, world.ExchangeOnlineApp, "wifi")
	})
	t.Run("risk at the allowed level stays compliant", func(t *testing.T) {
		tw := start(t, noThrottle)
		tw.apply(defaultSetup())
		d := tw.phone(world.IOS)
		must(tw.admin.Detect(ctx, tw.env[sim.EnvTenantID], d.UESID, adminapi.Detection{Type: "sideLoadedApplication"}))
		if c, th := tw.intune(d); c != "compliant" || th != "lowSeverity" {
			t.Fatalf("%s/%s", c, th)
		}
	})
	t.Run("missing partner data", func(t *testing.T) {
		for _, tc := range []struct {
			block bool
			want  string
		}{{true, "noncompliant"}, {false, "compliant"}} {
			tw := start(t, noThrottle)
			s := defaultSetup()
			s.connector = map[string]any{"androidEnabled": false, "iosEnabled": true, "androidDeviceBlockedOnMissingPartnerData": tc.block}
			tw.apply(s)
			d := tw.phone(world.Android)
			if c, th := tw.intune(d); c != tc.want || th != "unknown" {
				t.Errorf("block=%v: %s/%s, want %s/unknown", tc.block, c, th, tc.want)
			}
		}
	})
	t.Run("unresponsive partner", func(t *testing.T) {
		tw := start(t, noThrottle)
		s := defaultSetup()
		s.connector["androidDeviceBlockedOnMissingPartnerData"] = true
		tw.apply(s)
		tid := tw.env[sim.EnvTenantID]
		d := tw.phone(world.Android)
		must(0, tw.admin.SetReporting(ctx, tid, false))
		// Intune keeps the last report: a detection now is not seen.
		must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
		if c, th := tw.intune(d); c != "compliant" || th != "secured" {
			t.Fatalf("stale report: %s/%s", c, th)
		}
		hb := tw.graph("GET", bbConnector, nil).str("lastHeartbeatDateTime")
		must(tw.admin.Advance(ctx, 6*24*time.Hour))
		r := tw.graph("GET", bbConnector, nil)
		if r.str("partnerState") != "enabled" || r.str("lastHeartbeatDateTime") != hb {
			t.Fatalf("after 6 days %s (heartbeat was %s)", r.raw, hb)
		}
		must(tw.admin.Advance(ctx, 2*24*time.Hour))
		if r := tw.graph("GET", bbConnector, nil); r.str("partnerState") != "unresponsive" {
			t.Fatalf("after 8 days %s", r.raw)
		}
		// Partner data is ignored: with block-on-missing the device is non-compliant.
		if c, th := tw.intune(d); c != "noncompliant" || th != "unresponsive" {
			t.Fatalf("unresponsive: %s/%s", c, th)
		}
		must(0, tw.admin.SetReporting(ctx, tid, true))
		if c, th := tw.intune(d); c != "noncompliant" || th != "highSeverity" {
			t.Fatalf("reporting again: %s/%s", c, th)
		}
		if r := tw.graph("GET", bbConnector, nil); r.str("partnerState") != "enabled" {
			t.Fatalf("after restart %s", r.raw)
		}
	})
	t.Run("assignments: groups and exclusions", func(t *testing.T) {
		tw := start(t, noThrottle)
		tid := tw.env[sim.EnvTenantID]
		pilot := must(tw.admin.CreateGroup(ctx, tid, adminapi.Group{DisplayName: "pilot"}))
		vip := must(tw.admin.CreateGroup(ctx, tid, adminapi.Group{DisplayName: "vip"}))
		s := defaultSetup()
		s.assign = []any{
			map[string]any{"target": map[string]any{"@odata.type": world.GroupTarget, "groupId": pilot.ID}},
			map[string]any{"target": map[string]any{"@odata.type": world.ExclusionTarget, "groupId": vip.ID}},
		}
		tw.apply(s)
		in := tw.phone(world.Android, pilot.ID)
		excluded := tw.phone(world.Android, pilot.ID, vip.ID)
		outside := tw.phone(world.Android)
		byDevice := tw.phone(world.IOS)
		must(0, tw.admin.AddMembers(ctx, tid, pilot.ID, byDevice.EntraID)) // device-based membership
		for _, d := range []adminapi.DeviceView{in, excluded, outside, byDevice} {
			must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
		}
		for _, tc := range []struct {
			name string
			d    adminapi.DeviceView
			want string
		}{{"included", in, "noncompliant"}, {"excluded", excluded, "compliant"}, {"not assigned", outside, "compliant"}, {"device in group", byDevice, "noncompliant"}} {
			if c, _ := tw.intune(tc.d); c != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, c, tc.want)
			}
		}
	})
	t.Run("report-only Conditional Access does not block", func(t *testing.T) {
		tw := start(t, noThrottle)
		s := defaultSetup()
		s.caState = "enabledForReportingButNotEnforced"
		tw.apply(s)
		tid := tw.env[sim.EnvTenantID]
		d := tw.phone(world.Android)
		must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
		res := must(tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: d.UESID, App: world.ExchangeOnlineApp}))
		if !res.Allowed || len(res.Policies) != 1 || res.Policies[0].Result != "reportOnlyFailure" {
			t.Fatalf("report-only %+v", res)
		}
		// An app the policy does not name is not affected either way.
		res = must(tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: d.UESID, App: world.NewID()}))
		if !res.Allowed || len(res.Policies) != 0 {
			t.Fatalf("other app %+v", res)
		}
	})
	t.Run("retired device loses access", func(t *testing.T) {
		tw := start(t, noThrottle)
		tw.apply(defaultSetup())
		d := tw.phone(world.IOS)
		expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/retire", nil), 204)
		expectAccess(t, tw.access(d.EntraID, world.ExchangeOnlineApp), false, world.ExchangeOnlineApp, "wifi")
	})
}

// TestReportDelayOverHTTP: with a report delay D, Intune (Graph) sees a risk
// change D after it happened on the world clock, the admin clock delivering
// what is due; UES itself knows the risk at once.
func TestReportDelayOverHTTP(t *testing.T) {
	const delay = 10 * time.Second
	tw := start(t, noThrottle, reportDelay(delay))
	tw.apply(defaultSetup())
	tid := tw.env[sim.EnvTenantID]
	if d := must(tw.admin.ReportingDelay(ctx)); d != delay {
		t.Fatalf("reporting delay %v", d)
	}
	d := tw.phone(world.Android)
	must(tw.admin.Advance(ctx, delay)) // the enrolment's first report arrives
	if c, th := tw.intune(d); c != "compliant" || th != "secured" {
		t.Fatalf("before: %s/%s", c, th)
	}
	uesTok := tw.uesToken("")

	a := must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
	if v := must(tw.admin.Device(ctx, tid, d.UESID)); v.Risk != world.RiskHigh || v.Reported == nil || *v.Reported != world.RiskSecured {
		t.Fatalf("right after the detection: risk %s reported %v", v.Risk, v.Reported)
	}
	must(tw.admin.SetClock(ctx, a.Created.Add(delay-time.Second)))
	if c, th := tw.intune(d); c != "compliant" || th != "secured" {
		t.Fatalf("T+9s: %s/%s", c, th)
	}
	expectAccess(t, tw.access(d.EntraID, world.ExchangeOnlineApp), true, world.ExchangeOnlineApp, "wifi")
	must(tw.admin.SetClock(ctx, a.Created.Add(delay)))
	if c, th := tw.intune(d); c != "noncompliant" || th != "highSeverity" {
		t.Fatalf("T+10s: %s/%s", c, th)
	}
	expectAccess(t, tw.access(d.EntraID, world.ExchangeOnlineApp), false, world.ExchangeOnlineApp, "wifi")
	// The documented UES device detail dates the report at its arrival.
	r := tw.ues("GET", "/devices/v2/"+d.UESID, uesTok, nil)
	if want := a.Created.Add(delay).UTC().Format("2006-01-02T15:04:05.000Z"); r.str("date_last_modified") != want {
		t.Fatalf("date_last_modified %s, want %s", r.str("date_last_modified"), want)
	}

	fixed := must(tw.admin.Remediate(ctx, tid, d.UESID, ""))
	must(tw.admin.SetClock(ctx, fixed[0].Modified.Add(delay-time.Second)))
	if c, th := tw.intune(d); c != "noncompliant" || th != "highSeverity" {
		t.Fatalf("remediated, T+9s: %s/%s", c, th)
	}
	must(tw.admin.SetClock(ctx, fixed[0].Modified.Add(delay)))
	if c, th := tw.intune(d); c != "compliant" || th != "secured" {
		t.Fatalf("remediated, T+10s: %s/%s", c, th)
	}
	expectAccess(t, tw.access(d.EntraID, world.ExchangeOnlineApp), true, world.ExchangeOnlineApp, "wifi")
}

func TestReportingDelayAdmin(t *testing.T) {
	tw := start(t, noThrottle)
	tw.apply(defaultSetup())
	tid := tw.env[sim.EnvTenantID]
	if d := must(tw.admin.ReportingDelay(ctx)); d != 0 {
		t.Fatalf("default delay %v", d)
	}
	d := tw.phone(world.IOS) // zero delay: reported at once
	if c, th := tw.intune(d); c != "compliant" || th != "secured" {
		t.Fatalf("enrolled: %s/%s", c, th)
	}
	if got := must(tw.admin.SetReportingDelay(ctx, 15*time.Minute)); got != 15*time.Minute {
		t.Fatalf("set delay answered %v", got)
	}
	a := must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}))
	if _, th := tw.intune(d); th != "secured" {
		t.Fatalf("delayed report arrived at once: %s", th)
	}
	must(tw.admin.SetClock(ctx, a.Created.Add(15*time.Minute)))
	if _, th := tw.intune(d); th != "highSeverity" {
		t.Fatalf("after 15m: %s", th)
	}

	for _, body := range []string{`{"delay":"-1s"}`, `{"delay":"soon"}`, `{"delay":10}`, `{"seconds":10}`} {
		if r := tw.call("PUT", tw.env[sim.EnvAdminURL]+"/reporting-delay", "", body); r.status != 400 || r.str("error") == "" {
			t.Errorf("PUT %s: %d %s", body, r.status, r.raw)
		}
	}
	r := tw.call("GET", tw.env[sim.EnvAdminURL]+"/reporting-delay", "", nil)
	if r.status != 200 || string(r.raw) != `{"delay":"15m0s"}` {
		t.Fatalf("GET %d %s", r.status, r.raw)
	}
	must(0, tw.admin.Reset(ctx)) // the delay is configuration: kept
	if d := must(tw.admin.ReportingDelay(ctx)); d != 15*time.Minute {
		t.Fatalf("delay after reset %v", d)
	}
	must(tw.admin.SetReportingDelay(ctx, 0))
	if d := must(tw.admin.ReportingDelay(ctx)); d != 0 {
		t.Fatalf("delay %v", d)
	}
}

// TestActionDelayOverHTTP: with an action delay D, Graph shows remoteLock,
// retire and wipe pending until the device checks in D later on the world
// clock, and only then is a retired or wiped device gone; syncDevice is done
// at once, and an action on a device with a pending retire is accepted.
func TestActionDelayOverHTTP(t *testing.T) {
	const delay = time.Hour
	tw := start(t, noThrottle, actionDelay(delay))
	tw.apply(defaultSetup())
	tid := tw.env[sim.EnvTenantID]
	if d := must(tw.admin.ActionDelay(ctx)); d != delay {
		t.Fatalf("action delay %v", d)
	}
	retired, wiped := tw.phone(world.Android), tw.phone(world.IOS)
	alert := must(tw.admin.Detect(ctx, tid, wiped.UESID, adminapi.Detection{Type: "unsafeWifi"}))
	results := func(d adminapi.DeviceView) []actionResult {
		t.Helper()
		r := tw.graph("GET", devicesPath+"/"+d.IntuneID+"?$select=deviceActionResults", nil)
		expectStatus(t, r, 200)
		return graphActionResults(t, r)
	}

	before := must(tw.admin.Now(ctx))
	expectStatus(t, tw.graph("POST", devicesPath+"/"+retired.IntuneID+"/retire", nil), 204)
	expectStatus(t, tw.graph("POST", devicesPath+"/"+wiped.IntuneID+"/wipe", map[string]any{"keepUserData": false}), 204)
	after := must(tw.admin.Now(ctx))
	// Accepted while the retire is pending; the sync is done at once.
	expectStatus(t, tw.graph("POST", devicesPath+"/"+retired.IntuneID+"/remoteLock", nil), 204)
	expectStatus(t, tw.graph("POST", devicesPath+"/"+retired.IntuneID+"/syncDevice", nil), 204)

	rs := results(retired)
	if len(rs) != 3 || rs[0].name != "retire" || rs[0].state != "pending" || rs[1].name != "remoteLock" || rs[1].state != "pending" ||
		rs[2].name != "syncDevice" || rs[2].state != "done" {
		t.Fatalf("retired device's actions before the check-in: %+v", rs)
	}
	retire := rs[0]
	if retire.started.Before(before) || retire.started.After(after) || !retire.updated.Equal(retire.started) {
		t.Fatalf("pending retire %+v, want started and updated in [%v, %v]", retire, before, after)
	}
	if ws := results(wiped); len(ws) != 1 || ws[0].name != "wipe" || ws[0].state != "pending" {
		t.Fatalf("wiped device's actions before the check-in: %+v", ws)
	}
	for _, d := range []adminapi.DeviceView{retired, wiped} {
		if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); !v.Managed || !v.Activated || v.ActionResults[0].ActionState != "pending" {
			t.Fatalf("carried out before the check-in: %+v", v)
		}
	}
	if c, _ := tw.intune(retired); c != "compliant" {
		t.Fatalf("retire pending: %s", c)
	}
	expectAccess(t, tw.access(retired.EntraID, world.ExchangeOnlineApp), true, world.ExchangeOnlineApp, "wifi")

	must(tw.admin.SetClock(ctx, retire.started.Add(delay-time.Second)))
	if rs := results(retired); rs[0].state != "pending" {
		t.Fatalf("retire a second before the check-in: %+v", rs[0])
	}
	must(tw.admin.Advance(ctx, time.Second))
	expectStatus(t, tw.graph("GET", devicesPath+"/"+retired.IntuneID, nil), 404)
	expectStatus(t, tw.graph("GET", devicesPath+"/"+wiped.IntuneID, nil), 404)
	expectAccess(t, tw.access(retired.EntraID, world.ExchangeOnlineApp), false, world.ExchangeOnlineApp, "wifi")
	v := must(tw.admin.Device(ctx, tid, retired.IntuneID))
	if v.Managed || !v.Activated || v.ActionResults[0].ActionState != "done" ||
		!v.ActionResults[0].LastUpdatedDateTime.Equal(retire.started.Add(delay)) {
		t.Fatalf("retired device after the check-in: %+v", v)
	}
	// The lock was due after the retire took the device out of Intune: never carried out.
	if v.ActionResults[1].ActionState != "pending" {
		t.Fatalf("lock after the retire: %+v", v.ActionResults[1])
	}
	v = must(tw.admin.Device(ctx, tid, wiped.IntuneID))
	if v.Managed || v.Activated || v.ActionResults[0].ActionState != "done" || len(v.Alerts) != 1 || v.Alerts[0].ID != alert.ID || v.Alerts[0].Status != "resolved" {
		t.Fatalf("wiped device after the check-in: %+v", v)
	}
	expectStatus(t, tw.graph("POST", devicesPath+"/"+retired.IntuneID+"/remoteLock", nil), 404)
}

func TestActionDelayAdmin(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	if d := must(tw.admin.ActionDelay(ctx)); d != 0 {
		t.Fatalf("default delay %v", d)
	}
	d := tw.phone(world.IOS)
	expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/remoteLock", nil), 204) // zero delay: done at once
	if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); len(v.ActionResults) != 1 || v.ActionResults[0].ActionState != "done" {
		t.Fatalf("lock without a delay: %+v", v.ActionResults)
	}
	if got := must(tw.admin.SetActionDelay(ctx, 15*time.Minute)); got != 15*time.Minute {
		t.Fatalf("set delay answered %v", got)
	}
	expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/retire", nil), 204)
	if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); !v.Managed || v.ActionResults[1].ActionState != "pending" {
		t.Fatalf("retire with a delay carried out at once: %+v", v)
	}
	must(tw.admin.Advance(ctx, 15*time.Minute))
	if v := must(tw.admin.Device(ctx, tid, d.IntuneID)); v.Managed || v.ActionResults[1].ActionState != "done" {
		t.Fatalf("retire after 15m: %+v", v)
	}

	for _, body := range []string{`{"delay":"-1s"}`, `{"delay":"soon"}`, `{"delay":10}`, `{"seconds":10}`} {
		if r := tw.call("PUT", tw.env[sim.EnvAdminURL]+"/action-delay", "", body); r.status != 400 || r.str("error") == "" {
			t.Errorf("PUT %s: %d %s", body, r.status, r.raw)
		}
	}
	r := tw.call("GET", tw.env[sim.EnvAdminURL]+"/action-delay", "", nil)
	if r.status != 200 || string(r.raw) != `{"delay":"15m0s"}` {
		t.Fatalf("GET %d %s", r.status, r.raw)
	}
	must(0, tw.admin.Reset(ctx)) // the delay is configuration: kept
	if d := must(tw.admin.ActionDelay(ctx)); d != 15*time.Minute {
		t.Fatalf("delay after reset %v", d)
	}
	must(tw.admin.SetActionDelay(ctx, 0))
	if d := must(tw.admin.ActionDelay(ctx)); d != 0 {
		t.Fatalf("delay %v", d)
	}
}
