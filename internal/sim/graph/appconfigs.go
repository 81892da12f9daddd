package graph

import (
	"encoding/base64"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// appConfigsPath is served on v1.0 only.
const appConfigsPath = Prefix + "/deviceAppManagement/mobileAppConfigurations"

var (
	appConfigProps = map[string]prop{"displayName": pString, "description": pString, "targetedMobileApps": pStrings,
		"settings": pAny, "encodedSettingXml": pString}
	// Accepted in a body and ignored: annotations, server-set fields and
	// navigation properties.
	appConfigIgnored = []string{"@odata.type", "id", "createdDateTime", "lastModifiedDateTime", "version", "assignments",
		"deviceStatuses", "userStatuses", "deviceStatusSummary", "userStatusSummary"}

	configKeyType    = enum("stringType", "integerType", "realType", "booleanType", "tokenType")
	settingItemProps = map[string]prop{"appConfigKey": pString, "appConfigKeyType": configKeyType, "appConfigKeyValue": pString}
)

const settingItemType = "microsoft.graph.appConfigurationSettingItem"

func (s *Service) registerAppConfigurations(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleAppsReadWrite, world.RoleAppsRead), cat: catConfig}
	write := route{roles: []string{world.RoleAppsReadWrite}, cat: catConfig, write: true}
	p := appConfigsPath
	s.handle(m, "GET "+p, read, s.listAppConfigs)
	s.handle(m, "POST "+p, write, s.createAppConfig)
	s.handle(m, "GET "+p+"/{id}", read, s.getAppConfig)
	s.handle(m, "PATCH "+p+"/{id}", write, s.patchAppConfig)
	s.handle(m, "DELETE "+p+"/{id}", write, s.deleteAppConfig)
	s.handle(m, "POST "+p+"/{id}/assign", write, s.assignAppConfig)
	s.handle(m, "GET "+p+"/{id}/assignments", read, s.listAppConfigAssignments)
}

// appConfigJSON renders an app configuration as v1.0 shows it.
func appConfigJSON(cfg *world.AppConfiguration, withAssignments bool) map[string]any {
	settings := make([]map[string]any, 0, len(cfg.Settings))
	for _, st := range cfg.Settings {
		settings = append(settings, map[string]any{"@odata.type": settingItemType,
			"appConfigKey": st.Key, "appConfigKeyType": st.Type, "appConfigKeyValue": st.Value})
	}
	out := map[string]any{"@odata.type": cfg.ODataType, "id": cfg.ID, "displayName": cfg.DisplayName,
		"description": nullable(cfg.Description), "targetedMobileApps": append([]string{}, cfg.TargetedApps...),
		"createdDateTime": formatTime(cfg.Created), "lastModifiedDateTime": formatTime(cfg.Modified),
		"version": cfg.Version, "settings": settings, "encodedSettingXml": nullable(cfg.EncodedSettingXML)}
	if withAssignments {
		out["assignments"] = configAssignmentsJSON(cfg)
	}
	return out
}

func configAssignmentsJSON(cfg *world.AppConfiguration) []world.Assignment {
	if cfg.Assignments == nil {
		return []world.Assignment{}
	}
	return cfg.Assignments
}

const configTypeName = "microsoft.graph.managedDeviceMobileAppConfiguration"

func (s *Service) listAppConfigs(c *call) {
	expand, e := expandAssignments(c.r, configTypeName)
	var pg page
	if e == nil {
		pg, e = parsePage(c.r, AppPageSize)
	}
	if e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items, next := collect(t.AppConfigurationList(), pg, func(cfg *world.AppConfiguration) (any, bool) {
			return appConfigJSON(cfg, expand), true
		})
		return http.StatusOK, collection(c.r, "deviceAppManagement/mobileAppConfigurations", items, next), nil
	})
}

func (s *Service) getAppConfig(c *call) {
	expand, e := expandAssignments(c.r, configTypeName)
	if e != nil {
		c.failWith(e)
		return
	}
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		cfg := t.AppConfiguration(id)
		if cfg == nil {
			return 0, nil, missing("managedDeviceMobileAppConfiguration", id)
		}
		out := appConfigJSON(cfg, expand)
		out["@odata.context"] = contextURL(c.r, "deviceAppManagement/mobileAppConfigurations/$entity")
		return http.StatusOK, out, nil
	})
}

