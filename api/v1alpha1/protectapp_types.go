package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProtectAppSpec declares the BlackBerry Protect Mobile app that Intune deploys to the
// tenant's enrolled phones: the first of the product page's three steps ("add the MTD
// app to devices"). Without the app on a phone BlackBerry has nothing to report, so the
// phone is either blocked (*DeviceBlockedOnMissingPartnerData) or passes unprotected.
//
// The app is a tenant-wide Intune object, so it lives on the connector, the one object
// that owns the tenant. By default it is required wherever the connector's
// DeviceRiskPolicies assign a compliance policy of the app's platform.
//
// The app identifiers have no defaults: BlackBerry's App Store URL, bundle id and Google
// Play package id are not published where the operator could verify them, so they are
// copied from the store listing (docs/protect-app.md says where).
// +kubebuilder:validation:XValidation:rule="has(self.ios) || has(self.androidEnterprise)",message="protectApp needs ios, androidEnterprise or both"
type ProtectAppSpec struct {
	// ios keeps an iosStoreApp (Intune admin center > Apps > iOS/iPadOS > iOS store app)
	// for the App Store app, with its app configuration policy when configuration is set.
	// +optional
	IOS *IOSProtectApp `json:"ios,omitempty"`

	// androidEnterprise names the Managed Google Play app for Android Enterprise devices
	// (fully managed, dedicated, corporate-owned and personal work profiles). Such an app
	// is approved in Google's console and synced into Intune, never created through
	// Graph: the operator finds the synced androidManagedStoreApp by package id and
	// assigns it, and reports ProtectAppReady=False with the console steps while it is
	// not there. Android device administrator phones cannot get Managed Google Play apps
	// and are not counted.
	// +optional
	AndroidEnterprise *AndroidProtectApp `json:"androidEnterprise,omitempty"`

	// assignments says who must have the app (intent required). Unset: the union of what
	// the connector's DeviceRiskPolicies that cover the app's platform include (all
	// users, all devices, groups), minus the groups every one of them excludes.
	// +optional
	Assignments *Assignments `json:"assignments,omitempty"`
}

// IOSVersion is an iOS version Graph v1.0's iosMinimumOperatingSystem can express.
// +kubebuilder:validation:Enum="8.0";"9.0";"10.0";"11.0";"12.0";"13.0";"14.0";"15.0"
type IOSVersion string

// IOSProtectApp is the App Store app as an iosStoreApp.
type IOSProtectApp struct {
	// displayName is the app's name in Intune and the Company Portal. It is also how an
	// existing app is found for adoption (with the bundle id).
	// +kubebuilder:default="BlackBerry Protect Mobile"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// publisher is shown in the Company Portal; Intune requires one.
	// +kubebuilder:default="BlackBerry"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Publisher string `json:"publisher,omitempty"`

	// appStoreURL is the app's App Store page, as the Intune admin center asks for it.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://apps.apple.com/') || self.startsWith('https://itunes.apple.com/')",message="appStoreURL must be an App Store page (https://apps.apple.com/...)"
	// +kubebuilder:validation:MaxLength=2048
	// +required
	AppStoreURL HTTPSURL `json:"appStoreURL"`

	// bundleID is the app's bundle identifier. An app of another bundle id is another
	// app: it is never adopted or patched into this one.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`
	// +kubebuilder:validation:MaxLength=155
	// +required
	BundleID string `json:"bundleID"`

	// minimumOSVersion is the oldest iOS the app is offered to. The default is the
	// product page's "iOS 13.0 and later".
	// +kubebuilder:default="13.0"
	// +optional
	MinimumOSVersion IOSVersion `json:"minimumOSVersion,omitempty"`

	// configuration, when set, keeps an iOS app configuration policy (managed devices)
	// targeted at the app and assigned like it, for settings the vendor asks for.
	// +optional
	Configuration *AppConfigurationSpec `json:"configuration,omitempty"`
}

