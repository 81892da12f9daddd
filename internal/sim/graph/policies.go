package graph

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// policiesRoute is served under Prefix and BetaPrefix.
const policiesRoute = "/deviceManagement/deviceCompliancePolicies"

// basePolicyType is the type a Graph version shows a policy as when it does not
// have the policy's own type, as v1.0 shows an androidDeviceOwnerCompliancePolicy.
const basePolicyType = "#microsoft.graph.deviceCompliancePolicy"

var threatLevel = enum("unavailable", "secured", "low", "medium", "high", "notSet")

// Properties of the v1.0 compliance policy types that carry the MTD rule,
// exactly as the v1.0 schema (and msgraph-sdk-go v1.x) has them: beta-only
// ones (advancedThreatProtectionRequiredSecurityLevel, restrictedApps,
// roleScopeTagIds, ...) are refused like any unknown property.
var (
	policyBaseProps = map[string]prop{"displayName": pString, "description": pString}

	androidProps = map[string]prop{
		"passwordRequired": pBool, "passwordMinimumLength": pInt,
		"passwordRequiredType":                  enum("deviceDefault", "alphabetic", "alphanumeric", "alphanumericWithSymbols", "lowSecurityBiometric", "numeric", "numericComplex", "any"),
		"passwordMinutesOfInactivityBeforeLock": pInt, "passwordExpirationDays": pInt,
		"passwordPreviousPasswordBlockCount":           pInt,
		"securityPreventInstallAppsFromUnknownSources": pBool, "securityDisableUsbDebugging": pBool,
		"securityRequireVerifyApps": pBool, "deviceThreatProtectionEnabled": pBool,
		"deviceThreatProtectionRequiredSecurityLevel": threatLevel,
		"securityBlockJailbrokenDevices":              pBool, "osMinimumVersion": pString, "osMaximumVersion": pString,
		"minAndroidSecurityPatchLevel": pString, "storageRequireEncryption": pBool,
		"securityRequireSafetyNetAttestationBasicIntegrity":  pBool,
		"securityRequireSafetyNetAttestationCertifiedDevice": pBool,
		"securityRequireGooglePlayServices":                  pBool, "securityRequireUpToDateSecurityProviders": pBool,
		"securityRequireCompanyPortalAppIntegrity": pBool,
	}

	iosProps = map[string]prop{
		"passcodeBlockSimple": pBool, "passcodeExpirationDays": pInt, "passcodeMinimumLength": pInt,
		"passcodeMinutesOfInactivityBeforeLock": pInt, "passcodePreviousPasscodeBlockCount": pInt,
		"passcodeMinimumCharacterSetCount": pInt,
		"passcodeRequiredType":             enum("deviceDefault", "alphanumeric", "numeric"), "passcodeRequired": pBool,
		"osMinimumVersion": pString, "osMaximumVersion": pString, "securityBlockJailbrokenDevices": pBool,
		"deviceThreatProtectionEnabled": pBool, "deviceThreatProtectionRequiredSecurityLevel": threatLevel,
		"managedEmailProfileRequired": pBool,
	}

	v1PolicyTypes = map[string]map[string]prop{
		world.AndroidPolicyType:     merge(policyBaseProps, androidProps),
		world.AndroidWorkPolicyType: merge(policyBaseProps, androidProps),
		world.IOSPolicyType:         merge(policyBaseProps, iosProps),
	}

	// Properties of androidDeviceOwnerCompliancePolicy (Android Enterprise fully
	// managed, dedicated and corporate-owned work profile) exactly as the beta
	// schema has them, the beta base type's roleScopeTagIds included.
	deviceOwnerProps = map[string]prop{
		"roleScopeTagIds":               pStrings,
		"deviceThreatProtectionEnabled": pBool, "deviceThreatProtectionRequiredSecurityLevel": threatLevel,
		"advancedThreatProtectionRequiredSecurityLevel":     threatLevel,
		"securityBlockJailbrokenDevices":                    pBool,
		"securityRequireSafetyNetAttestationBasicIntegrity": pBool, "securityRequireSafetyNetAttestationCertifiedDevice": pBool,
		"osMinimumVersion": pString, "osMaximumVersion": pString, "minAndroidSecurityPatchLevel": pString,
		"passwordRequired": pBool, "passwordMinimumLength": pInt, "passwordMinimumLetterCharacters": pInt,
		"passwordMinimumLowerCaseCharacters": pInt, "passwordMinimumNonLetterCharacters": pInt,
		"passwordMinimumNumericCharacters": pInt, "passwordMinimumSymbolCharacters": pInt,
		"passwordMinimumUpperCaseCharacters": pInt,
		"passwordRequiredType": enum("deviceDefault", "required", "numeric", "numericComplex", "alphabetic",
			"alphanumeric", "alphanumericWithSymbols", "lowSecurityBiometric", "customPassword"),
		"passwordMinutesOfInactivityBeforeLock": pInt, "passwordExpirationDays": pInt,
		"passwordPreviousPasswordCountToBlock": pInt, "storageRequireEncryption": pBool,
		"securityRequireIntuneAppIntegrity": pBool, "requireNoPendingSystemUpdates": pBool,
		"securityRequiredAndroidSafetyNetEvaluationType": enum("basic", "hardwareBacked"),
	}

	// v1Policies is v1.0, which has the three types; betaPolicies is beta, which
	// also has androidDeviceOwnerCompliancePolicy. The v1.0 types are validated
	// on beta as on v1.0: their beta-only properties are not modelled.
	v1Policies   = &policyAPI{version: "v1.0", types: v1PolicyTypes}
	betaPolicies = &policyAPI{version: "beta", types: merge(v1PolicyTypes, map[string]map[string]prop{
		world.AndroidDeviceOwnerPolicyType: merge(policyBaseProps, deviceOwnerProps),
	})}

	// Accepted in a body and ignored: annotations, server-set fields, and
	// navigation properties (handled separately on create).
	policyIgnored = []string{"@odata.type", "id", "createdDateTime", "lastModifiedDateTime", "version",
		"scheduledActionsForRule", "assignments", "deviceStatuses", "userStatuses",
		"deviceStatusOverview", "userStatusOverview", "deviceSettingStateSummaries"}

	actionTypes = enum("noAction", "notification", "block", "retire", "wipe", "removeResourceAccessProfiles", "pushNotification")

	targetTypes = []string{world.GroupTarget, world.ExclusionTarget, world.AllUsersTarget, world.AllDevicesTarget}
)

