package sim_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// uesAuth signs a client JWT as the API guide documents it.
func uesAuth(t testing.TB, secret string, claims jwt.MapClaims) string {
	t.Helper()
	return must(jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret)))
}

func (tw *twin) uesClaims(mut func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now().Unix()
	c := jwt.MapClaims{"exp": now + 1800, "iat": now, "iss": "http://cylance.com", "sub": tw.env[sim.EnvUESAppID],
		"tid": tw.env[sim.EnvUESTenantID], "jti": world.NewID()}
	if mut != nil {
		mut(c)
	}
	return c
}

// uesToken exchanges a client JWT for a UES access token.
func (tw *twin) uesToken(scp string) string {
	tw.t.Helper()
	r := tw.call("POST", tw.env[sim.EnvUESURL]+"/auth/v2/token", "", map[string]string{
		"auth_token": uesAuth(tw.t, tw.env[sim.EnvUESAppSecret], tw.uesClaims(func(c jwt.MapClaims) {
			if scp != "" {
				c["scp"] = scp
			}
		}))}, "Content-Type", "application/json; charset=utf-8")
	expectStatus(tw.t, r, 200)
	return r.str("access_token")
}

func (tw *twin) ues(method, path, token string, body any) *resp {
	tw.t.Helper()
	return tw.call(method, tw.env[sim.EnvUESURL]+path, token, body)
}

