package graph

import (
	"net/http"
	"slices"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// registerDirectory serves the Entra device lookup by deviceId
// (GET /devices?$filter=deviceId eq '...') and the direct group memberships of users
// and devices (GET /users/{id}/memberOf, GET /devices/{id}/memberOf), which the
// operator reads to keep remediation away from protected groups. Real Entra gives a
// device object its own id besides deviceId (Intune's azureADDeviceId); the twin uses
// the deviceId for both, so clients must still look the object up first, as they
// would against Graph.
func (s *Service) registerDirectory(m *mw.Mux) {
	members := route{roles: []string{world.RoleGroupMemberRead, world.RoleDirectoryRead}}
	devices := route{roles: []string{world.RoleDeviceRead, world.RoleDirectoryRead}}
	s.handle(m, "GET "+Prefix+"/devices", devices, s.listEntraDevices)
	s.handle(m, "GET "+Prefix+"/users/{id}/memberOf", members, s.memberOf("user"))
	s.handle(m, "GET "+Prefix+"/devices/{id}/memberOf", members, s.memberOf("device"))
}

var entraDeviceFilter = map[string]bool{"deviceid": true, "id": true}

// listEntraDevices answers Entra device objects in one page: those Intune or UES
// still know, in enrolment order, narrowed by the supported $filter subset on deviceId
// or id (which are equal in the twin; an unsupported filter is ignored, as for
// managedDevices).
func (s *Service) listEntraDevices(c *call) {
	clauses, filtered := parseEqFilter(c.r.URL.Query().Get("$filter"), entraDeviceFilter)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items := make([]any, 0)
		seen := map[*world.Device]bool{}
		for _, d := range append(slices.Clone(t.ManagedDevices()), t.UESDevices()...) {
			if seen[d] || (filtered && !entraDeviceMatches(d, clauses)) {
				continue
			}
			seen[d] = true
			items = append(items, map[string]any{"id": d.EntraID, "deviceId": d.EntraID, "displayName": d.Name, "operatingSystem": d.Platform})
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "devices"), "value": items}, nil
	})
}

// entraDeviceMatches applies deviceId/id clauses, which are the same id in the twin.
func entraDeviceMatches(d *world.Device, clauses []eqClause) bool {
	for _, cl := range clauses {
		if !strings.EqualFold(d.EntraID, cl.value) {
			return false
		}
	}
	return true
}

// memberOf answers one page holding every group with the object as a direct member,
// ordered by group id, as directoryObjects with their @odata.type.
func (s *Service) memberOf(kind string) func(c *call) {
	return func(c *call) {
		id := c.r.PathValue("id")
		s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
			known := t.Users[id] != nil
			if kind == "device" {
				d := t.Device(id)
				known = d != nil && d.EntraID == id
			}
			if !known {
				return 0, nil, &apiErr{http.StatusNotFound, "Request_ResourceNotFound",
					"Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."}
			}
			ids := make([]string, 0)
			for gid, g := range t.Groups {
				if g.Members[id] {
					ids = append(ids, gid)
				}
			}
			slices.Sort(ids)
			items := make([]any, 0, len(ids))
			for _, gid := range ids {
				items = append(items, map[string]any{"@odata.type": "#microsoft.graph.group", "id": gid, "displayName": t.Groups[gid].DisplayName})
			}
			return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "directoryObjects"), "value": items}, nil
		})
	}
}
