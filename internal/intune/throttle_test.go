package intune_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// getConnector times one GetConnector.
func getConnector(c intune.Client) (time.Duration, error) {
	start := time.Now()
	_, err := c.GetConnector(ctx, intune.BlackBerryConnectorID)
	return time.Since(start), err
}

func TestLongRetryAfterComesBackPromptly(t *testing.T) {
	c := newClient(t, nil)
	for _, tc := range []struct {
		status int
		kind   outbound.Kind
	}{{429, outbound.Throttled}, {503, outbound.Transient}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			fresh(t)
			fault(t, adminapi.Fault{Route: "GET " + routeConnector, Status: tc.status, RetryAfter: 30, Count: 1})
			took, err := getConnector(c)
			e := asOutbound(t, err, tc.kind)
			if e.RetryAfter != 30*time.Second || e.StatusCode != tc.status {
				t.Fatalf("error = %+v", e)
			}
			if took > intune.DefaultMaxWait+time.Second {
				t.Fatalf("the call took %s", took)
			}
			if n := testkit.Calls(t, admin, "GET "+routeConnector); n != 1 {
				t.Fatalf("the SDK retried: %d calls", n)
			}
			t.Logf("%d with Retry-After 30 came back in %s: %v", tc.status, took, err)
			if _, err := getConnector(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestShortWaitsAreRetriedBySDK(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   adminapi.Fault
		maxWait time.Duration
	}{
		{"429 Retry-After 1", adminapi.Fault{Status: 429, RetryAfter: 1}, 0},
		{"503 Retry-After 1", adminapi.Fault{Status: 503, RetryAfter: 1}, 0},
		{"504 back-off within a 5 s budget", adminapi.Fault{Status: 504}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh(t)
			c := newClient(t, func(cfg *intune.Config) { cfg.MaxWait = tc.maxWait })
			tc.fault.Route, tc.fault.Count = "GET "+routeConnector, 1
			fault(t, tc.fault)
			if _, err := getConnector(c); err != nil {
				t.Fatal(err)
			}
			if n := testkit.Calls(t, admin, "GET "+routeConnector); n != 2 {
				t.Fatalf("calls = %d, want 2", n)
			}
		})
	}
}

func TestServerErrorsAndDroppedConnections(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	// A 5xx the SDK does not retry, and a 503 whose back-off exceeds the 2 s budget.
	for _, status := range []int{500, 503} {
		fault(t, adminapi.Fault{Route: "GET " + routeConnector, Status: status, Count: 1})
		took, err := getConnector(c)
		if e := asOutbound(t, err, outbound.Transient); e.StatusCode != status || took > intune.DefaultMaxWait+time.Second {
			t.Fatalf("%d: %+v after %s", status, e, took)
		}
		if _, err := getConnector(c); err != nil {
			t.Fatal(err)
		}
	}
	// A connection dropped under a PATCH, which nothing may resend on its own.
	p, err := c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.AndroidCompliancePolicy, DisplayName: "drop",
		Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	fault(t, adminapi.Fault{Route: "PATCH " + routePolicy, Drop: true, Count: 1})
	patch := func() error {
		return c.PatchCompliancePolicy(ctx, p.ID, p.Type, intune.CompliancePolicyPatch{Description: ptr("after a drop")})
	}
	if e := asOutbound(t, patch(), outbound.Transient); e.StatusCode != 0 || e.Err == nil {
		t.Fatalf("dropped = %+v", e)
	}
	if err := patch(); err != nil {
		t.Fatal(err)
	}
}

func TestLimiterHoldsBackWithoutCalling(t *testing.T) {
	fresh(t)
	one := outbound.Window{Max: 1, Period: time.Minute}
	c := newClient(t, func(cfg *intune.Config) {
		cfg.Limiters = &intune.Limiters{DeviceConfiguration: outbound.NewLimiters(0, one),
			Devices: outbound.NewLimiters(0, one), Identity: outbound.NewLimiters(0, one)}
		cfg.MaxWait = 100 * time.Millisecond
	})
	if _, err := getConnector(c); err != nil {
		t.Fatal(err)
	}
	took, err := getConnector(c)
	e := asOutbound(t, err, outbound.Throttled)
	if e.StatusCode != 0 || e.RetryAfter < 55*time.Second || e.Operation != "GetConnector" || took > time.Second {
		t.Fatalf("held back = %+v after %s", e, took)
	}
	if n := testkit.Calls(t, admin, "GET "+routeConnector); n != 1 {
		t.Fatalf("the held-back call reached the service: %d calls", n)
	}
	// Each service has its own budget.
	if _, err := c.ListManagedDevices(ctx, intune.DeviceFilter{}); err != nil {
		t.Fatal(err)
	}
}

// burst makes n compliance-policy writes (PATCH) to one policy, as fast as the client
// lets it, requeueing like a controller when the client holds a write back. It fails
// on any 429 from the service and returns the time taken and the holds.
func burst(t testing.TB, c intune.Client, n int) (time.Duration, int) {
	t.Helper()
	p, err := c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "burst",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	holds := 0
	start := time.Now()
	for i := 0; i < n; {
		err := c.PatchCompliancePolicy(ctx, p.ID, p.Type, intune.CompliancePolicyPatch{Description: ptr(fmt.Sprintf("write %d", i))})
		if outbound.IsThrottled(err) {
			e := asOutbound(t, err, outbound.Throttled)
			if e.StatusCode != 0 {
				t.Fatalf("write %d was throttled by the service: %v", i, err)
			}
			holds++
			requeue(e.RetryAfter)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		i++
	}
	took := time.Since(start)
	if r := testkit.Route(t, admin, "PATCH "+routePolicy); r.Throttled != 0 || r.Calls != int64(n) {
		t.Fatalf("PATCH calls %d, throttled %d", r.Calls, r.Throttled)
	}
	return took, holds
}

// TestBurstStaysUnderThrottling is the fast variant of BenchmarkBurst300Writes: the
// twin allows 10 writes per 2 s window, the client's limiter is configured with the
// same numbers (with Margin), and 30 writes see no 429.
func TestBurstStaysUnderThrottling(t *testing.T) {
	fresh(t)
	prev, err := admin.Throttling(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.SetThrottling(ctx, prev); err != nil {
			t.Error(err)
		}
	})
	small := adminapi.Throttling{Enabled: true, WindowSeconds: 2, ConfigWrites: 10, ConfigRequests: 100,
		DevicesWrites: 20, DevicesRequests: 200, TenantFactor: 2}
	if _, err := admin.SetThrottling(ctx, small); err != nil {
		t.Fatal(err)
	}
	windows := func(writes, requests int) []outbound.Window {
		return []outbound.Window{{Max: writes, Period: 2 * time.Second, WritesOnly: true}, {Max: requests, Period: 2 * time.Second}}
	}
	c := newClient(t, func(cfg *intune.Config) {
		cfg.Limiters = &intune.Limiters{
			DeviceConfiguration: outbound.NewLimiters(intune.Margin, windows(small.ConfigWrites, small.ConfigRequests)...),
			Devices:             outbound.NewLimiters(intune.Margin, windows(small.DevicesWrites, small.DevicesRequests)...),
			Identity:            outbound.NewLimiters(intune.Margin, windows(small.ConfigWrites, small.ConfigRequests)...),
		}
		// Shorter than a window, so some writes are held back and requeued.
		cfg.MaxWait = 500 * time.Millisecond
	})
	took, holds := burst(t, c, 30)
	t.Logf("30 writes at 10 per 2 s (limiter window +%s): %s, %d held back by the limiter, 0 throttled by the service", intune.Margin, took.Round(time.Millisecond), holds)
	if holds == 0 {
		t.Fatal("the limiter never held a write back")
	}

	// The control: without the limiter the same burst is throttled by the service.
	unlimited := newClient(t, func(cfg *intune.Config) { cfg.MaxWait = 500 * time.Millisecond })
	if err := admin.ResetCalls(ctx); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 15 && last == nil; i++ {
		last = unlimited.PatchCompliancePolicy(ctx, "x", intune.IOSCompliancePolicy, intune.CompliancePolicyPatch{Description: ptr("x")})
		if outbound.IsNotFound(last) {
			last = nil
		}
	}
	if e := asOutbound(t, last, outbound.Throttled); e.StatusCode != 429 || e.RetryAfter <= 0 {
		t.Fatalf("unlimited burst = %+v", e)
	}
}

// TestNonIdempotentCallsAreNeverRetriedBehindTheCallersBack performs what kiota's retry
// handler used to do to a wipe: answer 503 (or 429, or 504) once and watch the SDK send
// the POST again. A device action and a create are sent once per attempt the caller
// records; the error comes back for the caller to decide.
func TestNonIdempotentCallsAreNeverRetriedBehindTheCallersBack(t *testing.T) {
	for _, status := range []int{429, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			fresh(t)
			devs := enrol(t, 1, adminapi.Device{DeviceName: "p", Platform: "Android", OSVersion: "14"})
			c := newClient(t, func(cfg *intune.Config) { cfg.MaxWait = 5 * time.Second })
			route := "POST /v1.0/deviceManagement/managedDevices/{id}/wipe"
			fault(t, adminapi.Fault{Route: route, Status: status, RetryAfter: 1, Count: 1})
			err := c.RunDeviceAction(ctx, devs[0].IntuneID, intune.ActionWipe, nil)
			if err == nil {
				t.Fatal("the refused wipe came back as a success")
			}
			if n := testkit.Calls(t, admin, route); n != 1 {
				t.Fatalf("the wipe was sent %d times for one attempt, want 1", n)
			}
			create := "POST /v1.0/deviceManagement/deviceCompliancePolicies"
			fault(t, adminapi.Fault{Route: create, Status: status, RetryAfter: 1, Count: 1})
			_, err = c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "once",
				ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
			if err == nil {
				t.Fatal("the refused create came back as a success")
			}
			if n := testkit.Calls(t, admin, create); n != 1 {
				t.Fatalf("the create was sent %d times for one attempt, want 1", n)
			}
		})
	}
}