func TestUESAuth(t *testing.T) {
	tw := start(t, noThrottle)
	secret := tw.env[sim.EnvUESAppSecret]
	tokenURL := tw.env[sim.EnvUESURL] + "/auth/v2/token"
	replayed := uesAuth(t, secret, tw.uesClaims(nil))
	expectStatus(t, tw.call("POST", tokenURL, "", map[string]string{"auth_token": replayed}), 200)
	now := time.Now()
	tests := []struct {
		name   string
		token  string
		status int
		msg    string
	}{
		{"valid, span exactly 1800", uesAuth(t, secret, tw.uesClaims(nil)), 200, ""},
		{"span 1801", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["exp"] = now.Unix() + 1801 })), 400, "1800"},
		{"milliseconds", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["iat"] = now.UnixMilli(); c["exp"] = now.UnixMilli() + 60000 })), 400, "1800"},
		{"no exp", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { delete(c, "exp") })), 400, "exp"},
		{"no jti", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { delete(c, "jti") })), 400, "jti"},
		{"wrong iss", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["iss"] = "https://cylance.com" })), 401, "iss"},
		{"wrong secret", uesAuth(t, "not-the-secret", tw.uesClaims(nil)), 401, "signature"},
		{"unknown app", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["sub"] = world.NewID() })), 401, "Unknown"},
		{"unknown tenant", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["tid"] = world.NewID() })), 401, "Unknown"},
		{"expired", uesAuth(t, secret, tw.uesClaims(func(c jwt.MapClaims) { c["iat"] = now.Unix() - 1000; c["exp"] = now.Unix() - 10 })), 401, "expired"},
		{"replayed jti", replayed, 401, "jti"},
		{"HS512", must(jwt.NewWithClaims(jwt.SigningMethodHS512, tw.uesClaims(nil)).SignedString([]byte(secret))), 401, "signature"},
		{"not a JWT", "abc", 400, "well-formed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tw.call("POST", tokenURL, "", map[string]string{"auth_token": tc.token})
			expectStatus(t, r, tc.status)
			if tc.status != 200 {
				if !strings.Contains(r.str("message"), tc.msg) {
					t.Fatalf("message %s, want %q", r.raw, tc.msg)
				}
				return
			}
			c := jwtClaims(t, r.str("access_token"))
			if c["exp"].(float64)-c["iat"].(float64) != 1800 || c["tid"] != tw.env[sim.EnvUESTenantID] {
				t.Fatalf("access token claims %v", c)
			}
			scp, ok := c["scp"].([]any)
			if !ok || len(scp) != 7 {
				t.Fatalf("scp %v, want the 7 documented scopes", c["scp"])
			}
			for _, sc := range scp {
				if slices.Contains(world.ModelledUESScopes, sc.(string)) {
					t.Fatalf("scp %v grants a modelled scope without ModelledUES", scp)
				}
			}
		})
	}
	expectStatus(t, tw.call("POST", tokenURL, "", map[string]string{}), 400)

	t.Run("app registered with limited scopes", func(t *testing.T) {
		app := must(tw.admin.CreateUESApp(ctx, tw.env[sim.EnvTenantID], adminapi.UESApp{Name: "reader", Scopes: []string{"device:list"}}))
		r := tw.call("POST", tokenURL, "", map[string]string{"auth_token": uesAuth(t, app.Secret, tw.uesClaims(func(c jwt.MapClaims) {
			c["sub"] = app.ID
			c["scp"] = "device:list,mobiledevice:list" // asking for more than granted yields the intersection
		}))})
		expectStatus(t, r, 200)
		tok := r.str("access_token")
		if scp := jwtClaims(t, tok)["scp"].([]any); len(scp) != 1 {
			t.Fatalf("scp %v", scp)
		}
		r = tw.ues("GET", "/devices/v2/"+world.NewID(), tok, nil) // device:read not granted
		expectStatus(t, r, 403)
		if !strings.Contains(r.str("message"), "device:read") {
			t.Fatalf("403 body %s", r.raw)
		}
	})
	t.Run("bearer and scopes", func(t *testing.T) {
		limited := tw.uesToken("device:list")
		if scp := jwtClaims(t, limited)["scp"].([]any); len(scp) != 1 || scp[0] != "device:list" {
			t.Fatalf("scp %v", scp)
		}
		expectStatus(t, tw.ues("GET", "/devices/v2", limited, nil), 200)
		r := tw.ues("GET", "/devices/v2/"+world.NewID(), limited, nil)
		expectStatus(t, r, 403)
		if !strings.Contains(r.str("message"), "device:read") {
			t.Fatalf("403 body %s", r.raw)
		}
		expectStatus(t, tw.ues("GET", "/devices/v2", "", nil), 401)
		expectStatus(t, tw.ues("GET", "/devices/v2", "garbage", nil), 401)
		expectStatus(t, tw.ues("GET", "/devices/v2", tw.token, nil), 401) // a Graph token is not a UES token
		if err := tw.admin.RevokeTokens(ctx, tw.env[sim.EnvTenantID], "ues"); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, tw.ues("GET", "/devices/v2", limited, nil), 401)
		expectStatus(t, tw.ues("GET", "/nothing/v9", tw.uesToken(""), nil), 404)
	})
}

