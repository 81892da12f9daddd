package snapshot

import "time"

// AppInventory is which managed devices Intune reports the connector's Protect app on,
// read from Intune's detected apps, for the platforms the connector declares an app
// for.
type AppInventory struct {
	Taken time.Time
	// platforms are the declared platforms (e.g. "iOS", "AndroidEnterprise").
	platforms map[string]bool
	// has holds the Intune ids of the devices that report the app.
	has map[string]bool
}

// NewAppInventory records that the devices with ids have the app, for platforms.
func NewAppInventory(taken time.Time, platforms []string, ids []string) *AppInventory {
	inv := &AppInventory{Taken: taken, platforms: map[string]bool{}, has: map[string]bool{}}
	for _, p := range platforms {
		inv.platforms[p] = true
	}
	for _, id := range ids {
		inv.has[key(id)] = true
	}
	return inv
}

// Installed says whether the device reports the app; known is false when no app is
// declared for the device's platform (or nothing is read yet: a nil inventory).
func (i *AppInventory) Installed(platform, deviceID string) (installed, known bool) {
	if i == nil || !i.platforms[platform] {
		return false, false
	}
	return i.has[key(deviceID)], true
}

// Inventories keeps the latest AppInventory of each connector.
type Inventories = Keyed[*AppInventory]
