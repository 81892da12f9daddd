package world

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"
)

// Mobile app and app configuration types the twin models. iosStoreApp and
// iosMobileAppConfiguration are Graph v1.0 types; androidManagedStoreApp only
// Graph beta has, and it is never created through Graph: Intune adds it when
// an admin approves the app in Managed Google Play and the tenant syncs.
const (
	IOSStoreAppType            = "#microsoft.graph.iosStoreApp"
	AndroidManagedStoreAppType = "#microsoft.graph.androidManagedStoreApp"
	IOSAppConfigurationType    = "#microsoft.graph.iosMobileAppConfiguration"
)

// Publishing states (mobileAppPublishingState); only a published app can be
// assigned.
const (
	PublishingNotPublished = "notPublished"
	PublishingProcessing   = "processing"
	PublishingPublished    = "published"
)

// PublishingStates are every mobileAppPublishingState.
var PublishingStates = []string{PublishingNotPublished, PublishingProcessing, PublishingPublished}

// MobileApp is an Intune mobileApp: an iosStoreApp or an
// androidManagedStoreApp. Graph validates what it stores.
type MobileApp struct {
	ID          string
	ODataType   string
	DisplayName string
	Publisher   string
	Description string
	// BundleID is an iosStoreApp's bundleId, an androidManagedStoreApp's
	// packageId (and appIdentifier).
	BundleID    string
	AppStoreURL string
	// DeviceTypes and MinimumOS are an iosStoreApp's applicableDeviceType and
	// minimumSupportedOperatingSystem flags, every flag present.
	DeviceTypes map[string]bool
	MinimumOS   map[string]bool
	// Extra keeps the other writable mobileApp properties as written
	// (notes, informationUrl, isFeatured, ...).
	Extra           map[string]any
	PublishingState string
	Created         time.Time
	Modified        time.Time
	Assignments     []AppAssignment
}

// AppAssignment is a mobileAppAssignment.
type AppAssignment struct {
	ID       string         `json:"id"`
	Intent   string         `json:"intent"`
	Target   Target         `json:"target"`
	Settings map[string]any `json:"settings"` // as written, with its @odata.type; nil = none
}

// Clone copies the app deeply enough for a change that may be refused.
func (a *MobileApp) Clone() *MobileApp {
	c := *a
	c.DeviceTypes, c.MinimumOS, c.Extra = maps.Clone(a.DeviceTypes), maps.Clone(a.MinimumOS), maps.Clone(a.Extra)
	c.Assignments = slices.Clone(a.Assignments)
	return &c
}

// AppConfiguration is a managedDeviceMobileAppConfiguration (the twin models
// iosMobileAppConfiguration).
type AppConfiguration struct {
	ID           string
	ODataType    string
	DisplayName  string
	Description  string
	TargetedApps []string // mobile app ids, kept when an app is deleted, as Intune does
	Settings     []AppConfigSetting
	// EncodedSettingXML is the base64 plist; a configuration has it or
	// Settings, never both.
	EncodedSettingXML string
	Version           int32
	Created           time.Time
	Modified          time.Time
	Assignments       []Assignment
}

// AppConfigSetting is an appConfigurationSettingItem.
type AppConfigSetting struct {
	Key   string `json:"appConfigKey"`
	Type  string `json:"appConfigKeyType"`
	Value string `json:"appConfigKeyValue"`
}

// Clone copies the configuration deeply enough for a change that may be
// refused.
func (c *AppConfiguration) Clone() *AppConfiguration {
	o := *c
	o.TargetedApps, o.Settings, o.Assignments = slices.Clone(c.TargetedApps), slices.Clone(c.Settings), slices.Clone(c.Assignments)
	return &o
}

// AppStats counts a tenant's successful Graph writes on mobile apps and app
// configurations, so tests can assert "one create", "no second assign".
type AppStats struct {
	AppCreates    int `json:"appCreates"`
	AppPatches    int `json:"appPatches"`
	AppDeletes    int `json:"appDeletes"`
	AppAssigns    int `json:"appAssigns"`
	ConfigCreates int `json:"configurationCreates"`
	ConfigPatches int `json:"configurationPatches"`
	ConfigDeletes int `json:"configurationDeletes"`
	ConfigAssigns int `json:"configurationAssigns"`
}