func (s *Service) listAppConfigAssignments(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		cfg := t.AppConfiguration(id)
		if cfg == nil {
			return 0, nil, missing("managedDeviceMobileAppConfiguration", id)
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "deviceAppManagement/mobileAppConfigurations('"+id+"')/assignments"),
			"value": configAssignmentsJSON(cfg)}, nil
	})
}

func (s *Service) createAppConfig(c *call) {
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	switch typ, _ := body["@odata.type"].(string); typ {
	case world.IOSAppConfigurationType:
	case "":
		c.failWith(badRequest("A type named '" + configTypeName + "' could not be instantiated because it is abstract: @odata.type is required."))
		return
	default:
		c.failWith(badRequest("The type '" + strings.TrimPrefix(typ, "#") + "' is not an app configuration type the twin creates in v1.0: only microsoft.graph.iosMobileAppConfiguration."))
		return
	}
	cfg := &world.AppConfiguration{ID: world.NewID(), ODataType: world.IOSAppConfigurationType, Version: 1}
	if e := writeAppConfig(cfg, body); e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if e := checkTargetedApps(t, cfg.TargetedApps); e != nil {
			return 0, nil, e
		}
		cfg.Created, cfg.Modified = st.Now, st.Now
		st.PutAppConfiguration(t, cfg)
		t.AppStats.ConfigCreates++
		out := appConfigJSON(cfg, false)
		out["@odata.context"] = contextURL(c.r, "deviceAppManagement/mobileAppConfigurations/$entity")
		return http.StatusCreated, out, nil
	})
}

// patchAppConfig changes a configuration (settings are replaced whole) and
// bumps its version; 204.
func (s *Service) patchAppConfig(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		cfg := t.AppConfiguration(id)
		if cfg == nil {
			return 0, nil, missing("managedDeviceMobileAppConfiguration", id)
		}
		if typ, ok := body["@odata.type"].(string); ok && typ != cfg.ODataType {
			return 0, nil, badRequest("The @odata.type '" + typ + "' does not match the type of the entity '" + cfg.ODataType + "'.")
		}
		n := cfg.Clone()
		if e := writeAppConfig(n, body); e != nil {
			return 0, nil, e
		}
		if _, changed := body["targetedMobileApps"]; changed {
			if e := checkTargetedApps(t, n.TargetedApps); e != nil {
				return 0, nil, e
			}
		}
		n.Version++
		n.Modified = st.Now
		st.PutAppConfiguration(t, n)
		t.AppStats.ConfigPatches++
		return http.StatusNoContent, nil, nil
	})
}

func (s *Service) deleteAppConfig(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if !st.DeleteAppConfiguration(t, id) {
			return 0, nil, missing("managedDeviceMobileAppConfiguration", id)
		}
		t.AppStats.ConfigDeletes++
		return http.StatusNoContent, nil, nil
	})
}

// assignAppConfig replaces the configuration's assignment set; 200 without a
// body.
func (s *Service) assignAppConfig(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	items, e := collectionParam(body, "assignments")
	var assigns []world.Assignment
	if e == nil {
		assigns, e = parseConfigAssignments(items)
	}
	if e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		cfg := t.AppConfiguration(id)
		if cfg == nil {
			return 0, nil, missing("managedDeviceMobileAppConfiguration", id)
		}
		cfg.Assignments = assigns
		t.AppStats.ConfigAssigns++
		return http.StatusOK, nil, nil
	})
}

func parseConfigAssignments(items []any) ([]world.Assignment, *apiErr) {
	out := make([]world.Assignment, 0, len(items))
	seen := targetSet{}
	for i, item := range items {
		m, e := itemOf("assignments", i, item, "#microsoft.graph.managedDeviceMobileAppConfigurationAssignment")
		if e != nil {
			return nil, e
		}
		if err := checkProps("microsoft.graph.managedDeviceMobileAppConfigurationAssignment", m,
			map[string]prop{"target": pAny}, []string{"@odata.type", "id"}); err != nil {
			return nil, badRequest(err.Error())
		}
		tgt, e := parseAppTarget(m["target"])
		if e == nil {
			e = seen.add(tgt)
		}
		if e != nil {
			return nil, e
		}
		out = append(out, world.Assignment{ID: world.NewID(), Target: tgt})
	}
	return out, nil
}

