package sim

import (
	"fmt"

	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// seedDemo adds a small believable tenant: two groups, five users, and ten
// phones (Android fully managed and work profile, iOS) enrolled in both
// clouds. No risk assessment is configured, as on a fresh UES tenant.
func seedDemo(st *world.State, t *world.Tenant) error {
	pilot, err := st.AddGroup(t, "", "MTD Pilot", nil)
	if err != nil {
		return err
	}
	staff, err := st.AddGroup(t, "", "All Mobile Staff", nil)
	if err != nil {
		return err
	}
	type phone struct {
		platform, os, model string
		work                bool
	}
	users := []struct {
		name   string
		pilot  bool
		phones []phone
	}{
		{"alice", true, []phone{{world.Android, "14", "Pixel 8", false}, {world.IOS, "17.5", "iPhone 15", false}}},
		{"bob", true, []phone{{world.Android, "13", "Galaxy S23", true}}},
		{"carol", false, []phone{{world.IOS, "16.7", "iPhone 13", false}, {world.IOS, "17.5", "iPad Air", false}}},
		{"dave", false, []phone{{world.Android, "12", "Pixel 6", false}, {world.Android, "14", "Galaxy A55", true}}},
		{"erin", false, []phone{{world.IOS, "15.8", "iPhone SE", false}, {world.Android, "11", "Moto G", false}, {world.IOS, "17.4", "iPhone 14", false}}},
	}
	for _, u := range users {
		groups := []string{staff.ID}
		if u.pilot {
			groups = append(groups, pilot.ID)
		}
		usr, err := st.AddUser(t, world.User{UserPrincipalName: u.name + "@contoso.example", DisplayName: u.name}, groups)
		if err != nil {
			return err
		}
		for i, p := range u.phones {
			if _, err := st.AddDevice(t, world.Device{Name: fmt.Sprintf("%s-%s-%d", u.name, p.platform, i+1),
				Platform: p.platform, OSVersion: p.os, Model: p.model, WorkProfile: p.work, UserID: usr.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}
