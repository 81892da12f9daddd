package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

const (
	iosAppWhat    = "iOS Protect app"
	iosConfigWhat = "iOS Protect app configuration"
)

func desiredIOSApp(s *v1.IOSProtectApp) intune.StoreApp {
	return intune.StoreApp{
		Type: intune.AppIOSStore, DisplayName: s.DisplayName, Publisher: s.Publisher,
		BundleID: s.BundleID, AppStoreURL: string(s.AppStoreURL), MinimumOS: string(s.MinimumOSVersion),
	}
}

// syncIOSApp keeps the iosStoreApp through the one ladder (recorded id, else adopt the
// one app of the exact name and bundle id, else create), its assignments, and its app
// configuration when declared.
func (r *MTDConnectorReconciler) syncIOSApp(ctx context.Context, p *connectorPass, spec *v1.ProtectAppSpec, policies []v1.DeviceRiskPolicy) error {
	ic, conn := p.clients.Intune, p.conn
	st := appStatus(conn, v1.PlatformIOS)
	want := desiredIOSApp(spec.IOS)
	assign := appAssignments(spec, policies, v1.PlatformIOS)
	k := &appKeeper{p: p}
	var listed []intune.StoreApp
	l := ladder[intune.StoreApp]{
		what: iosAppWhat, plural: "iOS store apps", pending: "protect-app-ios", name: want.DisplayName,
		id:     st.AppID,
		idOf:   func(a *intune.StoreApp) string { return a.ID },
		record: func(a *intune.StoreApp, adopted bool) { st.AppID, st.Adopted = a.ID, adopted },
		forget: func() { st.AppID, st.Adopted = "", false },
		get:    ic.GetStoreApp,
		candidates: func(ctx context.Context) ([]intune.StoreApp, error) {
			all, err := listOnce(ctx, &listed, func(ctx context.Context) ([]intune.StoreApp, error) {
				return ic.ListStoreApps(ctx, intune.AppIOSStore)
			})
			return slices.DeleteFunc(slices.Clone(all), func(a intune.StoreApp) bool {
				return a.DisplayName != want.DisplayName || !strings.EqualFold(a.BundleID, want.BundleID)
			}), err
		},
		create: func(ctx context.Context) (*intune.StoreApp, error) {
			created, err := ic.CreateIOSStoreApp(ctx, want)
			if err != nil {
				return nil, err
			}
			// A failed assign still records the id: the next pass corrects, not creates.
			created.Assignments = assign
			if len(assign) > 0 {
				if err := ic.AssignStoreApp(ctx, created.ID, assign); err != nil {
					return created, err
				}
			}
			return created, nil
		},
		correct: func(ctx context.Context, live intune.StoreApp) error {
			if !strings.EqualFold(live.BundleID, want.BundleID) {
				return nil // another app now: replaced below, never patched into this one
			}
			return r.correctIOSApp(ctx, k, want, assign, live)
		},
	}
	live, _, err := climb(ctx, r.Client, r.Recorder, k, l)
	if err == nil && live != nil && !strings.EqualFold(live.BundleID, want.BundleID) {
		// spec.bundleID changed: the recorded app is another app. It goes per the
		// deletion policy, and the ladder runs again for the declared one.
		log.FromContext(ctx).Info("bundle id changed; replacing the app", "connector", conn.Name, "old", live.BundleID, "new", want.BundleID)
		if err = release(ctx, r.Recorder, conn, iosAppWhat, live.ID, ic.DeleteStoreApp); err == nil {
			l.forget()
			l.id = ""
			live, _, err = climb(ctx, r.Client, r.Recorder, k, l)
		}
	}
	if err != nil {
		return err
	}
	if live == nil { // a refusal, or ObserveOnly with nothing to observe (both recorded)
		k.settle(st)
		return nil
	}
	if err := r.syncIOSConfiguration(ctx, k, spec.IOS, live.ID, targetsOf(assign)); err != nil {
		return err
	}
	k.settle(st)
	return nil
}