// merge merges maps; a later map's keys win.
func merge[V any](ms ...map[string]V) map[string]V {
	out := map[string]V{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// policyAPI is one Graph version's view of the compliance policies: the types
// it has, each with its properties.
type policyAPI struct {
	version string // as Graph names it: v1.0 or beta
	types   map[string]map[string]prop
}

// policyAPIOf is the view of the Graph version the request addressed.
func policyAPIOf(r *http.Request) *policyAPI {
	if versionPrefix(r) == BetaPrefix {
		return betaPolicies
	}
	return v1Policies
}

// view is the type p shows as in this version and that type's properties. A
// type the version does not have shows as the base type with the base
// properties only, as v1.0 shows an androidDeviceOwnerCompliancePolicy (and
// msgraph-sdk-go v1.x would lose its MTD rule anyway).
func (a *policyAPI) view(p *world.CompliancePolicy) (string, map[string]prop) {
	if props, ok := a.types[p.ODataType]; ok {
		return p.ODataType, props
	}
	return basePolicyType, policyBaseProps
}

// registerPolicies serves the same routes on v1.0 and beta: the handlers take
// the version's view from the request path.
func (s *Service) registerPolicies(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleConfigReadWrite, world.RoleConfigRead), cat: catConfig}
	write := route{roles: []string{world.RoleConfigReadWrite}, cat: catConfig, write: true}
	for _, prefix := range []string{Prefix, BetaPrefix} {
		p := prefix + policiesRoute
		s.handle(m, "GET "+p, read, s.listPolicies)
		s.handle(m, "POST "+p, write, s.createPolicy)
		s.handle(m, "GET "+p+"/{id}", read, s.getPolicy)
		s.handle(m, "PATCH "+p+"/{id}", write, s.patchPolicy)
		s.handle(m, "DELETE "+p+"/{id}", write, s.deletePolicy)
		s.handle(m, "GET "+p+"/{id}/assignments", read, s.listAssignments)
		s.handle(m, "GET "+p+"/{id}/scheduledActionsForRule", read, s.listRules)
		s.handle(m, "GET "+p+"/{id}/deviceStatusOverview", read, s.deviceStatusOverview)
		s.handle(m, "POST "+p+"/{id}/assign", write, s.assignPolicy)
		s.handle(m, "POST "+p+"/{id}/scheduleActionsForRules", write, s.scheduleActions)
	}
}

