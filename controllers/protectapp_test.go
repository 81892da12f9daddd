package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

const (
	routeCreateApp    = "POST /v1.0/deviceAppManagement/mobileApps"
	routePatchApp     = "PATCH /v1.0/deviceAppManagement/mobileApps/{id}"
	routeAssignApp    = "POST /v1.0/deviceAppManagement/mobileApps/{id}/assign"
	routeDeleteApp    = "DELETE /v1.0/deviceAppManagement/mobileApps/{id}"
	routeCreateConfig = "POST /v1.0/deviceAppManagement/mobileAppConfigurations"
	routePatchConfig  = "PATCH /v1.0/deviceAppManagement/mobileAppConfigurations/{id}"
	routeAssignConfig = "POST /v1.0/deviceAppManagement/mobileAppConfigurations/{id}/assign"
	routeDeleteConfig = "DELETE /v1.0/deviceAppManagement/mobileAppConfigurations/{id}"

	sampleBundle  = "com.example.protect"
	samplePackage = "com.example.protect.android"
)

var appWriteRoutes = []string{routeCreateApp, routePatchApp, routeAssignApp, routeDeleteApp, routeCreateConfig, routePatchConfig, routeAssignConfig, routeDeleteConfig}

// appWrites snapshots the app write routes' call counts.
func appWrites(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range appWriteRoutes {
		out[r] = calls(t, r)
	}
	return out
}

func appWrote(t *testing.T, before map[string]int64) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for r, n := range appWrites(t) {
		if d := n - before[r]; d != 0 {
			out[r] = d
		}
	}
	return out
}

// withProtectApp declares both apps with one configuration key.
func withProtectApp(c *v1.MTDConnector) {
	c.Spec.ProtectApp = &v1.ProtectAppSpec{
		IOS: &v1.IOSProtectApp{
			DisplayName: "BlackBerry Protect Mobile", Publisher: "BlackBerry",
			AppStoreURL: "https://apps.apple.com/app/id000000001", BundleID: sampleBundle, MinimumOSVersion: "13.0",
			Configuration: &v1.AppConfigurationSpec{Settings: []v1.AppConfigSetting{
				{Key: "user", Type: v1.AppConfigString, Value: "{{userprincipalname}}"},
				{Key: "device", Type: v1.AppConfigString, Value: "{{aaddeviceid}}"},
			}},
		},
		AndroidEnterprise: &v1.AndroidProtectApp{PackageID: samplePackage},
	}
}

// iosAppConnector declares, for a fresh tenant, a connector with the iOS app only.
func iosAppConnector(t *testing.T) (tenant, *v1.MTDConnector) {
	t.Helper()
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	withProtectApp(conn)
	conn.Spec.ProtectApp.AndroidEnterprise = nil
	return tn, conn
}