// writeAppConfig type-checks body and writes it onto cfg, then checks what
// does not need the tenant: a name, and settings or encodedSettingXml, not
// both.
func writeAppConfig(cfg *world.AppConfiguration, body map[string]any) *apiErr {
	if err := checkProps(strings.TrimPrefix(cfg.ODataType, "#"), body, appConfigProps, appConfigIgnored); err != nil {
		return badRequest(err.Error())
	}
	for k, v := range body {
		str, _ := v.(string)
		switch k {
		case "displayName":
			cfg.DisplayName = str
		case "description":
			cfg.Description = str
		case "targetedMobileApps":
			cfg.TargetedApps = nil
			arr, _ := v.([]any)
			for _, x := range arr {
				cfg.TargetedApps = append(cfg.TargetedApps, x.(string))
			}
		case "encodedSettingXml":
			if _, err := base64.StdEncoding.DecodeString(str); err != nil {
				return badRequest("The property 'encodedSettingXml' must be base64 (Edm.Binary): " + err.Error())
			}
			cfg.EncodedSettingXML = str
		case "settings":
			settings, e := parseConfigSettings(v)
			if e != nil {
				return e
			}
			cfg.Settings = settings
		}
	}
	if strings.TrimSpace(cfg.DisplayName) == "" {
		return badRequest("The property 'displayName' is required and must not be empty.")
	}
	if len(cfg.Settings) > 0 && cfg.EncodedSettingXML != "" {
		return badRequest("An iosMobileAppConfiguration has either settings or encodedSettingXml, not both.")
	}
	return nil
}

// parseConfigSettings validates settings: each key once, with a known
// appConfigKeyType and a value of that type.
func parseConfigSettings(v any) ([]world.AppConfigSetting, *apiErr) {
	arr, ok := v.([]any)
	if !ok && v != nil {
		return nil, badRequest("The property 'settings' must be a collection of " + settingItemType + ".")
	}
	out := make([]world.AppConfigSetting, 0, len(arr))
	seen := map[string]bool{}
	for i, item := range arr {
		m, e := itemOf("settings", i, item, settingItemType)
		if e != nil {
			return nil, e
		}
		if err := checkProps(settingItemType, m, settingItemProps, []string{"@odata.type"}); err != nil {
			return nil, badRequest(err.Error())
		}
		st := world.AppConfigSetting{}
		st.Key, _ = m["appConfigKey"].(string)
		st.Type, _ = m["appConfigKeyType"].(string)
		st.Value, _ = m["appConfigKeyValue"].(string)
		at := "settings[" + strconv.Itoa(i) + "]"
		switch {
		case st.Key == "":
			return nil, badRequest(at + ": appConfigKey is required.")
		case st.Type == "":
			return nil, badRequest(at + " (appConfigKey '" + st.Key + "'): appConfigKeyType is required, one of " + strings.Join(configKeyType.enum, ", ") + ".")
		case seen[st.Key]:
			return nil, badRequest("The appConfigKey '" + st.Key + "' appears more than once in settings.")
		case !validConfigValue(st.Type, st.Value):
			return nil, badRequest("The value '" + st.Value + "' of appConfigKey '" + st.Key + "' is not a valid " +
				strings.TrimSuffix(st.Type, "Type") + " (appConfigKeyType " + st.Type + ").")
		}
		seen[st.Key] = true
		out = append(out, st)
	}
	return out, nil
}

// validConfigValue checks a value against its appConfigKeyType (strings
// and tokens take anything).
func validConfigValue(typ, v string) bool {
	switch typ {
	case "integerType":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "realType":
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case "booleanType":
		return v == "true" || v == "false"
	}
	return true
}

// checkTargetedApps checks that every targeted app exists, once, and is an
// iOS app (an iosMobileAppConfiguration configures iOS apps only).
func checkTargetedApps(t *world.Tenant, ids []string) *apiErr {
	for i, id := range ids {
		a := t.MobileApp(id)
		switch {
		case slices.Contains(ids[:i], id):
			return badRequest("The mobile app '" + id + "' appears more than once in targetedMobileApps.")
		case a == nil:
			return badRequest("The targeted mobile app '" + id + "' does not exist.")
		case a.ODataType != world.IOSStoreAppType:
			return badRequest("The targeted mobile app '" + id + "' is a " + strings.TrimPrefix(a.ODataType, "#") +
				", not an iOS app: an iosMobileAppConfiguration targets iOS apps only.")
		}
	}
	return nil
}
