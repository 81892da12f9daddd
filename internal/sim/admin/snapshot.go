package admin

import (
	"net/http"
	"slices"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// snapshot renders the whole world (for debugging and test artefacts).
func (s *Service) snapshot(w http.ResponseWriter, r *http.Request) {
	var out adminapi.Snapshot
	s.World.Run(func(st *world.State) {
		out.Now = st.Now
		for _, t := range st.Tenants() {
			out.Tenants = append(out.Tenants, tenantSnapshot(st, t))
		}
	})
	mw.WriteJSON(w, http.StatusOK, out)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func tenantSnapshot(st *world.State, t *world.Tenant) adminapi.TenantSnapshot {
	ts := adminapi.TenantSnapshot{TenantInfo: tenantInfo(t), AppIDs: sortedKeys(t.Apps),
		Groups: []adminapi.Group{}, Users: []adminapi.User{}, Devices: []adminapi.DeviceView{},
		Connectors: []map[string]any{}, Policies: []map[string]any{}, CAPolicies: []map[string]any{},
		RiskAssessment: t.UES.RiskAssessment, Alerts: []adminapi.AlertView{},
		MobileApps: mobileAppViews(t), AppConfigs: appConfigurationViews(t), AppStats: t.AppStats}
	for _, id := range sortedKeys(t.Groups) {
		g := t.Groups[id]
		ts.Groups = append(ts.Groups, adminapi.Group{ID: g.ID, DisplayName: g.DisplayName, Members: sortedKeys(g.Members)})
	}
	for _, id := range sortedKeys(t.Users) {
		u := t.Users[id]
		ts.Users = append(ts.Users, adminapi.User{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName})
	}
	for _, d := range t.ManagedDevices() {
		ts.Devices = append(ts.Devices, DeviceView(st, t, d))
	}
	for _, id := range sortedKeys(t.Connectors) {
		c := t.Connectors[id]
		ts.Connectors = append(ts.Connectors, map[string]any{"id": c.ID, "partnerState": st.PartnerState(t, c),
			"lastHeartbeatDateTime": st.Heartbeat(t, c), "partnerUnresponsivenessThresholdInDays": c.ThresholdDays,
			"flags": c.Flags})
	}
	for _, p := range t.PolicyList() {
		ts.Policies = append(ts.Policies, map[string]any{"id": p.ID, "@odata.type": p.ODataType, "version": p.Version,
			"properties": p.Props, "scheduledActionsForRule": p.Rules, "assignments": p.Assignments})
	}
	for _, p := range t.CAPolicyList() {
		ts.CAPolicies = append(ts.CAPolicies, map[string]any{"id": p.ID, "properties": p.Props})
	}
	for _, a := range t.Alerts() {
		ts.Alerts = append(ts.Alerts, alertView(a))
	}
	return ts
}