// policyExpand validates $expand: only scheduledActionsForRule (optionally
// with nested scheduledActionConfigurations) and assignments exist.
func policyExpand(r *http.Request) (map[string]string, *apiErr) {
	exp := parseExpand(r.URL.Query().Get("$expand"))
	for name, nested := range exp {
		if name != "scheduledActionsForRule" && name != "assignments" {
			return nil, badRequest("Could not find a property named '" + name + "' on type 'microsoft.graph.deviceCompliancePolicy'.")
		}
		for n := range nestedExpand(nested) {
			if name != "scheduledActionsForRule" || n != "scheduledActionConfigurations" {
				return nil, badRequest("Could not find a property named '" + n + "' on type 'microsoft.graph." + name + "'.")
			}
		}
	}
	return exp, nil
}

// policyJSON renders p as api shows it: every property of its view, unset
// ones at their default, and none the view does not have.
func policyJSON(p *world.CompliancePolicy, exp map[string]string, api *policyAPI) map[string]any {
	typ, props := api.view(p)
	out := make(map[string]any, len(props)+8)
	for k, pr := range props {
		out[k] = zeroOf(pr)
		if v, ok := p.Props[k]; ok {
			out[k] = v
		}
	}
	out["@odata.type"] = typ
	out["id"] = p.ID
	out["createdDateTime"] = formatTime(p.Created)
	out["lastModifiedDateTime"] = formatTime(p.Modified)
	out["version"] = p.Version
	if nested, ok := exp["scheduledActionsForRule"]; ok {
		out["scheduledActionsForRule"] = rulesJSON(p, nestedExpand(nested))
	}
	if _, ok := exp["assignments"]; ok {
		out["assignments"] = assignmentsJSON(p)
	}
	return out
}

// rulesJSON renders scheduledActionsForRule; configurations only when
// expanded, as Graph does for a navigation property.
func rulesJSON(p *world.CompliancePolicy, exp map[string]string) []map[string]any {
	_, withConfigs := exp["scheduledActionConfigurations"]
	rules := make([]map[string]any, 0, len(p.Rules))
	for _, r := range p.Rules {
		m := map[string]any{"id": r.ID, "ruleName": r.Name}
		if withConfigs {
			m["scheduledActionConfigurations"] = r.Configs
		}
		rules = append(rules, m)
	}
	return rules
}

func assignmentsJSON(p *world.CompliancePolicy) []world.Assignment {
	if p.Assignments == nil {
		return []world.Assignment{}
	}
	return p.Assignments
}

func (s *Service) listPolicies(c *call) {
	exp, e := policyExpand(c.r)
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	api := policyAPIOf(c.r)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items := make([]map[string]any, 0, len(t.Policies))
		for _, p := range t.PolicyList() {
			items = append(items, policyJSON(p, exp, api))
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "deviceManagement/deviceCompliancePolicies"), "value": items}, nil
	})
}

func (s *Service) getPolicy(c *call) {
	exp, e := policyExpand(c.r)
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		out := policyJSON(p, exp, policyAPIOf(c.r))
		out["@odata.context"] = contextURL(c.r, "deviceManagement/deviceCompliancePolicies/$entity")
		return http.StatusOK, out, nil
	})
}

// listAssignments is GET .../{id}/assignments.
func (s *Service) listAssignments(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "deviceManagement/deviceCompliancePolicies('"+id+"')/assignments"),
			"value": assignmentsJSON(p)}, nil
	})
}

