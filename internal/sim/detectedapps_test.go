package sim_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// detected indexes a detectedApps page by "displayName version platform".
func detected(t *testing.T, r *resp) map[string]map[string]any {
	t.Helper()
	expectStatus(t, r, 200)
	out := map[string]map[string]any{}
	for _, m := range r.list() {
		out[m["displayName"].(string)+" "+m["version"].(string)+" "+m["platform"].(string)] = m
	}
	return out
}

// TestGraphDetectedApps: detectedApps derive from the apps each managed device
// reports, one entry per name, version and platform, with the devices that
// report it; install and uninstall through the admin API show on the next read.
func TestGraphDetectedApps(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: "pat@contoso.example"}))
	devs := map[string]adminapi.DeviceView{}
	for name, d := range map[string]adminapi.Device{
		"iphone": {Platform: world.IOS}, "ipad": {Platform: world.IOS},
		"fm": {Enrollment: world.EnrollFullyManaged}, "dedicated": {Enrollment: world.EnrollDedicated},
		"cope": {Enrollment: world.EnrollCorporateWorkProfile}, "wp": {Enrollment: world.EnrollWorkProfile},
		"da": {Enrollment: world.EnrollDeviceAdministrator},
	} {
		if d.Platform == "" {
			d.Platform = world.Android
		}
		d.DeviceName, d.OSVersion, d.UserID = name, "14", u.ID
		devs[name] = must(tw.admin.CreateDevices(ctx, tid, d)).Devices[0]
	}
	if r := tw.graph("GET", detectedAppsPath, nil); len(r.list()) != 0 || r.status != 200 {
		t.Fatalf("nothing installed yet: %s", r.raw)
	}
	const app = "com.example.protect"
	for name, d := range devs {
		v := "1.0"
		if name == "ipad" {
			v = "2.0"
		}
		must(0, tw.admin.InstallApp(ctx, tid, d.EntraID, app, v))
	}
	must(0, tw.admin.InstallApp(ctx, tid, devs["iphone"].UESID, "com.example.other", "3.1"))

	want := map[string]int{
		app + " 1.0 ios": 1, app + " 2.0 ios": 1, app + " 1.0 androidDedicatedAndFullyManaged": 3,
		app + " 1.0 androidWorkProfile": 1, app + " 1.0 androidDeviceAdministrator": 1, "com.example.other 3.1 ios": 1,
	}
	got := detected(t, tw.graph("GET", detectedAppsPath, nil))
	if len(got) != len(want) {
		t.Fatalf("detected %v", got)
	}
	for k, n := range want {
		m := got[k]
		if m == nil || m["deviceCount"].(float64) != float64(n) || len(m["id"].(string)) != 44 || m["sizeInByte"].(float64) != 0 {
			t.Errorf("%s: %v, want %d devices", k, m, n)
		}
		if _, ok := m["publisher"]; !ok {
			t.Errorf("%s has no publisher property", k)
		}
	}
	fm := got[app+" 1.0 androidDedicatedAndFullyManaged"]["id"].(string)

	t.Run("paging and stable ids", func(t *testing.T) {
		all, pages := tw.listAll(tw.env[sim.EnvGraphURL] + detectedAppsPath + "?$top=4")
		if pages != 2 || len(all) != len(want) {
			t.Fatalf("%d items in %d pages", len(all), pages)
		}
		if again := detected(t, tw.graph("GET", detectedAppsPath, nil)); again[app+" 1.0 androidDedicatedAndFullyManaged"]["id"] != fm {
			t.Fatalf("id changed between reads")
		}
		r := tw.graph("GET", detectedAppsPath+"/"+fm, nil)
		if expectStatus(t, r, 200); r.str("displayName") != app || r.body["deviceCount"].(float64) != 3 {
			t.Fatalf("get %s", r.raw)
		}
		expectGraphError(t, tw.graph("GET", detectedAppsPath+"?$top=x", nil), 400, "BadRequest", "$top")
	})
	t.Run("managed devices of an app", func(t *testing.T) {
		r := tw.graph("GET", detectedAppsPath+"/"+fm+"/managedDevices?$select=id", nil)
		expectStatus(t, r, 200)
		var got []string
		for _, m := range r.list() {
			if len(m) != 1 {
				t.Fatalf("$select=id answered %v", m)
			}
			got = append(got, m["id"].(string))
		}
		slices.Sort(got)
		wantIDs := []string{devs["fm"].IntuneID, devs["dedicated"].IntuneID, devs["cope"].IntuneID}
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("devices %v, want %v", got, wantIDs)
		}
		all, pages := tw.listAll(tw.env[sim.EnvGraphURL] + detectedAppsPath + "/" + fm + "/managedDevices?$top=2&$select=id,deviceName")
		if pages != 2 || len(all) != 3 || all[0]["deviceName"] == nil {
			t.Fatalf("paged devices %v in %d pages", all, pages)
		}
		full := tw.graph("GET", detectedAppsPath+"/"+fm+"/managedDevices", nil)
		if l := full.list(); len(l) != 3 || l[0]["operatingSystem"] != world.Android {
			t.Fatalf("full devices %s", full.raw)
		}
		expectGraphError(t, tw.graph("GET", detectedAppsPath+"/"+fm+"/managedDevices?$select=bogus", nil), 400, "BadRequest", "'bogus'")
		expectGraphError(t, tw.graph("GET", detectedAppsPath+"/nothing/managedDevices", nil), 404, "ResourceNotFound", "detectedApp")
		expectGraphError(t, tw.graph("GET", detectedAppsPath+"/nothing", nil), 404, "ResourceNotFound", "detectedApp")
	})
	t.Run("uninstall and retire", func(t *testing.T) {
		must(0, tw.admin.UninstallApp(ctx, tid, devs["fm"].IntuneID, app))
		expectStatus(t, tw.graph("POST", devicesPath+"/"+devs["dedicated"].IntuneID+"/retire", nil), 204)
		must(0, tw.admin.UninstallApp(ctx, tid, devs["ipad"].IntuneID, app))
		got := detected(t, tw.graph("GET", detectedAppsPath, nil))
		if got[app+" 1.0 androidDedicatedAndFullyManaged"]["deviceCount"].(float64) != 1 || got[app+" 2.0 ios"] != nil || len(got) != 5 {
			t.Fatalf("after uninstall %v", got)
		}
		r := tw.graph("GET", detectedAppsPath+"/"+fm+"/managedDevices?$select=id", nil)
		if l := r.list(); len(l) != 1 || l[0]["id"] != devs["cope"].IntuneID {
			t.Fatalf("devices after uninstall %s", r.raw)
		}
		if v := must(tw.admin.Device(ctx, tid, devs["iphone"].IntuneID)); len(v.Apps) != 2 || v.Apps[0].AppID != "com.example.other" || v.Apps[1].Version != "1.0" {
			t.Fatalf("admin device apps %+v", v.Apps)
		}
	})
	t.Run("admin errors", func(t *testing.T) {
		var e *simclient.Error
		for name, tc := range map[string]struct {
			err    error
			status int
		}{
			"unknown device":  {tw.admin.InstallApp(ctx, tid, world.NewID(), app, "1.0"), 404},
			"no version":      {tw.admin.InstallApp(ctx, tid, devs["iphone"].IntuneID, app, ""), 400},
			"not installed":   {tw.admin.UninstallApp(ctx, tid, devs["iphone"].IntuneID, "com.example.none"), 404},
			"uninstall again": {tw.admin.UninstallApp(ctx, tid, devs["fm"].IntuneID, app), 404},
		} {
			if !errors.As(tc.err, &e) || e.Status != tc.status || e.Message == "" {
				t.Errorf("%s: %v, want %d", name, tc.err, tc.status)
			}
		}
		r := tw.call("PUT", tw.env[sim.EnvAdminURL]+"/tenants/"+tid+"/devices/"+devs["iphone"].IntuneID+"/apps/"+app, "",
			map[string]any{"appIdentifier": "com.example.else", "version": "1"})
		if r.status != 400 || r.str("error") == "" {
			t.Fatalf("mismatched body %d %s", r.status, r.raw)
		}
	})
}