// correctIOSApp patches what differs of the app's own properties (one PATCH) and its
// assignment set (one assign).
func (r *MTDConnectorReconciler) correctIOSApp(ctx context.Context, k *appKeeper, want intune.StoreApp, assign []intune.AppAssignment, live intune.StoreApp) error {
	var diffs []string
	for _, f := range [][3]string{
		{"displayName", want.DisplayName, live.DisplayName},
		{"publisher", want.Publisher, live.Publisher},
		{"appStoreUrl", want.AppStoreURL, live.AppStoreURL},
		{"minimumSupportedOperatingSystem", want.MinimumOS, live.MinimumOS},
	} {
		if f[1] != f[2] {
			diffs = append(diffs, f[0])
		}
	}
	if len(diffs) > 0 && k.mayWrite(iosAppWhat+" "+strings.Join(diffs, ", ")) {
		log.FromContext(ctx).Info("correcting drift", "connector", k.p.conn.Name, "object", iosAppWhat, "id", live.ID, "call", "PatchIOSStoreApp", "fields", diffs)
		if err := k.p.clients.Intune.PatchIOSStoreApp(ctx, live.ID, want); err != nil {
			return err
		}
		emit(r.Recorder, k.p.conn, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("corrected the %s %s: %s", iosAppWhat, live.ID, strings.Join(diffs, ", ")))
	}
	return r.correctAppAssignments(ctx, k, iosAppWhat, &live, assign)
}

func desiredAppConfiguration(app *v1.IOSProtectApp, appID string) intune.AppConfiguration {
	name := app.Configuration.DisplayName
	if name == "" {
		name = app.DisplayName + " configuration"
	}
	c := intune.AppConfiguration{DisplayName: name, TargetedAppIDs: []string{appID}}
	for _, s := range app.Configuration.Settings {
		typ := s.Type
		if typ == "" {
			typ = v1.AppConfigString
		}
		c.Settings = append(c.Settings, intune.AppConfigSetting{Key: s.Key, Type: intune.AppConfigKeyType(strings.ToLower(string(typ)) + "Type"), Value: s.Value})
	}
	return c
}

// syncIOSConfiguration keeps the app configuration policy targeted at the app and
// assigned like it; without spec.ios.configuration, a recorded one goes per the
// deletion policy.
func (r *MTDConnectorReconciler) syncIOSConfiguration(ctx context.Context, k *appKeeper, app *v1.IOSProtectApp, appID string, targets []intune.AssignmentTarget) error {
	ic, conn := k.p.clients.Intune, k.p.conn
	st := appStatus(conn, v1.PlatformIOS)
	if app.Configuration == nil {
		if err := release(ctx, r.Recorder, conn, iosConfigWhat, st.ConfigurationID, ic.DeleteAppConfiguration); err != nil {
			return err
		}
		st.ConfigurationID = ""
		return nil
	}
	want := desiredAppConfiguration(app, appID)
	var listed []intune.AppConfiguration
	_, _, err := climb(ctx, r.Client, r.Recorder, k, ladder[intune.AppConfiguration]{
		what: iosConfigWhat, plural: "iOS app configuration policies", pending: "protect-app-ios-configuration", name: want.DisplayName,
		id:     st.ConfigurationID,
		idOf:   func(c *intune.AppConfiguration) string { return c.ID },
		record: func(c *intune.AppConfiguration, _ bool) { st.ConfigurationID = c.ID },
		forget: func() { st.ConfigurationID = "" },
		get:    ic.GetAppConfiguration,
		candidates: func(ctx context.Context) ([]intune.AppConfiguration, error) {
			all, err := listOnce(ctx, &listed, ic.ListAppConfigurations)
			return slices.DeleteFunc(slices.Clone(all), func(c intune.AppConfiguration) bool {
				return c.DisplayName != want.DisplayName || !slices.ContainsFunc(c.TargetedAppIDs, func(id string) bool { return strings.EqualFold(id, appID) })
			}), err
		},
		create: func(ctx context.Context) (*intune.AppConfiguration, error) {
			created, err := ic.CreateAppConfiguration(ctx, want)
			if err != nil {
				return nil, err
			}
			created.Assignments = targets
			if len(targets) > 0 {
				if err := ic.AssignAppConfiguration(ctx, created.ID, targets); err != nil {
					return created, err
				}
			}
			return created, nil
		},
		correct: func(ctx context.Context, live intune.AppConfiguration) error {
			return r.correctAppConfiguration(ctx, k, want, targets, live)
		},
	})
	return err
}