// --- Mobile apps ---

// MobileAppList returns the tenant's mobile apps in creation order.
func (t *Tenant) MobileAppList() []*MobileApp {
	out := make([]*MobileApp, len(t.mobileAppIDs))
	for i, id := range t.mobileAppIDs {
		out[i] = t.mobileApps[id]
	}
	return out
}

// MobileApp returns a mobile app by id, or nil.
func (t *Tenant) MobileApp(id string) *MobileApp { return t.mobileApps[id] }

// PutMobileApp stores a new app or replaces the one with its id.
func (s *State) PutMobileApp(t *Tenant, a *MobileApp) {
	if t.mobileApps[a.ID] == nil {
		t.mobileAppIDs = append(t.mobileAppIDs, a.ID)
	}
	t.mobileApps[a.ID] = a
}

// DeleteMobileApp removes an app and with it its assignments; app
// configurations targeting it keep its id.
func (s *State) DeleteMobileApp(t *Tenant, id string) bool {
	if t.mobileApps[id] == nil {
		return false
	}
	delete(t.mobileApps, id)
	t.mobileAppIDs = slices.DeleteFunc(t.mobileAppIDs, func(x string) bool { return x == id })
	return true
}

// ManagedStoreApp returns the androidManagedStoreApp of a package, or nil.
func (t *Tenant) ManagedStoreApp(packageID string) *MobileApp {
	for _, id := range t.mobileAppIDs {
		if a := t.mobileApps[id]; a.ODataType == AndroidManagedStoreAppType && a.BundleID == packageID {
			return a
		}
	}
	return nil
}