func TestUESResources(t *testing.T) {
	tw := start(t, noThrottle, modelled, func(o *sim.Options) { o.SeedDemo = true })
	tid := tw.env[sim.EnvTenantID]
	tok := tw.uesToken("")

	t.Run("devices paging envelope", func(t *testing.T) {
		r := tw.ues("GET", "/devices/v2?page=2&page_size=4", tok, nil)
		expectStatus(t, r, 200)
		if r.body["page_number"].(float64) != 2 || r.body["page_size"].(float64) != 4 || r.body["total_pages"].(float64) != 3 ||
			r.body["total_number_of_items"].(float64) != 10 || len(r.body["page_items"].([]any)) != 4 {
			t.Fatalf("envelope %s", r.raw)
		}
		item := r.body["page_items"].([]any)[0].(map[string]any)
		if item["deviceType"] != "mobile" {
			t.Fatalf("item %v", item)
		}
		r = tw.ues("GET", "/devices/v2/"+item["id"].(string), tok, nil)
		expectStatus(t, r, 200)
		expectStatus(t, tw.ues("GET", "/devices/v2/"+world.NewID(), tok, nil), 404)
		expectStatus(t, tw.ues("GET", "/devices/v2?page_size=10001", tok, nil), 400)
		expectStatus(t, tw.ues("GET", "/devices/v2?page=0", tok, nil), 400)
	})

	devs := tw.ues("GET", "/mobiledevices/v1?page_size=100", tok, nil)
	expectStatus(t, devs, 200)
	d0 := devs.body["page_items"].([]any)[0].(map[string]any)
	dev := d0["device_id"].(string)
	if d0["risk_level"] != "secured" || d0["entra_device_id"] == "" || d0["user_email"] == "" {
		t.Fatalf("mobile device %v", d0)
	}

	t.Run("risk assessment", func(t *testing.T) {
		r := tw.ues("GET", "/mobilepolicies/v1/riskassessment", tok, nil)
		if r.body["configured"] != false {
			t.Fatalf("fresh tenant has an assessment: %s", r.raw)
		}
		integ := tw.ues("GET", "/integrations/v1/intune", tok, nil)
		if !strings.Contains(string(integ.raw), "no risk assessment") {
			t.Fatalf("integration does not surface the missing assessment: %s", integ.raw)
		}
		// With no assessment a detection raises no risk.
		a := must(tw.admin.Detect(ctx, tid, dev, adminapi.Detection{Type: "maliciousApplication", Detail: "com.evil.app"}))
		if d := must(tw.admin.Device(ctx, tid, dev)); d.Risk != world.RiskSecured {
			t.Fatalf("risk %s without assessment", d.Risk)
		}
		expectStatus(t, tw.ues("PUT", "/mobilepolicies/v1/riskassessment", tok, map[string]any{"detections": map[string]string{"maliciousApplication": "critical"}}), 400)
		expectStatus(t, tw.ues("PUT", "/mobilepolicies/v1/riskassessment", tok, map[string]any{"detections": map[string]string{"badThing": "high"}}), 400)
		expectStatus(t, tw.ues("PUT", "/mobilepolicies/v1/riskassessment", tok, map[string]any{"rules": 1}), 400)
		r = tw.ues("PUT", "/mobilepolicies/v1/riskassessment", tok, map[string]any{"detections": map[string]string{"maliciousApplication": "high", "unsafeWifi": "low"}})
		expectStatus(t, r, 200)
		if r.body["configured"] != true {
			t.Fatalf("assessment %s", r.raw)
		}
		if d := must(tw.admin.Device(ctx, tid, dev)); d.Risk != world.RiskHigh {
			t.Fatalf("risk %s with assessment", d.Risk)
		}
		r = tw.ues("GET", "/mobiledevices/v1?risk_level=high", tok, nil)
		if r.body["total_number_of_items"].(float64) != 1 {
			t.Fatalf("high-risk devices %s", r.raw)
		}

		t.Run("alerts incremental by time and status", func(t *testing.T) {
			must(tw.admin.Advance(ctx, time.Minute))
			b := must(tw.admin.Detect(ctx, tid, dev, adminapi.Detection{Type: "unsafeWifi", Detail: "CoffeeShop"}))
			r := tw.ues("GET", "/mobilealerts/v1", tok, nil)
			items := r.body["page_items"].([]any)
			if len(items) != 2 || items[0].(map[string]any)["alert_id"] != a.ID || items[1].(map[string]any)["risk_level"] != "low" {
				t.Fatalf("alerts %s", r.raw)
			}
			since := b.Modified.UTC().Format(time.RFC3339Nano)
			r = tw.ues("GET", "/mobilealerts/v1?start_time="+url.QueryEscape(since), tok, nil)
			if r.body["total_number_of_items"].(float64) != 1 {
				t.Fatalf("since %s: %s", since, r.raw)
			}
			must(tw.admin.Advance(ctx, time.Minute))
			r = tw.ues("POST", "/mobilealerts/v1/"+a.ID+"/ignore", tok, nil)
			expectStatus(t, r, 200)
			if r.str("status") != "ignored" {
				t.Fatalf("ignored %s", r.raw)
			}
			expectStatus(t, tw.ues("POST", "/mobilealerts/v1/"+a.ID+"/ignore", tok, nil), 409)
			expectStatus(t, tw.ues("POST", "/mobilealerts/v1/"+world.NewID()+"/ignore", tok, nil), 404)
			// The ignored alert moved after b in modification order.
			r = tw.ues("GET", "/mobilealerts/v1?start_time="+url.QueryEscape(since), tok, nil)
			items = r.body["page_items"].([]any)
			if len(items) != 2 || items[1].(map[string]any)["alert_id"] != a.ID {
				t.Fatalf("after ignore %s", r.raw)
			}
			r = tw.ues("GET", "/mobilealerts/v1?status=active", tok, nil)
			if r.body["total_number_of_items"].(float64) != 1 {
				t.Fatalf("active %s", r.raw)
			}
			r = tw.ues("GET", "/mobilealerts/v1?status=ignored,resolved", tok, nil)
			if r.body["total_number_of_items"].(float64) != 1 {
				t.Fatalf("ignored,resolved %s", r.raw)
			}
			expectStatus(t, tw.ues("GET", "/mobilealerts/v1?status=open", tok, nil), 400)
			expectStatus(t, tw.ues("GET", "/mobilealerts/v1?start_time=yesterday", tok, nil), 400)
			expectStatus(t, tw.ues("GET", "/mobilealerts/v1?page_size=201", tok, nil), 400)
			expectStatus(t, tw.ues("GET", "/mobilealerts/v1/"+b.ID, tok, nil), 200)
			r = tw.ues("GET", "/mobilealerts/v1?device_id="+dev+"&alert_type=unsafeWifi", tok, nil)
			if r.body["total_number_of_items"].(float64) != 1 {
				t.Fatalf("by device and type %s", r.raw)
			}
			if r = tw.ues("GET", "/mobilealerts/v1?device_id="+world.NewID(), tok, nil); r.body["total_number_of_items"].(float64) != 0 {
				t.Fatalf("other device %s", r.raw)
			}
			if d := must(tw.admin.Device(ctx, tid, dev)); d.Risk != world.RiskLow {
				t.Fatalf("risk %s after ignoring the high alert", d.Risk)
			}
		})
		expectStatus(t, tw.ues("DELETE", "/mobilepolicies/v1/riskassessment", tok, nil), 204)
		if d := must(tw.admin.Device(ctx, tid, dev)); d.Risk != world.RiskSecured {
			t.Fatalf("risk %s after removing the assessment", d.Risk)
		}
	})

	t.Run("integration status", func(t *testing.T) {
		r := tw.graph("PATCH", bbConnector, map[string]any{"androidEnabled": true})
		expectStatus(t, r, 200)
		r = tw.ues("GET", "/integrations/v1/intune", tok, nil)
		if r.str("status") != "connected" || r.body["android_enabled"] != true || r.body["ios_enabled"] != false ||
			r.str("last_report_time") == "" || r.str("intune_tenant_id") != tid {
			t.Fatalf("integration %s", r.raw)
		}
		must(0, tw.admin.Offboard(ctx, tid, ""))
		r = tw.ues("GET", "/integrations/v1/intune", tok, nil)
		if r.str("status") != "not_connected" {
			t.Fatalf("integration %s", r.raw)
		}
	})
}