// deviceStatusOverview is GET .../{id}/deviceStatusOverview: how many of the devices
// the policy applies to comply with it. The twin evaluates on read, so nothing is
// pending and lastUpdateDateTime is now.
func (s *Service) deviceStatusOverview(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		o := st.PolicyDeviceOverview(t, p)
		return http.StatusOK, map[string]any{
			"@odata.context":             contextURL(c.r, "deviceManagement/deviceCompliancePolicies('"+id+"')/deviceStatusOverview/$entity"),
			"id":                         id,
			"pendingCount":               0,
			"notApplicableCount":         o.NotApplicable,
			"notApplicablePlatformCount": 0,
			"successCount":               o.Success,
			"errorCount":                 0,
			"failedCount":                o.Failed,
			"conflictCount":              0,
			"lastUpdateDateTime":         formatTime(st.Now),
			"configurationVersion":       p.Version,
		}, nil
	})
}

// listRules is GET .../{id}/scheduledActionsForRule (with
// $expand=scheduledActionConfigurations for the actions).
func (s *Service) listRules(c *call) {
	id := c.r.PathValue("id")
	exp := parseExpand(c.r.URL.Query().Get("$expand"))
	for name := range exp {
		if name != "scheduledActionConfigurations" {
			c.fail(http.StatusBadRequest, "BadRequest", "Could not find a property named '"+name+"' on type 'microsoft.graph.deviceComplianceScheduledActionForRule'.")
			return
		}
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "deviceManagement/deviceCompliancePolicies('"+id+"')/scheduledActionsForRule"),
			"value": rulesJSON(p, exp)}, nil
	})
}

// parseRules validates scheduledActionsForRule items and the service's rule
// that exactly one block action exists.
func parseRules(v any) ([]world.ScheduledActionRule, *apiErr) {
	arr, ok := v.([]any)
	if !ok {
		arr = nil
	}
	var rules []world.ScheduledActionRule
	blocks := 0
	for _, item := range arr {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, badRequest("Invalid scheduledActionsForRule item.")
		}
		name, _ := m["ruleName"].(string)
		rule := world.ScheduledActionRule{ID: world.NewID(), Name: name}
		cfgs, _ := m["scheduledActionConfigurations"].([]any)
		for _, ci := range cfgs {
			cm, ok := ci.(map[string]any)
			if !ok {
				return nil, badRequest("Invalid scheduledActionConfigurations item.")
			}
			if err := checkProps("microsoft.graph.deviceComplianceActionItem", cm, map[string]prop{
				"actionType": actionTypes, "gracePeriodHours": pInt, "notificationTemplateId": pString,
				"notificationMessageCCList": pStrings,
			}, []string{"@odata.type", "id"}); err != nil {
				return nil, badRequest(err.Error())
			}
			cfg := world.ActionConfig{ID: world.NewID(), NotificationMessageCCList: []string{}}
			cfg.ActionType, _ = cm["actionType"].(string)
			if g, ok := cm["gracePeriodHours"].(float64); ok {
				if g < 0 {
					return nil, badRequest("gracePeriodHours must not be negative.")
				}
				cfg.GracePeriodHours = int(g)
			}
			cfg.NotificationTemplateID, _ = cm["notificationTemplateId"].(string)
			if cc, ok := cm["notificationMessageCCList"].([]any); ok {
				for _, x := range cc {
					cfg.NotificationMessageCCList = append(cfg.NotificationMessageCCList, x.(string))
				}
			}
			if cfg.ActionType == "" {
				return nil, badRequest("actionType is required.")
			}
			if cfg.ActionType == "block" {
				blocks++
			}
			rule.Configs = append(rule.Configs, cfg)
		}
		rules = append(rules, rule)
	}
	if blocks != 1 {
		return nil, badRequest("Compliance policy must have one and only one block scheduled action")
	}
	return rules, nil
}

// parseAssignments validates assignment targets.
func parseAssignments(v any) ([]world.Assignment, *apiErr) {
	arr, ok := v.([]any)
	if !ok && v != nil {
		return nil, badRequest("assignments must be a collection.")
	}
	out := []world.Assignment{}
	for _, item := range arr {
		m, _ := item.(map[string]any)
		tgt, _ := m["target"].(map[string]any)
		if tgt == nil {
			return nil, badRequest("An assignment must have a target.")
		}
		typ, _ := tgt["@odata.type"].(string)
		if !slices.Contains(targetTypes, typ) {
			return nil, badRequest("Unsupported assignment target type '" + typ + "'.")
		}
		gid, _ := tgt["groupId"].(string)
		isGroup := typ == world.GroupTarget || typ == world.ExclusionTarget
		if isGroup && gid == "" {
			return nil, badRequest("groupId is required for target type '" + typ + "'.")
		}
		if !isGroup {
			gid = ""
		}
		out = append(out, world.Assignment{ID: world.NewID(), Target: world.Target{ODataType: typ, GroupID: gid}})
	}
	return out, nil
}

