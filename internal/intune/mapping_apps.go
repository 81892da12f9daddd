package intune

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// This file maps apps, app configurations and detected apps between the package's
// plain types and msgraph-sdk-go's models; every function is pure.

// Type annotations the service wants on the items of assign and configuration bodies,
// which msgraph-sdk-go's constructors leave unset. Graph's own examples write the
// setting item's without the leading '#'.
const (
	mobileAppAssignmentType        = "#microsoft.graph.mobileAppAssignment"
	appConfigurationAssignmentType = "#microsoft.graph.managedDeviceMobileAppConfigurationAssignment"
	appConfigSettingItemType       = "microsoft.graph.appConfigurationSettingItem"
	// iosAppConfigurationType is the only configuration type the operator manages.
	iosAppConfigurationType = "#microsoft.graph.iosMobileAppConfiguration"
)

// iosMinimumOSFlag is one boolean of iosMinimumOperatingSystem that msgraph-sdk-go
// (Graph v1.0) models, from v8_0 to v15_0.
type iosMinimumOSFlag struct {
	major int
	get   func(models.IosMinimumOperatingSystemable) *bool
	set   func(models.IosMinimumOperatingSystemable, *bool)
}

var iosMinimumOSFlags = []iosMinimumOSFlag{
	{8, models.IosMinimumOperatingSystemable.GetV80, models.IosMinimumOperatingSystemable.SetV80},
	{9, models.IosMinimumOperatingSystemable.GetV90, models.IosMinimumOperatingSystemable.SetV90},
	{10, models.IosMinimumOperatingSystemable.GetV100, models.IosMinimumOperatingSystemable.SetV100},
	{11, models.IosMinimumOperatingSystemable.GetV110, models.IosMinimumOperatingSystemable.SetV110},
	{12, models.IosMinimumOperatingSystemable.GetV120, models.IosMinimumOperatingSystemable.SetV120},
	{13, models.IosMinimumOperatingSystemable.GetV130, models.IosMinimumOperatingSystemable.SetV130},
	{14, models.IosMinimumOperatingSystemable.GetV140, models.IosMinimumOperatingSystemable.SetV140},
	{15, models.IosMinimumOperatingSystemable.GetV150, models.IosMinimumOperatingSystemable.SetV150},
}

// minimumOSToModel sets the flag of version v ("13.0", or "13") true and every other
// flag Graph v1.0 has false: Graph documents that exactly one is true.
func minimumOSToModel(v string) (models.IosMinimumOperatingSystemable, error) {
	major, ok := iosMajor(v)
	i := slices.IndexFunc(iosMinimumOSFlags, func(f iosMinimumOSFlag) bool { return f.major == major })
	if !ok || i < 0 {
		return nil, fmt.Errorf("minimum iOS version %q: Graph v1.0 has the versions 8.0 to 15.0", v)
	}
	m := models.NewIosMinimumOperatingSystem()
	for j, f := range iosMinimumOSFlags {
		on := j == i
		f.set(m, &on)
	}
	return m, nil
}

// iosMajor reads "13.0" or "13"; a minor version other than 0 has no flag.
func iosMajor(v string) (int, bool) {
	major, minor, hasMinor := strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(major)
	if err != nil || (hasMinor && minor != "0") {
		return 0, false
	}
	return n, true
}

// newerIOSFlag matches a flag msgraph-sdk-go does not model (v16_0, which Graph beta
// has), which the parser keeps in the additional data.
var newerIOSFlag = regexp.MustCompile(`^v(\d+)_0$`)

// minimumOSFromModel is the lowest version whose flag is true, "" for none.
func minimumOSFromModel(m models.IosMinimumOperatingSystemable) string {
	if m == nil {
		return ""
	}
	lowest := 0
	for _, f := range iosMinimumOSFlags {
		if deref(f.get(m)) {
			lowest = f.major
			break
		}
	}
	for k, v := range m.GetAdditionalData() {
		sub := newerIOSFlag.FindStringSubmatch(k)
		if sub == nil || !isTrue(v) {
			continue
		}
		if n, err := strconv.Atoi(sub[1]); err == nil && (lowest == 0 || n < lowest) {
			lowest = n
		}
	}
	if lowest == 0 {
		return ""
	}
	return strconv.Itoa(lowest) + ".0"
}

