package sim

import (
	"fmt"

	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Ids the samples in config/samples refer to, so that they apply to the demo world
// unchanged: the groups of the DeviceRiskPolicy and MTDConnector samples, and the
// "lost phone" of the ThreatRemediation sample.
const (
	DemoMobileUsersGroup = "2a8f4c6e-1b3d-4e5f-8a7b-9c0d1e2f3a4b"
	DemoExclusionsGroup  = "6b1d3f5a-7c9e-4b2d-8f0a-1c3e5a7b9d2f"
	DemoBreakGlassGroup  = "9e7c5a3b-1d2f-4e6a-8b0c-3d5f7a9b1c2e"
	DemoExecutivesGroup  = "0f6e2b3c-9d41-4a7e-8c52-1b3a4d5e6f70"
	DemoLostPhone        = "8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4a"
)

// The Protect app in the demo world. The ids are placeholders, clearly
// samples: real bundle and package ids are not verified.
const (
	DemoProtectAppID        = "com.blackberry.protect.sample" // iOS bundle id and Android package id
	DemoProtectAppName      = "BlackBerry Protect Mobile"
	DemoProtectAppPublisher = "BlackBerry"
	DemoProtectAppVersion   = "1.0.0"
	// DemoPhoneWithoutProtect is the one phone that does not report the app:
	// carol's iPhone 13, which no threat scenario of the demo uses.
	DemoPhoneWithoutProtect = "carol-iOS-1"
)

// seedDemo adds a small believable tenant: the samples' groups, five users, and ten
// phones (Android device administrator and work profile, iOS) enrolled in both
// clouds, and the Protect app (seedDemoProtectApp). No risk assessment is configured,
// as on a fresh UES tenant.
func seedDemo(st *world.State, t *world.Tenant) error {
	pilot, err := st.AddGroup(t, DemoExclusionsGroup, "MTD Pilot exclusions", nil)
	if err != nil {
		return err
	}
	staff, err := st.AddGroup(t, DemoMobileUsersGroup, "Mobile users", nil)
	if err != nil {
		return err
	}
	if _, err := st.AddGroup(t, DemoBreakGlassGroup, "Break-glass accounts", nil); err != nil {
		return err
	}
	execs, err := st.AddGroup(t, DemoExecutivesGroup, "Executives (protected devices)", nil)
	if err != nil {
		return err
	}
	// Company Android phones are Android Enterprise (alice's fully managed, dave's
	// dedicated), personal ones have a work profile (bob's, dave's second); erin's old
	// Moto G is still enrolled with device administrator, which Intune no longer supports.
	type phone struct {
		platform, os, model string
		enrollment          string
		entraID             string
	}
	users := []struct {
		name        string
		pilot, exec bool
		phones      []phone
	}{
		{"alice", false, false, []phone{{world.Android, "14", "Pixel 8", world.EnrollFullyManaged, ""}, {world.IOS, "17.5", "iPhone 15", "", ""}}},
		{"bob", true, false, []phone{{world.Android, "13", "Galaxy S23", world.EnrollWorkProfile, ""}}},
		{"carol", false, true, []phone{{world.IOS, "16.7", "iPhone 13", "", ""}, {world.IOS, "17.5", "iPad Air", "", ""}}},
		{"dave", false, false, []phone{{world.Android, "12", "Pixel 6", world.EnrollDedicated, ""}, {world.Android, "14", "Galaxy A55", world.EnrollWorkProfile, DemoLostPhone}}},
		{"erin", false, false, []phone{{world.IOS, "15.8", "iPhone SE", "", ""}, {world.Android, "11", "Moto G", world.EnrollDeviceAdministrator, ""}, {world.IOS, "17.4", "iPhone 14", "", ""}}},
	}
	for _, u := range users {
		groups := []string{staff.ID}
		if u.pilot {
			groups = append(groups, pilot.ID)
		}
		if u.exec {
			groups = append(groups, execs.ID)
		}
		usr, err := st.AddUser(t, world.User{UserPrincipalName: u.name + "@contoso.example", DisplayName: u.name}, groups)
		if err != nil {
			return err
		}
		for i, p := range u.phones {
			if _, err := st.AddDevice(t, world.Device{EntraID: p.entraID, Name: fmt.Sprintf("%s-%s-%d", u.name, p.platform, i+1),
				Platform: p.platform, OSVersion: p.os, Model: p.model, Enrollment: p.enrollment, UserID: usr.ID}); err != nil {
				return err
			}
		}
	}
	return seedDemoProtectApp(st, t)
}

// seedDemoProtectApp puts the Protect app in the demo world: the Android
// package approved in Managed Google Play (so Intune has its
// androidManagedStoreApp; the iOS store app is the operator's to create), and
// the app installed on every managed device but DemoPhoneWithoutProtect, so
// detectedApps shows one phone without it.
func seedDemoProtectApp(st *world.State, t *world.Tenant) error {
	if _, err := st.ApproveManagedStoreApp(t, DemoProtectAppID, DemoProtectAppName, DemoProtectAppPublisher); err != nil {
		return err
	}
	for _, d := range t.ManagedDevices() {
		if d.Name == DemoPhoneWithoutProtect {
			continue
		}
		if err := st.InstallApp(t, d.IntuneID, DemoProtectAppID, DemoProtectAppVersion); err != nil {
			return err
		}
	}
	return nil
}