func (r *MTDConnectorReconciler) correctAppConfiguration(ctx context.Context, k *appKeeper, want intune.AppConfiguration, targets []intune.AssignmentTarget, live intune.AppConfiguration) error {
	ic, conn := k.p.clients.Intune, k.p.conn
	var diffs []string
	if want.DisplayName != live.DisplayName {
		diffs = append(diffs, "displayName")
	}
	if !sameFold(want.TargetedAppIDs, live.TargetedAppIDs) {
		diffs = append(diffs, "targetedMobileApps")
	}
	if !sameSettings(want.Settings, live.Settings) {
		diffs = append(diffs, "settings")
	}
	if len(diffs) > 0 && k.mayWrite(iosConfigWhat+" "+strings.Join(diffs, ", ")) {
		log.FromContext(ctx).Info("correcting drift", "connector", conn.Name, "object", iosConfigWhat, "id", live.ID, "call", "PatchAppConfiguration", "fields", diffs)
		if err := ic.PatchAppConfiguration(ctx, live.ID, want); err != nil {
			return err
		}
		emit(r.Recorder, conn, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("corrected the %s %s: %s", iosConfigWhat, live.ID, strings.Join(diffs, ", ")))
	}
	if !sameAssignments(targets, live.Assignments) && k.mayWrite(iosConfigWhat+" assignments") {
		if err := ic.AssignAppConfiguration(ctx, live.ID, targets); err != nil {
			return err
		}
		emit(r.Recorder, conn, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("assigned the %s %s to %d targets", iosConfigWhat, live.ID, len(targets)))
	}
	return nil
}

// sameFold compares id sets regardless of order and case.
func sameFold(a, b []string) bool { return sameSet(a, b, strings.ToLower) }

// sameSettings compares configuration keys regardless of order.
func sameSettings(a, b []intune.AppConfigSetting) bool {
	return sameSet(a, b, func(x intune.AppConfigSetting) string { return x.Key + "\x00" + string(x.Type) + "\x00" + x.Value })
}

// releaseIOSApp lets the iOS app and its configuration go per the deletion policy when
// the spec no longer declares them (or the connector is deleted).
func (r *MTDConnectorReconciler) releaseIOSApp(ctx context.Context, p *connectorPass) error {
	st := findAppStatus(p.conn, v1.PlatformIOS)
	if st == nil {
		return nil
	}
	ic := p.clients.Intune
	if err := release(ctx, r.Recorder, p.conn, iosConfigWhat, st.ConfigurationID, ic.DeleteAppConfiguration); err != nil {
		return err
	}
	if err := release(ctx, r.Recorder, p.conn, iosAppWhat, st.AppID, ic.DeleteStoreApp); err != nil {
		return err
	}
	dropAppStatus(p.conn, v1.PlatformIOS)
	return nil
}

func findAppStatus(conn *v1.MTDConnector, platform v1.Platform) *v1.ProtectAppStatus {
	for i := range conn.Status.ProtectApp {
		if conn.Status.ProtectApp[i].Platform == platform {
			return &conn.Status.ProtectApp[i]
		}
	}
	return nil
}