// modelledRoutes are the modelled UES mobile routes, served only with
// Options.ModelledUES.
var modelledRoutes = []struct{ method, path string }{
	{"GET", "/mobiledevices/v1"}, {"GET", "/mobiledevices/v1/" + world.NewID()},
	{"GET", "/mobilealerts/v1"}, {"GET", "/mobilealerts/v1/" + world.NewID()},
	{"POST", "/mobilealerts/v1/" + world.NewID() + "/ignore"},
	{"GET", "/mobilepolicies/v1/riskassessment"}, {"PUT", "/mobilepolicies/v1/riskassessment"},
	{"DELETE", "/mobilepolicies/v1/riskassessment"}, {"GET", "/integrations/v1/intune"},
}

// TestUESDocumentedOnlyByDefault: without ModelledUES a modelled route
// answers exactly as a route that does not exist (no authentication or scope
// check first), while the documented API works.
func TestUESDocumentedOnlyByDefault(t *testing.T) {
	tw := start(t, noThrottle, func(o *sim.Options) { o.SeedDemo = true })
	if tw.env[sim.EnvUESModelled] != "false" {
		t.Fatalf("%s = %q", sim.EnvUESModelled, tw.env[sim.EnvUESModelled])
	}
	tok := tw.uesToken("") // the token route works
	unknown := tw.ues("GET", "/nothing/v9", tok, nil)
	expectStatus(t, unknown, 404)
	if string(unknown.raw) != `{"message":"Resource not found."}` {
		t.Fatalf("unknown route body %s", unknown.raw)
	}
	limited := tw.uesToken("device:list")
	for _, rt := range modelledRoutes {
		for name, token := range map[string]string{"no token": "", "full token": tok, "token without the scope": limited} {
			t.Run(rt.method+" "+rt.path+" "+name, func(t *testing.T) {
				var body any
				if rt.method == "PUT" {
					body = map[string]any{"detections": map[string]string{"maliciousApplication": "high"}}
				}
				r := tw.ues(rt.method, rt.path, token, body)
				if r.status != unknown.status || string(r.raw) != string(unknown.raw) {
					t.Fatalf("%d %s, want %d %s", r.status, r.raw, unknown.status, unknown.raw)
				}
			})
		}
	}
	// A PUT that reached the model would have set an assessment.
	if ra := must(tw.admin.Snapshot(ctx)).Tenants[0].RiskAssessment; len(ra) != 0 {
		t.Fatalf("risk assessment %v set through an unserved route", ra)
	}
	r := tw.ues("GET", "/devices/v2?page_size=1", tok, nil)
	expectStatus(t, r, 200)
	if r.body["total_number_of_items"].(float64) != 10 || len(r.body["page_items"].([]any)) != 1 {
		t.Fatalf("devices %s", r.raw)
	}
	id := r.body["page_items"].([]any)[0].(map[string]any)["id"].(string)
	expectStatus(t, tw.ues("GET", "/devices/v2/"+id, tok, nil), 200)
}