// appFleet enrols two iPhones and two fully managed Android phones of one user.
func appFleet(t *testing.T, tn tenant) (ios, android []adminapi.DeviceView) {
	t.Helper()
	ctx := context.Background()
	u, err := admin.CreateUser(ctx, tn.ID, adminapi.User{DisplayName: "Ada", UserPrincipalName: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	i, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: "ada-iphone", Platform: "iOS", OSVersion: "17.1", UserID: u.ID, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: "ada-pixel", Platform: "Android", OSVersion: "14", Enrollment: "fullyManaged", UserID: u.ID, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	return i.Devices, a.Devices
}

func appState(c *v1.MTDConnector, p v1.Platform) v1.ProtectAppStatus {
	for _, st := range c.Status.ProtectApp {
		if st.Platform == p {
			return st
		}
	}
	return v1.ProtectAppStatus{}
}

func waitAppCondition(t *testing.T, conn *v1.MTDConnector, status metav1.ConditionStatus, reason string) *v1.MTDConnector {
	t.Helper()
	return waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionProtectAppReady, status, reason)
}

func storeApps(t *testing.T, tn tenant, typ intune.AppType) []intune.StoreApp {
	t.Helper()
	apps, err := graphAs(t, tn).ListStoreApps(context.Background(), typ)
	if err != nil {
		t.Fatal(err)
	}
	return apps
}

func TestProtectAppIsDeployedAssignedAndCounted(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t, true)
	ios, android := appFleet(t, tn)
	if err := admin.ApproveManagedStoreApp(ctx, tn.ID, samplePackage, "BlackBerry Protect Mobile"); err != nil {
		t.Fatal(err)
	}
	conn := connectorFor(namespace(t, tn), tn)
	withProtectApp(conn)
	before := appWrites(t)
	create(t, conn)
	ready(t, conn)
	group := "3f0c1d2e-4b5a-4c6d-8e7f-901a2b3c4d5e"
	pol := policyFor(conn, "app", v1.PlatformIOS, v1.PlatformAndroidEnterprise)
	pol.Spec.Assignments = v1.Assignments{IncludeGroupIDs: []v1.GUID{v1.GUID(group)}}
	create(t, pol)
	policyReady(t, pol)

	var got *v1.MTDConnector
	testkit.Eventually(t, 6*resync, "both apps assigned to the policy's group, every device counted", func() (bool, string) {
		got = getConnector(t, client.ObjectKeyFromObject(conn))
		i, a := appState(got, v1.PlatformIOS), appState(got, v1.PlatformAndroidEnterprise)
		ok := i.State == v1.ProtectAppDeployed && a.State == v1.ProtectAppDeployed && i.Devices == 2 && i.DevicesWithoutApp == 2 &&
			a.Devices == 2 && a.DevicesWithoutApp == 2 && i.ConfigurationID != ""
		if ok {
			for _, app := range []string{i.AppID, a.AppID} {
				live, err := graphAs(t, tn).GetStoreApp(ctx, app)
				if err != nil || len(live.Assignments) != 1 || !strings.EqualFold(live.Assignments[0].Target.GroupID, group) || live.Assignments[0].Intent != intune.AppRequired {
					return false, fmt.Sprintf("app %s not assigned to the group: %+v %v", app, live, err)
				}
			}
		}
		return ok, fmt.Sprintf("%+v / %+v", i, a)
	})
	waitAppCondition(t, conn, metav1.ConditionTrue, controllers.ReasonProtectAppDeployed)

	apps := storeApps(t, tn, intune.AppIOSStore)
	if len(apps) != 1 || apps[0].BundleID != sampleBundle || apps[0].MinimumOS != "13.0" {
		t.Fatalf("iOS store apps %+v, want one for %s with minimum iOS 13.0", apps, sampleBundle)
	}
	cfg, err := graphAs(t, tn).GetAppConfiguration(ctx, appState(got, v1.PlatformIOS).ConfigurationID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Settings) != 2 || !slices.Contains(cfg.TargetedAppIDs, apps[0].ID) || len(cfg.Assignments) != 1 {
		t.Fatalf("configuration %+v: want 2 settings, targeted at %s, assigned once", cfg, apps[0].ID)
	}
	if w := appWrote(t, before); w[routeCreateApp] != 1 || w[routeCreateConfig] != 1 {
		t.Fatalf("writes %v: want one app and one configuration created", w)
	}
	if names := appState(got, v1.PlatformIOS).WithoutApp; len(names) != 2 || !strings.HasPrefix(names[0], "ada-iphone") {
		t.Fatalf("withoutApp %v, want both iPhones named", names)
	}

	// The phones install the app: the counts drop at the next inventory.
	for _, d := range ios {
		if err := admin.InstallApp(ctx, tn.ID, d.IntuneID, sampleBundle, "4.2"); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.InstallApp(ctx, tn.ID, android[0].IntuneID, samplePackage, "4.2"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 6*resync, "the counts drop once the app is installed", func() (bool, string) {
		c := getConnector(t, client.ObjectKeyFromObject(conn))
		i, a := appState(c, v1.PlatformIOS), appState(c, v1.PlatformAndroidEnterprise)
		return i.DevicesWithoutApp == 0 && len(i.WithoutApp) == 0 && a.DevicesWithoutApp == 1 && len(a.WithoutApp) == 1, fmt.Sprintf("%+v / %+v", i, a)
	})

	// Steady state: no app write in further passes.
	steady := appWrites(t)
	waitForSyncs(t, conn, 2)
	if w := appWrote(t, steady); len(w) != 0 {
		t.Fatalf("steady state wrote %v", w)
	}
}

func TestProtectAppWaitsForManagedGooglePlayAndSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	withProtectApp(conn)
	conn.Spec.ProtectApp.IOS = nil
	conn.Spec.ProtectApp.Assignments = &v1.Assignments{AllDevices: true}
	create(t, conn)
	ready(t, conn) // the connector itself works: Ready does not wait for the app
	got := waitAppCondition(t, conn, metav1.ConditionFalse, controllers.ReasonAppNotInIntune)
	if st := appState(got, v1.PlatformAndroidEnterprise); st.State != v1.ProtectAppNotInIntune || !strings.Contains(st.Message, "Managed Google Play") || !strings.Contains(st.Message, samplePackage) {
		t.Fatalf("status %+v: want NotInIntune naming the package and the console steps", st)
	}
	waitEvent(t, got, controllers.ReasonAppNotInIntune)
	if err := admin.ApproveManagedStoreApp(ctx, tn.ID, samplePackage, "BlackBerry Protect Mobile"); err != nil {
		t.Fatal(err)
	}
	got = waitAppCondition(t, conn, metav1.ConditionTrue, controllers.ReasonProtectAppDeployed)
	// The condition metric follows: the True series is there, the False one gone.
	cond := func(status, reason string) (float64, bool) {
		return testkit.Gauge(t, metrics.Registry, "mtd_operator_connector_condition", map[string]string{
			"namespace": conn.Namespace, "name": conn.Name, "type": v1.ConditionProtectAppReady, "status": status, "reason": reason})
	}
	testkit.Eventually(t, 10*time.Second, "the condition metric follows the condition", func() (bool, string) {
		on, _ := cond("True", controllers.ReasonProtectAppDeployed)
		_, stale := cond("False", controllers.ReasonAppNotInIntune)
		return on == 1 && !stale, fmt.Sprintf("true series %v, false series still there: %v", on, stale)
	})
	live, err := graphAs(t, tn).GetStoreApp(ctx, appState(got, v1.PlatformAndroidEnterprise).AppID)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Assignments) != 1 || live.Assignments[0].Target.Kind != intune.TargetAllDevices {
		t.Fatalf("assignments %+v, want all devices", live.Assignments)
	}
	if n := len(storeApps(t, tn, intune.AppIOSStore)); n != 0 {
		t.Fatalf("%d iOS apps created for a spec without ios", n)
	}
}

