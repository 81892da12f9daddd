package graph

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const caPath = Prefix + "/identity/conditionalAccess/policies"

var (
	caStates        = []string{"enabled", "disabled", "enabledForReportingButNotEnforced"}
	builtInControls = []string{"block", "mfa", "compliantDevice", "domainJoinedDevice", "approvedApplication",
		"compliantApplication", "passwordChange", "unknownFutureValue"}
	caPlatforms = []string{"android", "iOS", "windows", "windowsPhone", "macOS", "linux", "all", "unknownFutureValue"}
	caReadOnly  = []string{"@odata.type", "id", "createdDateTime", "modifiedDateTime", "templateId"}
	caTopLevel  = []string{"displayName", "state", "conditions", "grantControls", "sessionControls", "description"}
	// conditionalAccessConditionSet of v1.0; kiota also sends @odata.type
	// in every nested object.
	caConditionKs = []string{"@odata.type", "applications", "users", "platforms", "locations", "clientAppTypes",
		"signInRiskLevels", "userRiskLevels", "servicePrincipalRiskLevels", "devices", "clientApplications",
		"insiderRiskLevels", "authenticationFlows"}
)

func (s *Service) registerCA(m *mw.Mux) {
	read := route{roles: []string{world.RolePolicyRead, world.RoleCAReadWrite}}
	write := route{roles: []string{world.RoleCAReadWrite}, write: true}
	s.handle(m, "GET "+caPath, read, s.listCA)
	s.handle(m, "POST "+caPath, write, s.createCA)
	s.handle(m, "GET "+caPath+"/{id}", read, s.getCA)
	s.handle(m, "PATCH "+caPath+"/{id}", write, s.patchCA)
	s.handle(m, "DELETE "+caPath+"/{id}", write, s.deleteCA)
}

func caJSON(p *world.CAPolicy) map[string]any {
	out := map[string]any{"templateId": nil, "sessionControls": nil, "grantControls": nil, "description": nil}
	maps.Copy(out, p.Props)
	out["@odata.type"] = "#microsoft.graph.conditionalAccessPolicy"
	out["id"] = p.ID
	out["createdDateTime"] = formatTime(p.Created)
	out["modifiedDateTime"] = formatTime(p.Modified)
	return out
}

// validateCA checks a full policy (after merging a PATCH): required parts,
// enums, and that the evaluated subset parses.
func validateCA(props map[string]any) (world.CAView, *apiErr) {
	var v world.CAView
	for k := range props {
		if !slices.Contains(caTopLevel, k) && !slices.Contains(caReadOnly, k) {
			return v, badRequest("The property '" + k + "' does not exist on type 'microsoft.graph.conditionalAccessPolicy'.")
		}
	}
	if name, _ := props["displayName"].(string); strings.TrimSpace(name) == "" {
		return v, badRequest("displayName is required.")
	}
	if st, _ := props["state"].(string); !slices.Contains(caStates, st) {
		return v, badRequest("state must be one of " + strings.Join(caStates, ", ") + ".")
	}
	cond, _ := props["conditions"].(map[string]any)
	if cond == nil || cond["applications"] == nil || cond["users"] == nil {
		return v, badRequest("conditions with applications and users are required.")
	}
	for k := range cond {
		if !slices.Contains(caConditionKs, k) {
			return v, badRequest("The property '" + k + "' does not exist on type 'microsoft.graph.conditionalAccessConditionSet'.")
		}
	}
	if props["grantControls"] == nil && props["sessionControls"] == nil {
		return v, badRequest("Either grantControls or sessionControls is required.")
	}
	b, _ := json.Marshal(props)
	if err := json.Unmarshal(b, &v); err != nil {
		return v, badRequest("Invalid conditional access policy: " + err.Error())
	}
	if g := v.GrantControls; g != nil {
		if g.Operator != "AND" && g.Operator != "OR" {
			return v, badRequest("grantControls.operator must be AND or OR.")
		}
		for _, c := range g.BuiltInControls {
			if !slices.Contains(builtInControls, c) {
				return v, badRequest("Requested value '" + c + "' was not found (builtInControls).")
			}
		}
	}
	if p := v.Conditions.Platforms; p != nil {
		for _, x := range append(slices.Clone(p.Include), p.Exclude...) {
			if !slices.Contains(caPlatforms, x) {
				return v, badRequest("Requested value '" + x + "' was not found (platforms).")
			}
		}
	}
	return v, nil
}

// mergePatch merges src into dst: objects recursively, anything else replaced.
func mergePatch(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergePatch(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func stripReadOnly(m map[string]any) map[string]any {
	out := maps.Clone(m)
	for _, k := range caReadOnly {
		delete(out, k)
	}
	return out
}

func (s *Service) listCA(c *call) {
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items := []map[string]any{}
		for _, p := range t.CAPolicyList() {
			items = append(items, caJSON(p))
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "identity/conditionalAccess/policies"), "value": items}, nil
	})
}

func (s *Service) getCA(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.CAPolicies[id]
		if p == nil {
			return 0, nil, missing("conditionalAccessPolicy", id)
		}
		return http.StatusOK, caJSON(p), nil
	})
}

func (s *Service) createCA(c *call) {
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	props := stripReadOnly(body)
	view, e := validateCA(props)
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := &world.CAPolicy{ID: world.NewID(), Props: props, Created: st.Now, Modified: st.Now, View: view}
		st.PutCAPolicy(t, p)
		return http.StatusCreated, caJSON(p), nil
	})
}

// patchCA answers 204, as Graph does for Conditional Access updates.
func (s *Service) patchCA(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.CAPolicies[id]
		if p == nil {
			return 0, nil, missing("conditionalAccessPolicy", id)
		}
		merged := deepCopy(p.Props)
		mergePatch(merged, stripReadOnly(body))
		view, e := validateCA(merged)
		if e != nil {
			return 0, nil, e
		}
		p.Props, p.View, p.Modified = merged, view, st.Now
		return http.StatusNoContent, nil, nil
	})
}

func (s *Service) deleteCA(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if !st.DeleteCAPolicy(t, id) {
			return 0, nil, missing("conditionalAccessPolicy", id)
		}
		return http.StatusNoContent, nil, nil
	})
}
