package intune

// AppType is a mobileApp's @odata.type.
type AppType string

const (
	// AppIOSStore is an App Store app, created through Graph.
	AppIOSStore AppType = "#microsoft.graph.iosStoreApp"
	// AppAndroidManagedStore is a Managed Google Play app. It is not created through
	// Graph: it appears when an admin approves the app in Managed Google Play and Intune
	// syncs. Graph serves the type in beta only, which the client handles by itself
	// (apps_beta.go).
	AppAndroidManagedStore AppType = "#microsoft.graph.androidManagedStoreApp"
)

// AppIntent is a mobileAppAssignment's installIntent.
type AppIntent string

const (
	AppAvailable                  AppIntent = "available"
	AppRequired                   AppIntent = "required"
	AppUninstall                  AppIntent = "uninstall"
	AppAvailableWithoutEnrollment AppIntent = "availableWithoutEnrollment"
)

// AppAssignment is one mobileAppAssignment: what Intune does with the app for a target.
type AppAssignment struct {
	Intent AppIntent
	Target AssignmentTarget
}

// StoreApp is an iosStoreApp or an androidManagedStoreApp, reduced to what the
// operator reads. Assignments are only filled by reads that expand them (List and Get
// do).
type StoreApp struct {
	ID, DisplayName, Publisher, Description string
	Type                                    AppType
	// BundleID is the iOS bundleId, or the Android packageId.
	BundleID    string
	AppStoreURL string
	// MinimumOS is iOS only: "13.0" for the flag v13_0 of
	// minimumSupportedOperatingSystem (the lowest true flag when Graph sends several);
	// "" when none. Graph v1.0 has the flags of 8.0 to 15.0.
	MinimumOS string
	// PublishingState is notPublished, processing or published; assignments need
	// published.
	PublishingState string
	Assignments     []AppAssignment
}

// AppConfigKeyType is an appConfigurationSettingItem's appConfigKeyType.
type AppConfigKeyType string

const (
	AppConfigString  AppConfigKeyType = "stringType"
	AppConfigInteger AppConfigKeyType = "integerType"
	AppConfigReal    AppConfigKeyType = "realType"
	AppConfigBoolean AppConfigKeyType = "booleanType"
	// AppConfigToken values are Intune tokens such as {{userprincipalname}} or
	// {{deviceid}}, which Intune replaces per device.
	AppConfigToken AppConfigKeyType = "tokenType"
)

// AppConfigSetting is one appConfigurationSettingItem: a key of the app's managed
// configuration dictionary.
type AppConfigSetting struct {
	Key   string
	Type  AppConfigKeyType
	Value string
}

// AppConfiguration is an iosMobileAppConfiguration (managed devices app configuration
// policy). Assignments are only filled by reads that expand them (List and Get do).
type AppConfiguration struct {
	ID, DisplayName, Description string
	// TargetedAppIDs are the ids of the mobileApps the configuration applies to.
	TargetedAppIDs []string
	Settings       []AppConfigSetting
	Version        int32
	Assignments    []AssignmentTarget
}

// DetectedApp is an app Intune found installed on managed devices: one per display
// name, version and platform. A mobile app's display name is its bundle or package id
// (as the twin models Intune). Platform is detectedAppPlatformType: ios,
// androidDedicatedAndFullyManaged, androidWorkProfile, androidDeviceAdministrator,
// androidOSP, windows, macOS, ... or "" for a value msgraph-sdk-go does not know.
type DetectedApp struct {
	ID, DisplayName, Version, Platform, Publisher string
	DeviceCount                                   int32
}