func TestProtectAppAssignmentDriftIsCorrectedWithOneCall(t *testing.T) {
	ctx := context.Background()
	tn, conn := iosAppConnector(t)
	conn.Spec.ProtectApp.Assignments = &v1.Assignments{AllUsers: true}
	create(t, conn)
	got := waitAppCondition(t, conn, metav1.ConditionTrue, controllers.ReasonProtectAppDeployed)
	id := appState(got, v1.PlatformIOS).AppID
	before := appWrites(t)
	// Someone re-targets the app in the portal.
	if err := graphAs(t, tn).AssignStoreApp(ctx, id, []intune.AppAssignment{{Intent: "available", Target: intune.AssignmentTarget{Kind: intune.TargetAllDevices}}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 4*resync, "the assignment corrected", func() (bool, string) {
		live, err := graphAs(t, tn).GetStoreApp(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return len(live.Assignments) == 1 && live.Assignments[0].Target.Kind == intune.TargetAllLicensedUsers && live.Assignments[0].Intent == intune.AppRequired, fmt.Sprintf("%+v", live.Assignments)
	})
	if w := appWrote(t, before); len(w) != 1 || w[routeAssignApp] != 2 {
		t.Fatalf("drifting and correcting wrote %v, want two assign calls (the drift, then one correction)", w)
	}
	waitEvent(t, got, "assigned the iOS Protect app "+id)
}

func TestProtectAppCrashBetweenCreateAndStatusLeavesNoDuplicate(t *testing.T) {
	ctx := context.Background()
	tn, conn := iosAppConnector(t)
	conn.Spec.ProtectApp.IOS.Configuration = nil
	conn.Spec.ProtectApp.Assignments = &v1.Assignments{AllUsers: true}
	// The state a crash leaves: the intent recorded, the app created, no id stored.
	conn.Annotations = map[string]string{"mtd.operator.dev/create-pending-protect-app-ios": "2026-12-01T00:00:00Z"}
	orphan, err := graphAs(t, tn).CreateIOSStoreApp(ctx, intune.StoreApp{
		Type: intune.AppIOSStore, DisplayName: "BlackBerry Protect Mobile", Publisher: "BlackBerry",
		BundleID: sampleBundle, AppStoreURL: "https://apps.apple.com/app/id000000001", MinimumOS: "13.0"})
	if err != nil {
		t.Fatal(err)
	}
	before := appWrites(t)
	create(t, conn)
	got := waitAppCondition(t, conn, metav1.ConditionTrue, controllers.ReasonProtectAppDeployed)
	if id := appState(got, v1.PlatformIOS).AppID; id != orphan.ID {
		t.Fatalf("status app %s, want the one created before the crash %s", id, orphan.ID)
	}
	if n := len(storeApps(t, tn, intune.AppIOSStore)); n != 1 {
		t.Fatalf("%d iOS apps after the restart, want exactly 1", n)
	}
	if w := appWrote(t, before); w[routeCreateApp] != 0 {
		t.Fatalf("created again: %v", w)
	}
	testkit.Eventually(t, 10*time.Second, "the crash guard cleared", func() (bool, string) {
		_, ok := getConnector(t, client.ObjectKeyFromObject(conn)).Annotations["mtd.operator.dev/create-pending-protect-app-ios"]
		return !ok, "annotation still present"
	})
	waitEvent(t, got, "Recovered: found the iOS Protect app "+orphan.ID)
}

func TestProtectAppObserveOnlyWritesNothing(t *testing.T) {
	_, conn := iosAppConnector(t)
	conn.Spec.ManagementPolicy = v1.ManagementPolicyObserveOnly
	before := appWrites(t)
	create(t, conn)
	got := waitAppCondition(t, conn, metav1.ConditionFalse, controllers.ReasonDriftDetected)
	if st := appState(got, v1.PlatformIOS); st.State != v1.ProtectAppDrifted || !strings.Contains(st.Message, "no iOS Protect app named") {
		t.Fatalf("status %+v: want Drifted saying the app is missing", st)
	}
	waitForSyncs(t, conn, 1)
	if w := appWrote(t, before); len(w) != 0 {
		t.Fatalf("ObserveOnly wrote %v", w)
	}
}

func TestProtectAppGoesWithTheSpecPerDeletionPolicy(t *testing.T) {
	ctx := context.Background()
	tn, conn := iosAppConnector(t)
	conn.Spec.ProtectApp.Assignments = &v1.Assignments{AllUsers: true}
	conn.Spec.DeletionPolicy = v1.DeletionPolicyDelete
	create(t, conn)
	got := waitAppCondition(t, conn, metav1.ConditionTrue, controllers.ReasonProtectAppDeployed)
	st := appState(got, v1.PlatformIOS)
	cur := getConnector(t, client.ObjectKeyFromObject(conn))
	cur.Spec.ProtectApp = nil
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 4*resync, "the app and its configuration deleted, the condition gone", func() (bool, string) {
		c := getConnector(t, client.ObjectKeyFromObject(conn))
		_, appErr := graphAs(t, tn).GetStoreApp(ctx, st.AppID)
		_, cfgErr := graphAs(t, tn).GetAppConfiguration(ctx, st.ConfigurationID)
		gone := appErr != nil && cfgErr != nil && len(c.Status.ProtectApp) == 0 && conditionMessage(c.Status.Conditions, v1.ConditionProtectAppReady) == ""
		return gone, fmt.Sprintf("app err %v, config err %v, status %+v", appErr, cfgErr, c.Status.ProtectApp)
	})
}

// TestARemediationSaysWhetherItsPhoneHasTheApp: a phone without the Protect app cannot
// tell BlackBerry the threat is gone; its remediation says so.
func TestARemediationSaysWhetherItsPhoneHasTheApp(t *testing.T) {
	ctx := context.Background()
	tn := riskyTenant(t)
	u, err := admin.CreateUser(ctx, tn.ID, adminapi.User{UserPrincipalName: fmt.Sprintf("app%d@contoso.example", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, e := range []string{"fullyManaged", "workProfile"} {
		created, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: e, Platform: "Android", OSVersion: "14", UserID: u.ID, Enrollment: e})
		if err != nil {
			t.Fatal(err)
		}
		ids[e] = created.Devices[0].IntuneID
	}
	if err := admin.ApproveManagedStoreApp(ctx, tn.ID, samplePackage, "BlackBerry Protect Mobile"); err != nil {
		t.Fatal(err)
	}
	if err := admin.InstallApp(ctx, tn.ID, ids["workProfile"], samplePackage, "4.2"); err != nil {
		t.Fatal(err)
	}
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.ProtectApp = &v1.ProtectAppSpec{AndroidEnterprise: &v1.AndroidProtectApp{PackageID: samplePackage}, Assignments: &v1.Assignments{AllDevices: true}}
	})
	waitFor(t, conn, "the inventory counts the phone without the app", func(c *v1.MTDConnector) bool {
		st := appState(c, v1.PlatformAndroidEnterprise)
		return st.Devices == 2 && st.DevicesWithoutApp == 1 && len(st.WithoutApp) == 1 && st.WithoutApp[0] == "fullyManaged"
	})
	syncClocks(time.Now())
	for name, want := range map[string]bool{"fullyManaged": false, "workProfile": true} {
		tr := handMade(t, conn, strings.ToLower(name), v1.DeviceReference{IntuneDeviceID: v1.GUID(ids[name])}, step(v1.StepNotify, 0))
		mustCreate(t, tr)
		got := waitPhase(t, tr, v1.PhaseResolved)
		if got.Status.ProtectAppInstalled == nil || *got.Status.ProtectAppInstalled != want {
			t.Fatalf("%s: protectAppInstalled = %v, want %v", name, got.Status.ProtectAppInstalled, want)
		}
	}
}

