package admin

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// registerApps mounts the app management routes: what Intune holds (for
// assertions), the Managed Google Play approvals Graph cannot make, and the
// apps devices report.
func (s *Service) registerApps(m *mw.Mux) {
	p := Prefix + "/tenants/{tid}"
	m.Handle("GET "+p+"/mobileApps", s.tenantRoute(s.listMobileApps))
	m.Handle("PUT "+p+"/mobileApps/{id}/publishing-state", s.tenantRoute(s.setPublishingState))
	m.Handle("GET "+p+"/mobileAppConfigurations", s.tenantRoute(s.listAppConfigurations))
	m.Handle("GET "+p+"/app-stats", s.tenantRoute(s.appStats))
	m.Handle("DELETE "+p+"/app-stats", s.tenantRoute(s.resetAppStats))
	m.Handle("PUT "+p+"/managedStoreApps/{pkg}", s.tenantRoute(s.approveManagedStoreApp))
	m.Handle("DELETE "+p+"/managedStoreApps/{pkg}", s.tenantRoute(s.removeManagedStoreApp))
	m.Handle("PUT "+p+"/devices/{id}/apps/{app}", s.tenantRoute(s.installApp))
	m.Handle("DELETE "+p+"/devices/{id}/apps/{app}", s.tenantRoute(s.uninstallApp))
}

// trueFlags lists the set flags, sorted.
func trueFlags(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// MobileAppView renders a mobile app for the admin API and snapshots.
func MobileAppView(a *world.MobileApp) adminapi.MobileApp {
	v := adminapi.MobileApp{ID: a.ID, ODataType: a.ODataType, DisplayName: a.DisplayName, Publisher: a.Publisher,
		Description: a.Description, AppStoreURL: a.AppStoreURL, PublishingState: a.PublishingState,
		Created: a.Created, Modified: a.Modified, Assignments: slices.Clone(a.Assignments)}
	if v.Assignments == nil {
		v.Assignments = []world.AppAssignment{}
	}
	if a.ODataType == world.AndroidManagedStoreAppType {
		v.PackageID = a.BundleID
	} else {
		v.BundleID, v.MinimumOS, v.DeviceTypes = a.BundleID, trueFlags(a.MinimumOS), trueFlags(a.DeviceTypes)
	}
	return v
}

// AppConfigurationView renders an app configuration for the admin API and
// snapshots.
func AppConfigurationView(c *world.AppConfiguration) adminapi.AppConfiguration {
	v := adminapi.AppConfiguration{ID: c.ID, ODataType: c.ODataType, DisplayName: c.DisplayName, Description: c.Description,
		TargetedMobileApps: append([]string{}, c.TargetedApps...), Settings: append([]world.AppConfigSetting{}, c.Settings...),
		EncodedSettingXML: c.EncodedSettingXML, Version: c.Version, Created: c.Created, Modified: c.Modified,
		Assignments: append([]world.Assignment{}, c.Assignments...)}
	return v
}

// installedApps lists what a device reports, by app id.
func installedApps(d *world.Device) []adminapi.InstalledApp {
	out := []adminapi.InstalledApp{}
	for _, id := range slices.Sorted(maps.Keys(d.InstalledApps)) {
		out = append(out, adminapi.InstalledApp{AppID: id, Version: d.InstalledApps[id]})
	}
	return out
}

func mobileAppViews(t *world.Tenant) []adminapi.MobileApp {
	out := []adminapi.MobileApp{}
	for _, a := range t.MobileAppList() {
		out = append(out, MobileAppView(a))
	}
	return out
}

func appConfigurationViews(t *world.Tenant) []adminapi.AppConfiguration {
	out := []adminapi.AppConfiguration{}
	for _, c := range t.AppConfigurationList() {
		out = append(out, AppConfigurationView(c))
	}
	return out
}

func (s *Service) listMobileApps(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	return http.StatusOK, mobileAppViews(t), nil
}

func (s *Service) listAppConfigurations(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	return http.StatusOK, appConfigurationViews(t), nil
}

func (s *Service) appStats(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	return http.StatusOK, t.AppStats, nil
}

func (s *Service) resetAppStats(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	t.AppStats = world.AppStats{}
	return http.StatusNoContent, nil, nil
}

// setPublishingState forces an app's publishingState, e.g. to see an assign
// of an app still processing refused.
func (s *Service) setPublishingState(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.PublishingState
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	a := t.MobileApp(r.PathValue("id"))
	if a == nil {
		return 0, nil, &herr{http.StatusNotFound, "mobile app not found"}
	}
	if !slices.Contains(world.PublishingStates, req.PublishingState) {
		return 0, nil, &herr{http.StatusBadRequest, "publishingState must be one of " + strings.Join(world.PublishingStates, ", ")}
	}
	a.PublishingState = req.PublishingState
	return http.StatusOK, MobileAppView(a), nil
}

func (s *Service) approveManagedStoreApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.ManagedStoreApp
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	a, err := st.ApproveManagedStoreApp(t, r.PathValue("pkg"), req.DisplayName, req.Publisher)
	if err != nil {
		return 0, nil, &herr{http.StatusBadRequest, "a managed store app needs an Android package id (such as com.example.app) and a displayName"}
	}
	return http.StatusOK, MobileAppView(a), nil
}

func (s *Service) removeManagedStoreApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	if e := fromWorld(st.RemoveManagedStoreApp(t, r.PathValue("pkg")), "managed store app"); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) installApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.InstalledApp
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.AppID != "" && req.AppID != r.PathValue("app") {
		return 0, nil, &herr{http.StatusBadRequest, "appIdentifier in the body differs from the path"}
	}
	if e := fromWorld(st.InstallApp(t, r.PathValue("id"), r.PathValue("app"), req.Version), "device or app (a version is required)"); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) uninstallApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	if e := fromWorld(st.UninstallApp(t, r.PathValue("id"), r.PathValue("app")), "device or installed app"); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}