// AndroidProtectApp is the Managed Google Play app.
type AndroidProtectApp struct {
	// packageID is the app's Google Play package name (the id= of its Play Store page).
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+$`
	// +kubebuilder:validation:MaxLength=255
	// +required
	PackageID string `json:"packageID"`
}

// AppConfigurationSpec is an app configuration policy's settings.
type AppConfigurationSpec struct {
	// displayName of the policy. Default: the app's displayName followed by
	// " configuration".
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// settings are the configuration keys, as the admin center's configuration designer
	// takes them. A String value may hold Intune's tokens, such as {{userprincipalname}}
	// or {{aaddeviceid}}, which Intune replaces on each device.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +listType=map
	// +listMapKey=key
	// +required
	Settings []AppConfigSetting `json:"settings"`
}

// AppConfigValueType is a configuration value's type.
// +kubebuilder:validation:Enum=String;Integer;Real;Boolean;Token
type AppConfigValueType string

const (
	AppConfigString  AppConfigValueType = "String"
	AppConfigInteger AppConfigValueType = "Integer"
	AppConfigReal    AppConfigValueType = "Real"
	AppConfigBoolean AppConfigValueType = "Boolean"
	AppConfigToken   AppConfigValueType = "Token"
)

// AppConfigSetting is one configuration key.
// +kubebuilder:validation:XValidation:rule="self.type != 'Integer' || self.value.matches('^-?[0-9]+$')",message="an Integer value must be a whole number"
// +kubebuilder:validation:XValidation:rule="self.type != 'Real' || self.value.matches('^-?[0-9]+([.][0-9]+)?$')",message="a Real value must be a decimal number"
// +kubebuilder:validation:XValidation:rule="self.type != 'Boolean' || self.value in ['true', 'false']",message="a Boolean value must be true or false"
// +kubebuilder:validation:XValidation:rule="self.type != 'Token' || self.value.matches('^[{][{][a-zA-Z0-9]+[}][}]$')",message="a Token value must be one Intune token, such as {{userprincipalname}}"
type AppConfigSetting struct {
	// key is the configuration key the app reads.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Key string `json:"key"`
	// type of the value.
	// +kubebuilder:default=String
	// +optional
	Type AppConfigValueType `json:"type,omitempty"`
	// value, as text.
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Value string `json:"value"`
}

// ConditionProtectAppReady is True when every declared platform's Protect app is
// deployed and assigned as declared. It does not fail Ready: the connector itself works.
const ConditionProtectAppReady = "ProtectAppReady"

// ProtectAppState is where one platform's Protect app stands.
// +kubebuilder:validation:Enum=Pending;Deployed;NotInIntune;Drifted;Blocked
type ProtectAppState string

const (
	// ProtectAppPending: not known yet (the first pass failed; ProtectAppReady says why).
	ProtectAppPending ProtectAppState = "Pending"
	// ProtectAppDeployed: the app exists as declared and is assigned as declared.
	ProtectAppDeployed ProtectAppState = "Deployed"
	// ProtectAppNotInIntune: the Managed Google Play app is not synced into Intune yet.
	ProtectAppNotInIntune ProtectAppState = "NotInIntune"
	// ProtectAppDrifted: Intune differs from the spec and ObserveOnly left it so.
	ProtectAppDrifted ProtectAppState = "Drifted"
	// ProtectAppBlocked: only a person can resolve it (several apps match, say).
	ProtectAppBlocked ProtectAppState = "Blocked"
)

// ProtectAppStatus is one platform's Protect app as Intune has it, and which of the
// platform's managed devices lack it.
type ProtectAppStatus struct {
	// platform is iOS or AndroidEnterprise.
	Platform Platform `json:"platform"`
	// state of the app.
	State ProtectAppState `json:"state"`
	// message says what is wrong and what to do, when the state is not Deployed.
	// +optional
	Message string `json:"message,omitempty"`
	// appID is the Intune mobileApp id.
	// +optional
	AppID string `json:"appID,omitempty"`
	// adopted is true when the app existed before the operator managed it.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
	// configurationID is the app configuration policy's id (iOS with configuration).
	// +optional
	ConfigurationID string `json:"configurationID,omitempty"`
	// devices counts the platform's managed devices in the last device snapshot (for
	// AndroidEnterprise: fully managed, dedicated and both work profiles).
	Devices int32 `json:"devices"`
	// devicesWithoutApp counts those Intune does not report the app on.
	DevicesWithoutApp int32 `json:"devicesWithoutApp"`
	// withoutApp names the first of them (device names, at most 10).
	// +optional
	// +listType=atomic
	WithoutApp []string `json:"withoutApp,omitempty"`
	// inventoryTime is when Intune's detected apps were last read.
	// +optional
	InventoryTime *metav1.Time `json:"inventoryTime,omitempty"`
}