// ValidPackageID reports whether id is an Android application id: two or
// more dot-separated segments, each a letter followed by letters, digits or
// underscores.
func ValidPackageID(id string) bool {
	segs := strings.Split(id, ".")
	if len(segs) < 2 {
		return false
	}
	for _, seg := range segs {
		if seg == "" || !isLetter(seg[0]) {
			return false
		}
		for i := 1; i < len(seg); i++ {
			if c := seg[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' {
				return false
			}
		}
	}
	return true
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// ApproveManagedStoreApp is an admin approving an app in Managed Google Play
// and Intune syncing: the package's androidManagedStoreApp appears, published,
// or, approved again, takes the new name and publisher (its id and
// assignments stay). A package id that is not an Android application id or an
// empty display name is ErrInvalid.
func (s *State) ApproveManagedStoreApp(t *Tenant, packageID, displayName, publisher string) (*MobileApp, error) {
	if !ValidPackageID(packageID) || strings.TrimSpace(displayName) == "" {
		return nil, ErrInvalid
	}
	a := t.ManagedStoreApp(packageID)
	if a == nil {
		a = &MobileApp{ID: NewID(), ODataType: AndroidManagedStoreAppType, BundleID: packageID, Extra: map[string]any{},
			AppStoreURL: "https://play.google.com/store/apps/details?id=" + packageID, Created: s.Now}
		s.PutMobileApp(t, a)
	}
	a.DisplayName, a.Publisher, a.PublishingState, a.Modified = displayName, publisher, PublishingPublished, s.Now
	return a, nil
}

// RemoveManagedStoreApp is the app's approval withdrawn and synced: the
// androidManagedStoreApp and its assignments go.
func (s *State) RemoveManagedStoreApp(t *Tenant, packageID string) error {
	a := t.ManagedStoreApp(packageID)
	if a == nil {
		return ErrNotFound
	}
	s.DeleteMobileApp(t, a.ID)
	return nil
}

// --- App configurations ---

// AppConfigurationList returns the tenant's app configurations in creation
// order.
func (t *Tenant) AppConfigurationList() []*AppConfiguration {
	out := make([]*AppConfiguration, len(t.appConfigIDs))
	for i, id := range t.appConfigIDs {
		out[i] = t.appConfigs[id]
	}
	return out
}

// AppConfiguration returns an app configuration by id, or nil.
func (t *Tenant) AppConfiguration(id string) *AppConfiguration { return t.appConfigs[id] }

// PutAppConfiguration stores a new configuration or replaces the one with its
// id.
func (s *State) PutAppConfiguration(t *Tenant, c *AppConfiguration) {
	if t.appConfigs[c.ID] == nil {
		t.appConfigIDs = append(t.appConfigIDs, c.ID)
	}
	t.appConfigs[c.ID] = c
}

// DeleteAppConfiguration removes an app configuration.
func (s *State) DeleteAppConfiguration(t *Tenant, id string) bool {
	if t.appConfigs[id] == nil {
		return false
	}
	delete(t.appConfigs, id)
	t.appConfigIDs = slices.DeleteFunc(t.appConfigIDs, func(x string) bool { return x == id })
	return true
}

// --- Installed and detected apps ---

// InstallApp makes the device (any of its ids) report appID at version; a
// second install replaces the version. Unknown device: ErrNotFound; empty
// app id or version: ErrInvalid.
func (s *State) InstallApp(t *Tenant, deviceID, appID, version string) error {
	d := t.Device(deviceID)
	if d == nil {
		return ErrNotFound
	}
	if strings.TrimSpace(appID) == "" || strings.TrimSpace(version) == "" {
		return ErrInvalid
	}
	if d.InstalledApps == nil {
		d.InstalledApps = map[string]string{}
	}
	d.InstalledApps[appID] = version
	return nil
}

// UninstallApp removes appID from the device; ErrNotFound when the device is
// unknown or does not have it.
func (s *State) UninstallApp(t *Tenant, deviceID, appID string) error {
	d := t.Device(deviceID)
	if d == nil || d.InstalledApps[appID] == "" {
		return ErrNotFound
	}
	delete(d.InstalledApps, appID)
	return nil
}

// DetectedApp is one of Intune's detectedApps: the managed devices that
// report an app of one name and version on one platform.
type DetectedApp struct {
	ID          string
	DisplayName string
	Version     string
	Platform    string // detectedAppPlatformType
	Devices     []*Device
}

// DetectedAppPlatform is the detectedAppPlatformType a device reports its apps
// under.
func DetectedAppPlatform(d *Device) string {
	switch {
	case d.Platform == IOS:
		return "ios"
	case d.CorporateAndroidEnterprise():
		return "androidDedicatedAndFullyManaged"
	case d.Enrollment == EnrollWorkProfile:
		return "androidWorkProfile"
	case d.Enrollment == EnrollDeviceAdministrator:
		return "androidDeviceAdministrator"
	}
	return "unknown"
}

// detectedAppID is a stable opaque id of (name, version, platform), as long
// as Intune's (44 hex digits).
func detectedAppID(name, version, platform string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + version + "\x00" + platform))
	return hex.EncodeToString(sum[:])[:44]
}

// DetectedApps derives the tenant's detected apps from what its managed
// devices report, ordered by name, version and platform; each lists its
// devices in enrolment order.
func (t *Tenant) DetectedApps() []*DetectedApp {
	byKey := map[[3]string]*DetectedApp{}
	for _, d := range t.intune {
		platform := DetectedAppPlatform(d)
		for name, version := range d.InstalledApps {
			k := [3]string{name, version, platform}
			da := byKey[k]
			if da == nil {
				da = &DetectedApp{ID: detectedAppID(name, version, platform), DisplayName: name, Version: version, Platform: platform}
				byKey[k] = da
			}
			da.Devices = append(da.Devices, d)
		}
	}
	out := slices.Collect(maps.Values(byKey))
	slices.SortFunc(out, func(a, b *DetectedApp) int {
		return strings.Compare(a.DisplayName+"\x00"+a.Version+"\x00"+a.Platform, b.DisplayName+"\x00"+b.Version+"\x00"+b.Platform)
	})
	return out
}

// DetectedApp returns one detected app by id, or nil.
func (t *Tenant) DetectedApp(id string) *DetectedApp {
	for _, da := range t.DetectedApps() {
		if da.ID == id {
			return da
		}
	}
	return nil
}
