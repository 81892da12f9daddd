package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// benchRequests issues requests in parallel and reports requests per second.
func benchRequests(b *testing.B, tw *twin, method, url string, body []byte, want int) {
	b.Helper()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(method, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tw.token)
			req.Header.Set("Content-Type", "application/json")
			res, err := tw.hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// seedDevices enrols n devices straight into the world (the admin API would
// work too, but this keeps setup out of the measurement).
func seedDevices(b *testing.B, tw *twin, n int) {
	b.Helper()
	tw.srv.World.Run(func(st *world.State) {
		t := st.Tenant(tw.env[sim.EnvTenantID])
		u, _ := st.AddUser(t, world.User{UserPrincipalName: "bench@contoso.example"}, nil)
		for i := range n {
			p := world.Android
			if i%3 == 0 {
				p = world.IOS
			}
			if _, err := st.AddDevice(t, world.Device{Name: fmt.Sprint("dev-", i), Platform: p, OSVersion: "14", UserID: u.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDeviceListPage measures managedDevices pages over loopback HTTPS
// (token check, compliance evaluation per device, JSON).
func BenchmarkDeviceListPage(b *testing.B) {
	tw := start(b, noThrottle)
	seedDevices(b, tw, 5000)
	for _, top := range []int{100, 1000} {
		b.Run(fmt.Sprintf("top=%d", top), func(b *testing.B) {
			benchRequests(b, tw, "GET", fmt.Sprintf("%s%s?$top=%d", tw.env[sim.EnvGraphURL], devicesPath, top), nil, 200)
		})
	}
}

// BenchmarkCompliancePolicyWrite measures PATCHes of a compliance policy.
func BenchmarkCompliancePolicyWrite(b *testing.B) {
	tw := start(b, noThrottle)
	r := tw.graph("POST", policiesPath, policyBody(world.AndroidPolicyType, "bench", "low"))
	if r.status != 201 {
		b.Fatalf("create: %s", r.raw)
	}
	body, _ := json.Marshal(map[string]any{"@odata.type": world.AndroidPolicyType, "deviceThreatProtectionRequiredSecurityLevel": "medium"})
	benchRequests(b, tw, "PATCH", tw.env[sim.EnvGraphURL]+policiesPath+"/"+r.str("id"), body, 200)
}

// BenchmarkWorld50k reports the heap held by 50,000 devices (enrolled in
// both clouds and under an assigned MTD policy) and the cost of a
// 1000-device page near the end of the list.
func BenchmarkWorld50k(b *testing.B) {
	tw := start(b, noThrottle)
	expectStatus(b, tw.graph("PATCH", bbConnector, map[string]any{"androidEnabled": true, "iosEnabled": true}), 200)
	r := tw.graph("POST", policiesPath, policyBody(world.AndroidPolicyType, "all", "low"))
	expectStatus(b, tw.graph("POST", policiesPath+"/"+r.str("id")+"/assign", map[string]any{"assignments": []any{
		map[string]any{"target": map[string]any{"@odata.type": world.AllDevicesTarget}}}}), 200)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	seedDevices(b, tw, 50000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	benchRequests(b, tw, "GET", tw.env[sim.EnvGraphURL]+devicesPath+"?$skiptoken=pos-49000", nil, 200)
	// Reported last: ResetTimer (in benchRequests) drops earlier metrics.
	b.ReportMetric(held/(1<<20), "heap-MB/50k")
	b.ReportMetric(held/50000, "heap-B/device")
}
