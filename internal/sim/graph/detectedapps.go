package graph

import (
	"net/http"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const detectedAppsPath = Prefix + "/deviceManagement/detectedApps"

// registerDetectedApps serves Intune's discovered apps, derived from the apps
// each managed device reports (world.Tenant.DetectedApps). They belong to the
// managed devices service: its roles and throttling budget.
func (s *Service) registerDetectedApps(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleDevicesReadWrite, world.RoleDevicesRead), cat: catDevices}
	s.handle(m, "GET "+detectedAppsPath, read, s.listDetectedApps)
	s.handle(m, "GET "+detectedAppsPath+"/{id}", read, s.getDetectedApp)
	s.handle(m, "GET "+detectedAppsPath+"/{id}/managedDevices", read, s.detectedAppDevices)
}

// detectedAppJSON renders a detected app. The twin's devices report no size
// and no publisher (Intune reports neither for most mobile apps).
func detectedAppJSON(da *world.DetectedApp) map[string]any {
	return map[string]any{"id": da.ID, "displayName": da.DisplayName, "version": da.Version, "sizeInByte": 0,
		"deviceCount": len(da.Devices), "publisher": nil, "platform": da.Platform}
}

func (s *Service) listDetectedApps(c *call) {
	pg, e := parsePage(c.r, AppPageSize)
	if e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items, next := collect(t.DetectedApps(), pg, func(da *world.DetectedApp) (any, bool) { return detectedAppJSON(da), true })
		return http.StatusOK, collection(c.r, "deviceManagement/detectedApps", items, next), nil
	})
}

func (s *Service) getDetectedApp(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		da := t.DetectedApp(id)
		if da == nil {
			return 0, nil, missing("detectedApp", id)
		}
		out := detectedAppJSON(da)
		out["@odata.context"] = contextURL(c.r, "deviceManagement/detectedApps/$entity")
		return http.StatusOK, out, nil
	})
}

// detectedAppDevices pages through the managed devices that report the app,
// in enrolment order, with $select as on managedDevices.
func (s *Service) detectedAppDevices(c *call) {
	id := c.r.PathValue("id")
	pg, e := parsePage(c.r, AppPageSize)
	sel := parseSelect(c.r.URL.Query().Get("$select"))
	if e == nil {
		e = checkSelect(sel)
	}
	if e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		da := t.DetectedApp(id)
		if da == nil {
			return 0, nil, missing("detectedApp", id)
		}
		var perr error
		items, next := collect(da.Devices, pg, func(d *world.Device) (any, bool) {
			v, err := project(deviceJSON(st, t, d), sel)
			if err != nil {
				perr = err
			}
			return v, true
		})
		if perr != nil {
			return 0, nil, &apiErr{http.StatusInternalServerError, "InternalServerError", perr.Error()}
		}
		return http.StatusOK, collection(c.r, "deviceManagement/detectedApps('"+id+"')/managedDevices", items, next), nil
	})
}