// writableProps returns the body without ignored keys.
func writableProps(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if !slices.Contains(policyIgnored, k) {
			out[k] = v
		}
	}
	return out
}

func (s *Service) createPolicy(c *call) {
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	api := policyAPIOf(c.r)
	typ, _ := body["@odata.type"].(string)
	props, known := api.types[typ]
	switch {
	case typ == "":
		c.fail(http.StatusBadRequest, "BadRequest", "A type named 'microsoft.graph.deviceCompliancePolicy' could not be instantiated because it is abstract: @odata.type is required.")
		return
	case !known:
		c.fail(http.StatusBadRequest, "BadRequest", "The type '"+strings.TrimPrefix(typ, "#")+"' is not a compliance policy type with a threat protection rule in "+api.version+".")
		return
	}
	if err := checkProps(strings.TrimPrefix(typ, "#"), body, props, policyIgnored); err != nil {
		c.fail(http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if name, _ := body["displayName"].(string); strings.TrimSpace(name) == "" {
		c.fail(http.StatusBadRequest, "BadRequest", "The property 'displayName' is required and must not be empty.")
		return
	}
	rules, e := parseRules(body["scheduledActionsForRule"])
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	assigns, e := parseAssignments(body["assignments"])
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := &world.CompliancePolicy{ID: world.NewID(), ODataType: typ, Props: writableProps(body),
			Version: 1, Created: st.Now, Modified: st.Now, Rules: rules, Assignments: assigns}
		st.PutPolicy(t, p)
		out := policyJSON(p, nil, api)
		out["@odata.context"] = contextURL(c.r, "deviceManagement/deviceCompliancePolicies/$entity")
		return http.StatusCreated, out, nil
	})
}

func (s *Service) patchPolicy(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	api := policyAPIOf(c.r)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		shown, props := api.view(p)
		if typ, ok := body["@odata.type"].(string); ok && typ != shown {
			return 0, nil, badRequest("The @odata.type '" + typ + "' does not match the type of the entity '" + shown + "'.")
		}
		if err := checkProps(strings.TrimPrefix(shown, "#"), body, props, policyIgnored); err != nil {
			return 0, nil, badRequest(err.Error())
		}
		if name, present := body["displayName"]; present {
			if s, _ := name.(string); strings.TrimSpace(s) == "" {
				return 0, nil, badRequest("The property 'displayName' must not be empty.")
			}
		}
		maps.Copy(p.Props, writableProps(body))
		p.Version++
		p.Modified = st.Now
		out := policyJSON(p, nil, api)
		out["@odata.context"] = contextURL(c.r, "deviceManagement/deviceCompliancePolicies/$entity")
		return http.StatusOK, out, nil
	})
}

func (s *Service) deletePolicy(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if !st.DeletePolicy(t, id) {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		return http.StatusNoContent, nil, nil
	})
}

func (s *Service) assignPolicy(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	if _, ok := body["assignments"]; !ok {
		c.fail(http.StatusBadRequest, "BadRequest", "The parameter 'assignments' is required.")
		return
	}
	assigns, e := parseAssignments(body["assignments"])
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		p.Assignments = assigns // assign replaces the whole set
		return http.StatusOK, map[string]any{
			"@odata.context": contextURL(c.r, "Collection(microsoft.graph.deviceCompliancePolicyAssignment)"),
			"value":          assignmentsJSON(p),
		}, nil
	})
}

func (s *Service) scheduleActions(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	v, present := body["deviceComplianceScheduledActionForRules"]
	if !present {
		c.fail(http.StatusBadRequest, "BadRequest", "The parameter 'deviceComplianceScheduledActionForRules' is required.")
		return
	}
	rules, e := parseRules(v)
	if e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		p := t.Policies[id]
		if p == nil {
			return 0, nil, missing("deviceCompliancePolicy", id)
		}
		p.Rules = rules
		p.Modified = st.Now
		return http.StatusNoContent, nil, nil
	})
}