// TestUESModelledOptIn: with ModelledUES every modelled route is served and
// tokens carry the modelled scopes.
func TestUESModelledOptIn(t *testing.T) {
	tw := start(t, noThrottle, modelled)
	if tw.env[sim.EnvUESModelled] != "true" {
		t.Fatalf("%s = %q", sim.EnvUESModelled, tw.env[sim.EnvUESModelled])
	}
	tok := tw.uesToken("")
	scp := jwtClaims(t, tok)["scp"].([]any)
	for _, want := range world.ModelledUESScopes {
		if !slices.Contains(scp, any(want)) {
			t.Errorf("scp %v lacks %s", scp, want)
		}
	}
	for _, rt := range modelledRoutes {
		var body any
		if rt.method == "PUT" {
			body = map[string]any{"detections": map[string]string{"maliciousApplication": "high"}}
		}
		r := tw.ues(rt.method, rt.path, tok, body)
		// Served: 2xx, or the route's own 404 for an unknown id (not the catch-all's).
		if r.status >= 300 && (r.status != 404 || r.str("message") == "Resource not found.") {
			t.Errorf("%s %s: %d %s", rt.method, rt.path, r.status, r.raw)
		}
		if r = tw.ues(rt.method, rt.path, "", body); r.status != 401 {
			t.Errorf("%s %s without a token: %d %s", rt.method, rt.path, r.status, r.raw)
		}
	}
	r := tw.ues("GET", "/mobilealerts/v1", tw.uesToken("device:list"), nil)
	expectStatus(t, r, 403)
	if !strings.Contains(r.str("message"), "mobilealert:list") {
		t.Fatalf("403 body %s", r.raw)
	}
}
