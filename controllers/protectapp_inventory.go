package controllers

import (
	"context"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
)

// maxNamedWithoutApp bounds status.protectApp[].withoutApp.
const maxNamedWithoutApp = 10

// detectedPlatforms are Intune's detectedApp platforms of each Protect app.
var detectedPlatforms = map[v1.Platform][]string{
	v1.PlatformIOS:               {"ios"},
	v1.PlatformAndroidEnterprise: {"androidWorkProfile", "androidDedicatedAndFullyManaged"},
}

// appIdentifiers are the names a detected app of the platform's Protect app may carry:
// its bundle or package id (how Intune names a detected mobile app, assumed, see
// docs/protect-app.md) and, for iOS, its display name.
func appIdentifiers(spec *v1.ProtectAppSpec, platform v1.Platform) []string {
	switch platform {
	case v1.PlatformIOS:
		return []string{spec.IOS.BundleID, spec.IOS.DisplayName}
	case v1.PlatformAndroidEnterprise:
		return []string{spec.AndroidEnterprise.PackageID}
	}
	return nil
}

// takeAppInventory reads Intune's detected apps (one list, plus one device list per
// matching app version) and counts, per declared platform, the managed devices of the
// last snapshot that do not report the app. The TR reconciler reads the result.
func (r *MTDConnectorReconciler) takeAppInventory(ctx context.Context, p *connectorPass) error {
	conn, ic := p.conn, p.clients.Intune
	detected, err := ic.ListDetectedApps(ctx)
	if err != nil {
		return err
	}
	devices, err := r.inventoryDevices(ctx, p)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	// The device platforms each declared app reaches, and which app that is.
	appOf := map[v1.Platform]*v1.ProtectAppStatus{}
	var withApp, devicePlatforms []string
	for i := range conn.Status.ProtectApp {
		st := &conn.Status.ProtectApp[i]
		ids, err := devicesWithApp(ctx, ic, detected, appIdentifiers(conn.Spec.ProtectApp, st.Platform), detectedPlatforms[st.Platform])
		if err != nil {
			return err
		}
		withApp = append(withApp, ids...)
		for _, dp := range appPlatforms[st.Platform] {
			appOf[dp] = st
			devicePlatforms = append(devicePlatforms, string(dp))
		}
		t := metav1.NewTime(now)
		st.Devices, st.DevicesWithoutApp, st.WithoutApp, st.InventoryTime = 0, 0, nil, &t
	}
	inv := snapshot.NewAppInventory(now, devicePlatforms, withApp)
	missing := map[*v1.ProtectAppStatus][]string{}
	for i := range devices {
		d := &devices[i]
		dp := platformOf(d)
		st := appOf[dp]
		if st == nil {
			continue // no app for its platform (or a device administrator phone)
		}
		st.Devices++
		if has, _ := inv.Installed(string(dp), d.ID); !has {
			st.DevicesWithoutApp++
			missing[st] = append(missing[st], d.DeviceName)
		}
	}
	for i := range conn.Status.ProtectApp {
		st := &conn.Status.ProtectApp[i]
		names := missing[st]
		slices.Sort(names)
		st.WithoutApp = names[:min(len(names), maxNamedWithoutApp)]
		log.FromContext(ctx).V(1).Info("protect app inventory", "connector", conn.Name, "platform", st.Platform, "devices", st.Devices, "withoutApp", st.DevicesWithoutApp)
	}
	r.Inventories.Put(conn.UID, inv)
	publishAppMetrics(conn)
	return nil
}

// inventoryDevices are the devices of the connector's last snapshot, or read now when
// the threat sync has none (it is off, or has not run yet).
func (r *MTDConnectorReconciler) inventoryDevices(ctx context.Context, p *connectorPass) ([]intune.ManagedDevice, error) {
	if r.Snapshots != nil {
		if snap := r.Snapshots.Get(p.conn.UID); snap != nil {
			return snap.Devices(), nil
		}
	}
	return p.clients.Intune.ListManagedDevices(ctx, intune.DeviceFilter{})
}

// devicesWithApp are the ids of the devices that report any version of an app named
// one of names on one of platforms.
func devicesWithApp(ctx context.Context, ic intune.Client, detected []intune.DetectedApp, names, platforms []string) ([]string, error) {
	var out []string
	for _, d := range detected {
		if !slices.Contains(platforms, d.Platform) || !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, d.DisplayName) }) {
			continue
		}
		ids, err := ic.DetectedAppDevices(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}