// isTrue reads a boolean of the additional data, which the JSON parser keeps as *bool.
func isTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case *bool:
		return deref(b)
	}
	return false
}

// iosStoreAppToModel is the create body: the descriptive fields of app, for iPad and
// iPhone/iPod. Server-set fields and assignments are not sent.
func iosStoreAppToModel(app StoreApp) (*models.IosStoreApp, error) {
	m := models.NewIosStoreApp()
	m.SetDisplayName(clone(&app.DisplayName))
	m.SetPublisher(clone(&app.Publisher))
	if app.Description != "" {
		m.SetDescription(clone(&app.Description))
	}
	m.SetBundleId(clone(&app.BundleID))
	m.SetAppStoreUrl(clone(&app.AppStoreURL))
	devices := models.NewIosDeviceType()
	on := true
	devices.SetIPad(clone(&on))
	devices.SetIPhoneAndIPod(clone(&on))
	m.SetApplicableDeviceType(devices)
	return m, setMinimumOS(m, app.MinimumOS)
}

// setMinimumOS sets the app's minimum iOS, when one is given.
func setMinimumOS(m *models.IosStoreApp, version string) error {
	if version == "" {
		return nil
	}
	os, err := minimumOSToModel(version)
	if err != nil {
		return err
	}
	m.SetMinimumSupportedOperatingSystem(os)
	return nil
}

// iosStoreAppPatchToModel is the PATCH body: of the app's type (so it carries the
// @odata.type the service checks), with displayName, publisher, description (also
// empty, which clears it), appStoreUrl and, when set, minimumSupportedOperatingSystem.
// bundleId is not patchable: a different one is another app.
func iosStoreAppPatchToModel(app StoreApp) (*models.IosStoreApp, error) {
	m := models.NewIosStoreApp()
	m.SetDisplayName(clone(&app.DisplayName))
	m.SetPublisher(clone(&app.Publisher))
	m.SetDescription(clone(&app.Description))
	m.SetAppStoreUrl(clone(&app.AppStoreURL))
	return m, setMinimumOS(m, app.MinimumOS)
}

// storeAppFromModel maps an iosStoreApp or a managedStoreApp; ok is false for any other
// type (also for a managed store app v1.0 showed as the base type).
func storeAppFromModel(m models.MobileAppable) (a StoreApp, ok bool) {
	a = StoreApp{
		ID:              deref(m.GetId()),
		DisplayName:     deref(m.GetDisplayName()),
		Publisher:       deref(m.GetPublisher()),
		Description:     deref(m.GetDescription()),
		Type:            AppType(deref(m.GetOdataType())),
		PublishingState: enumString(m.GetPublishingState()),
		Assignments:     appAssignmentsFromModel(m.GetAssignments()),
	}
	switch v := m.(type) {
	case models.IosStoreAppable:
		a.Type = AppIOSStore
		a.BundleID = deref(v.GetBundleId())
		a.AppStoreURL = deref(v.GetAppStoreUrl())
		a.MinimumOS = minimumOSFromModel(v.GetMinimumSupportedOperatingSystem())
		return a, true
	case *managedStoreApp:
		a.Type = AppAndroidManagedStore
		a.BundleID = deref(v.GetPackageId())
		if a.BundleID == "" {
			a.BundleID = deref(v.GetAppIdentifier())
		}
		a.AppStoreURL = deref(v.GetAppStoreUrl())
		return a, true
	}
	return StoreApp{}, false
}

// appAssignmentsToModel never returns nil: an empty set must serialise as [] so that
// assign clears every assignment. Assignment settings are not sent (Intune's defaults).
func appAssignmentsToModel(as []AppAssignment) ([]models.MobileAppAssignmentable, error) {
	out := make([]models.MobileAppAssignmentable, 0, len(as))
	for _, a := range as {
		intent, err := parseEnum[models.InstallIntent](models.ParseInstallIntent, string(a.Intent))
		if err != nil || intent == nil {
			return nil, fmt.Errorf("intent: unknown value %q", a.Intent)
		}
		tgt, err := targetToModel(a.Target)
		if err != nil {
			return nil, err
		}
		m := models.NewMobileAppAssignment()
		typ := mobileAppAssignmentType
		m.SetOdataType(&typ)
		m.SetIntent(intent)
		m.SetTarget(tgt)
		out = append(out, m)
	}
	return out, nil
}

