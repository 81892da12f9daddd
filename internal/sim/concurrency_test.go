package sim_test

import (
	"sync"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// TestConcurrentUse drives all three APIs and the admin API at once (run
// with -race) and checks the world ends consistent.
func TestConcurrentUse(t *testing.T) {
	tw := start(t, noThrottle, modelled) // the alert listing races the detections
	tw.apply(defaultSetup())
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: "c@contoso.example"}))
	devs := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "c", Platform: world.Android, OSVersion: "14", UserID: u.ID, Count: 20})).Devices
	uesTok := tw.uesToken("")
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			for range 5 {
				if _, err := tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"}); err != nil {
					t.Error(err)
				}
				if _, err := tw.admin.Remediate(ctx, tid, d.UESID, ""); err != nil {
					t.Error(err)
				}
			}
			if i%2 == 0 {
				_, _ = tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication"})
			}
		})
		wg.Go(func() {
			for range 3 {
				if r := tw.graph("GET", devicesPath+"?$top=10", nil); r.status != 200 {
					t.Errorf("list %d", r.status)
				}
				if r := tw.ues("GET", "/mobilealerts/v1?status=active", uesTok, nil); r.status != 200 {
					t.Errorf("alerts %d", r.status)
				}
				if _, err := tw.admin.AppAccess(ctx, tid, adminapi.AppAccess{Device: d.EntraID, App: world.ExchangeOnlineApp}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i, d := range devs {
		c, th := tw.intune(d)
		want, wantTh := "compliant", "secured"
		if i%2 == 0 {
			want, wantTh = "noncompliant", "highSeverity"
		}
		if c != want || th != wantTh {
			t.Errorf("device %d: %s/%s, want %s/%s", i, c, th, want, wantTh)
		}
	}
}