// withRoles makes the tenant's namespace use a new app registration holding roles.
func withRoles(t *testing.T, tn tenant, ns string, roles []string) v1.GUID {
	t.Helper()
	app, err := admin.CreateApp(context.Background(), tn.ID, adminapi.App{DisplayName: "apps " + t.Name(), Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	var s corev1Secret
	s.get(t, ns, "intune")
	s.Data["client-secret"] = []byte(app.Secret)
	s.update(t)
	return v1.GUID(app.ClientID)
}

// TestProtectAppPermissions: ObserveOnly needs only DeviceManagementApps.Read.All; a
// connector without the app permission says which one it lacks, and keeps Ready.
func TestProtectAppPermissions(t *testing.T) {
	base := slices.DeleteFunc(slices.Clone(world.OperatorRoles), func(r string) bool { return r == world.RoleAppsReadWrite })
	t.Run("ObserveOnly with Read", func(t *testing.T) {
		tn := newTenant(t, true)
		ns := namespace(t, tn)
		conn := connectorFor(ns, tn)
		conn.Spec.Intune.ClientID = withRoles(t, tn, ns, append(slices.Clone(base), world.RoleAppsRead))
		withProtectApp(conn)
		conn.Spec.ManagementPolicy = v1.ManagementPolicyObserveOnly
		create(t, conn)
		got := waitAppCondition(t, conn, metav1.ConditionFalse, controllers.ReasonDriftDetected)
		if st := appState(got, v1.PlatformIOS); st.Devices != 0 || st.InventoryTime == nil {
			t.Fatalf("iOS status %+v: want the inventory read with Read alone", st)
		}
	})
	t.Run("Manage without the app permission", func(t *testing.T) {
		tn := newTenant(t, true)
		ns := namespace(t, tn)
		conn := connectorFor(ns, tn)
		conn.Spec.Intune.ClientID = withRoles(t, tn, ns, base)
		withProtectApp(conn)
		create(t, conn)
		got := waitAppCondition(t, conn, metav1.ConditionFalse, "Forbidden")
		if msg := conditionMessage(got.Status.Conditions, v1.ConditionProtectAppReady); !strings.Contains(msg, "DeviceManagementApps") {
			t.Fatalf("message %q does not name the missing permission", msg)
		}
		ready(t, conn)
	})
}

// TestProtectAppOfANonOwnerIsNeverDeployed: a connector of another namespace naming a
// tenant someone else's connector owns cannot put an app of its choosing on that
// tenant's phones: it makes no app call at all, and no app appears.
func TestProtectAppOfANonOwnerIsNeverDeployed(t *testing.T) {
	tn := newTenant(t, true)
	owner := connectorFor(namespace(t, tn), tn)
	create(t, owner)
	ready(t, owner)

	intruder := connectorFor(namespace(t, tn), tn)
	withProtectApp(intruder)
	intruder.Spec.ProtectApp.AndroidEnterprise = nil
	intruder.Spec.ProtectApp.Assignments = &v1.Assignments{AllDevices: true}
	before := appWrites(t)
	reads := calls(t, "GET /v1.0/deviceAppManagement/mobileApps/graph.iosStoreApp")
	create(t, intruder)
	waitCondition(t, client.ObjectKeyFromObject(intruder), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonTenantAlreadyManaged)
	waitForSyncs(t, owner, 2)
	if w := appWrote(t, before); len(w) != 0 {
		t.Fatalf("the intruder's app was written to the owner's tenant: %v", w)
	}
	if n := calls(t, "GET /v1.0/deviceAppManagement/mobileApps/graph.iosStoreApp") - reads; n != 0 {
		t.Fatalf("%d app lists made for a connector that does not own the tenant", n)
	}
	if n := len(storeApps(t, tn, intune.AppIOSStore)); n != 0 {
		t.Fatalf("%d iOS apps in the owner's tenant", n)
	}
}