// TestDemoProtectApp: the demo world has the Protect app approved in Managed Google
// Play and installed on every phone but one iPhone, also after a reset.
func TestDemoProtectApp(t *testing.T) {
	tw := start(t, noThrottle, func(o *sim.Options) { o.SeedDemo = true })
	tid := tw.env[sim.EnvTenantID]
	check := func(t *testing.T) {
		r := tw.beta("GET", appsPath+isof(world.AndroidManagedStoreAppType), nil)
		expectStatus(t, r, 200)
		if l := r.list(); len(l) != 1 || l[0]["packageId"] != sim.DemoProtectAppID || l[0]["displayName"] != "BlackBerry Protect Mobile" ||
			l[0]["publisher"] != "BlackBerry" || l[0]["publishingState"] != "published" {
			t.Fatalf("managed store apps %s", r.raw)
		}
		byPlatform := map[string]float64{}
		total := 0.0
		for _, m := range tw.graph("GET", detectedAppsPath, nil).list() {
			if m["displayName"] != sim.DemoProtectAppID {
				t.Fatalf("unexpected detected app %v", m)
			}
			byPlatform[m["platform"].(string)] += m["deviceCount"].(float64)
			total += m["deviceCount"].(float64)
		}
		if want := map[string]float64{"ios": 4, "androidDedicatedAndFullyManaged": 2, "androidWorkProfile": 2, "androidDeviceAdministrator": 1}; total != 9 ||
			len(byPlatform) != len(want) {
			t.Fatalf("detected by platform %v, want %v", byPlatform, want)
		}
		var without []string
		for _, d := range must(tw.admin.Snapshot(ctx)).Tenants[0].Devices {
			if len(d.Apps) == 0 {
				without = append(without, d.DeviceName)
				if d.Platform != world.IOS {
					t.Errorf("%s is not an iPhone", d.DeviceName)
				}
			}
		}
		if !slices.Equal(without, []string{sim.DemoPhoneWithoutProtect}) {
			t.Fatalf("phones without the app %v", without)
		}
	}
	t.Run("seeded", check)
	must(0, tw.admin.InstallApp(ctx, tid, must(tw.admin.Snapshot(ctx)).Tenants[0].Devices[0].IntuneID, "com.example.extra", "1"))
	must(0, tw.admin.Reset(ctx))
	t.Run("after reset", check)
}