func appAssignmentsFromModel(as []models.MobileAppAssignmentable) []AppAssignment {
	var out []AppAssignment
	for _, a := range as {
		if t, ok := targetFromModel(a.GetTarget()); ok {
			out = append(out, AppAssignment{Intent: AppIntent(enumString(a.GetIntent())), Target: t})
		}
	}
	return out
}

// appConfigurationToModel maps every field of c but the server-set ones. For a PATCH
// the description is sent also when empty (which clears it); the settings are always
// sent whole, as [] for none.
func appConfigurationToModel(c AppConfiguration, patch bool) (*models.IosMobileAppConfiguration, error) {
	m := models.NewIosMobileAppConfiguration()
	m.SetDisplayName(clone(&c.DisplayName))
	if patch || c.Description != "" {
		m.SetDescription(clone(&c.Description))
	}
	m.SetTargetedMobileApps(nonNil(c.TargetedAppIDs))
	items := make([]models.AppConfigurationSettingItemable, 0, len(c.Settings))
	for _, s := range c.Settings {
		typ, err := parseEnum[models.MdmAppConfigKeyType](models.ParseMdmAppConfigKeyType, string(s.Type))
		if err != nil || typ == nil {
			return nil, fmt.Errorf("setting %q: appConfigKeyType: unknown value %q", s.Key, s.Type)
		}
		it := models.NewAppConfigurationSettingItem()
		odataType := appConfigSettingItemType
		it.SetOdataType(&odataType)
		it.SetAppConfigKey(clone(&s.Key))
		it.SetAppConfigKeyType(typ)
		it.SetAppConfigKeyValue(clone(&s.Value))
		items = append(items, it)
	}
	m.SetSettings(items)
	return m, nil
}

// appConfigurationFromModel maps an iosMobileAppConfiguration; ok is false for any
// other type.
func appConfigurationFromModel(m models.ManagedDeviceMobileAppConfigurationable) (AppConfiguration, bool) {
	ios, ok := m.(models.IosMobileAppConfigurationable)
	if !ok || deref(m.GetOdataType()) != iosAppConfigurationType {
		return AppConfiguration{}, false
	}
	c := AppConfiguration{
		ID:             deref(m.GetId()),
		DisplayName:    deref(m.GetDisplayName()),
		Description:    deref(m.GetDescription()),
		TargetedAppIDs: nilIfEmpty(m.GetTargetedMobileApps()),
		Version:        deref(m.GetVersion()),
	}
	for _, s := range ios.GetSettings() {
		if s == nil {
			continue
		}
		c.Settings = append(c.Settings, AppConfigSetting{
			Key:   deref(s.GetAppConfigKey()),
			Type:  AppConfigKeyType(enumString(s.GetAppConfigKeyType())),
			Value: deref(s.GetAppConfigKeyValue()),
		})
	}
	for _, a := range m.GetAssignments() {
		if t, ok := targetFromModel(a.GetTarget()); ok {
			c.Assignments = append(c.Assignments, t)
		}
	}
	return c, true
}

// appConfigurationTargetsToModel never returns nil, as targetsToModel.
func appConfigurationTargetsToModel(targets []AssignmentTarget) ([]models.ManagedDeviceMobileAppConfigurationAssignmentable, error) {
	out := make([]models.ManagedDeviceMobileAppConfigurationAssignmentable, 0, len(targets))
	for _, t := range targets {
		tgt, err := targetToModel(t)
		if err != nil {
			return nil, err
		}
		a := models.NewManagedDeviceMobileAppConfigurationAssignment()
		typ := appConfigurationAssignmentType
		a.SetOdataType(&typ)
		a.SetTarget(tgt)
		out = append(out, a)
	}
	return out, nil
}

func detectedAppFromModel(m models.DetectedAppable) DetectedApp {
	return DetectedApp{
		ID:          deref(m.GetId()),
		DisplayName: deref(m.GetDisplayName()),
		Version:     deref(m.GetVersion()),
		Platform:    enumString(m.GetPlatform()),
		Publisher:   deref(m.GetPublisher()),
		DeviceCount: deref(m.GetDeviceCount()),
	}
}
