package world

import "testing"

func TestValidPackageID(t *testing.T) {
	for id, want := range map[string]bool{
		"com.blackberry.protect.sample": true, "a.b": true, "com.example_app.v2": true,
		"protect": false, "com..example": false, ".com.example": false, "com.1example": false, "com.exa-mple": false, "": false,
	} {
		if got := ValidPackageID(id); got != want {
			t.Errorf("ValidPackageID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestDetectedApps: one entry per name, version and platform, from managed
// devices only, ordered; a re-approval keeps the app's id.
func TestDetectedApps(t *testing.T) {
	w := New()
	w.Run(func(s *State) {
		tn, _ := s.AddTenant("", "t", "")
		var devs []*Device
		for _, d := range []Device{{Platform: IOS}, {Platform: Android, Enrollment: EnrollDedicated}, {Platform: Android, Enrollment: EnrollFullyManaged},
			{Platform: Android}, {Platform: Android, Enrollment: EnrollWorkProfile}} {
			nd, err := s.AddDevice(tn, d)
			if err != nil {
				t.Fatal(err)
			}
			devs = append(devs, nd)
			if err := s.InstallApp(tn, nd.UESID, "com.example.app", "1"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InstallApp(tn, devs[0].IntuneID, "", "1"); err != ErrInvalid {
			t.Fatalf("empty app id: %v", err)
		}
		s.DeviceAction(tn, devs[3], "retire") // no longer reports to Intune
		got := map[string]int{}
		var order []string
		for _, da := range tn.DetectedApps() {
			got[da.Platform] = len(da.Devices)
			order = append(order, da.Platform)
			if tn.DetectedApp(da.ID) == nil {
				t.Errorf("%s not found by id", da.ID)
			}
		}
		if len(got) != 3 || got["ios"] != 1 || got["androidDedicatedAndFullyManaged"] != 2 || got["androidWorkProfile"] != 1 ||
			order[0] != "androidDedicatedAndFullyManaged" || order[2] != "ios" {
			t.Fatalf("detected %v in order %v", got, order)
		}
		a, _ := s.ApproveManagedStoreApp(tn, "com.example.app", "App", "")
		b, _ := s.ApproveManagedStoreApp(tn, "com.example.app", "App 2", "Example")
		if a != b || b.DisplayName != "App 2" || len(tn.MobileAppList()) != 1 {
			t.Fatalf("re-approval %+v %+v", a, b)
		}
	})
}
