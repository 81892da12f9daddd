package graph

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// mobileAppsRoute is served under Prefix and BetaPrefix.
const mobileAppsRoute = "/deviceAppManagement/mobileApps"

// baseAppType is how a Graph version shows an app of a type it does not
// have, as v1.0 shows an androidManagedStoreApp.
const baseAppType = "#microsoft.graph.mobileApp"

// AppPageSize is the largest page (and the default) of the app management
// lists: mobile apps, app configurations, detected apps and their devices.
const AppPageSize = 100

var (
	// iosMinimumOSFlags are iosMinimumOperatingSystem's flags as v1.0 and
	// msgraph-sdk-go v1.x have them; newer versions' flags are refused as
	// unknown properties.
	iosMinimumOSFlags  = []string{"v8_0", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0"}
	iosDeviceTypeFlags = []string{"iPad", "iPhoneAndIPod"}

	// appBaseProps are mobileApp's writable properties (v1.0).
	appBaseProps = map[string]prop{"displayName": pString, "description": pString, "publisher": pString,
		"largeIcon": pAny, "isFeatured": pBool, "privacyInformationUrl": pString, "informationUrl": pString,
		"owner": pString, "developer": pString, "notes": pString}
	iosStoreAppProps = merge(appBaseProps, map[string]prop{"bundleId": pString, "appStoreUrl": pString,
		"applicableDeviceType": pAny, "minimumSupportedOperatingSystem": pAny})

	// Accepted in a body and ignored: annotations, server-set fields and
	// navigation properties.
	appIgnored = []string{"@odata.type", "id", "createdDateTime", "lastModifiedDateTime", "publishingState",
		"assignments", "categories"}

	installIntent = enum("available", "required", "uninstall", "availableWithoutEnrollment")
)

// appSettings is an assignment settings type: the app type it applies to
// and its properties.
type appSettings struct {
	appType string
	props   map[string]prop
}

// appAPI is one Graph version's view of mobile apps: the types it has and the
// assignment settings types it knows.
type appAPI struct {
	version  string
	types    []string
	settings map[string]appSettings
}

var (
	iosStoreSettings = appSettings{world.IOSStoreAppType, map[string]prop{
		"vpnConfigurationId": pString, "uninstallOnDeviceRemoval": pBool, "isRemovable": pBool}}

	v1Apps = &appAPI{version: "v1.0", types: []string{world.IOSStoreAppType},
		settings: map[string]appSettings{"#microsoft.graph.iosStoreAppAssignmentSettings": iosStoreSettings}}
	betaApps = &appAPI{version: "beta", types: []string{world.IOSStoreAppType, world.AndroidManagedStoreAppType},
		settings: map[string]appSettings{
			"#microsoft.graph.iosStoreAppAssignmentSettings": iosStoreSettings,
			"#microsoft.graph.androidManagedStoreAppAssignmentSettings": {world.AndroidManagedStoreAppType, map[string]prop{
				"androidManagedStoreAppTrackIds": pStrings,
				"autoUpdateMode":                 enum("default", "postponed", "priority", "unknownFutureValue")}},
		}}
)

func appAPIOf(r *http.Request) *appAPI {
	if versionPrefix(r) == BetaPrefix {
		return betaApps
	}
	return v1Apps
}

// view is the type a shows as in this version.
func (api *appAPI) view(a *world.MobileApp) string {
	if slices.Contains(api.types, a.ODataType) {
		return a.ODataType
	}
	return baseAppType
}

// registerMobileApps serves the same routes on v1.0 and beta, plus one
// type-cast list per type the version has (mobileApps/graph.iosStoreApp).
func (s *Service) registerMobileApps(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleAppsReadWrite, world.RoleAppsRead), cat: catConfig}
	write := route{roles: []string{world.RoleAppsReadWrite}, cat: catConfig, write: true}
	for _, api := range []*appAPI{v1Apps, betaApps} {
		p := Prefix + mobileAppsRoute
		if api == betaApps {
			p = BetaPrefix + mobileAppsRoute
		}
		s.handle(m, "GET "+p, read, s.listApps)
		for _, typ := range api.types {
			s.handle(m, "GET "+p+"/graph."+strings.TrimPrefix(typ, "#microsoft.graph."), read, s.listAppsOfType(typ))
		}
		s.handle(m, "POST "+p, write, s.createApp)
		s.handle(m, "GET "+p+"/{id}", read, s.getApp)
		s.handle(m, "PATCH "+p+"/{id}", write, s.patchApp)
		s.handle(m, "DELETE "+p+"/{id}", write, s.deleteApp)
		s.handle(m, "POST "+p+"/{id}/assign", write, s.assignApp)
		s.handle(m, "GET "+p+"/{id}/assignments", read, s.listAppAssignments)
	}
}

// expandAssignments validates $expand where assignments is the only
// navigation property served, and reports whether it was asked for.
func expandAssignments(r *http.Request, typeName string) (bool, *apiErr) {
	exp := parseExpand(r.URL.Query().Get("$expand"))
	for name := range exp {
		if name != "assignments" {
			return false, badRequest("Could not find a property named '" + name + "' on type '" + typeName + "'.")
		}
	}
	_, ok := exp["assignments"]
	return ok, nil
}

var isofFilter = regexp.MustCompile(`^isof\(\s*'([^']*)'\s*\)$`)

// appTypeFilter parses the only $filter the twin serves on mobileApps,
// isof('microsoft.graph.<type>'), into the type to keep ("" = every app).
// Graph accepts more (displayName eq ..., ...), which the twin refuses rather
// than ignores, so a client cannot rely on a filter the twin does not apply.
func appTypeFilter(r *http.Request, api *appAPI) (string, *apiErr) {
	f := strings.TrimSpace(r.URL.Query().Get("$filter"))
	if f == "" {
		return "", nil
	}
	sub := isofFilter.FindStringSubmatch(f)
	if sub == nil {
		return "", badRequest("Invalid filter clause '" + f + "': on mobileApps the twin supports only isof('microsoft.graph.<type>').")
	}
	typ := "#" + sub[1]
	switch {
	case typ == baseAppType:
		return "", nil
	case !slices.Contains(api.types, typ):
		return "", badRequest("Invalid filter clause '" + f + "': '" + sub[1] + "' is not a mobileApp type of " + api.version + ".")
	}
	return typ, nil
}

// appJSON renders a as api shows it: the base mobileApp properties, and the
// type's own when the version has the type.
func appJSON(a *world.MobileApp, api *appAPI, withAssignments bool) map[string]any {
	typ := api.view(a)
	out := map[string]any{"@odata.type": typ, "id": a.ID, "displayName": a.DisplayName,
		"description": nullable(a.Description), "publisher": a.Publisher, "largeIcon": nil,
		"createdDateTime": formatTime(a.Created), "lastModifiedDateTime": formatTime(a.Modified),
		"isFeatured": false, "privacyInformationUrl": nil, "informationUrl": nil, "owner": nil,
		"developer": nil, "notes": nil, "publishingState": a.PublishingState}
	maps.Copy(out, a.Extra)
	if api == betaApps {
		out["roleScopeTagIds"], out["isAssigned"] = []any{}, len(a.Assignments) > 0
	}
	switch typ {
	case world.IOSStoreAppType:
		out["bundleId"], out["appStoreUrl"] = a.BundleID, a.AppStoreURL
		out["applicableDeviceType"] = flagsJSON("microsoft.graph.iosDeviceType", iosDeviceTypeFlags, a.DeviceTypes)
		out["minimumSupportedOperatingSystem"] = flagsJSON("microsoft.graph.iosMinimumOperatingSystem", iosMinimumOSFlags, a.MinimumOS)
	case world.AndroidManagedStoreAppType:
		out["packageId"], out["appIdentifier"], out["appStoreUrl"] = a.BundleID, a.BundleID, a.AppStoreURL
		out["isPrivate"], out["isSystemApp"], out["supportsOemConfig"] = false, false, false
		out["usedLicenseCount"], out["totalLicenseCount"], out["appTracks"] = 0, 0, []any{}
	}
	if withAssignments {
		out["assignments"] = appAssignmentsJSON(a)
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// flagsJSON renders a complex type of boolean flags, every flag present.
func flagsJSON(typ string, flags []string, set map[string]bool) map[string]any {
	out := map[string]any{"@odata.type": typ}
	for _, f := range flags {
		out[f] = set[f]
	}
	return out
}

func appAssignmentsJSON(a *world.MobileApp) []world.AppAssignment {
	if a.Assignments == nil {
		return []world.AppAssignment{}
	}
	return a.Assignments
}

// listApps is GET mobileApps: every app, or those of the isof $filter's type.
func (s *Service) listApps(c *call) {
	api := appAPIOf(c.r)
	typ, e := appTypeFilter(c.r, api)
	if e == nil {
		s.listAppsWhere(c, api, typ, "deviceAppManagement/mobileApps")
		return
	}
	c.failWith(e)
}

// listAppsOfType is the OData type cast GET mobileApps/graph.<type>, which
// takes no $filter in the twin.
func (s *Service) listAppsOfType(typ string) func(c *call) {
	return func(c *call) {
		if f := c.r.URL.Query().Get("$filter"); f != "" {
			c.failWith(badRequest("Invalid filter clause '" + f + "': the twin supports no $filter on a type-cast mobileApps list."))
			return
		}
		s.listAppsWhere(c, appAPIOf(c.r), typ, "deviceAppManagement/mobileApps/"+strings.TrimPrefix(typ, "#"))
	}
}

// listAppsWhere answers one page of the apps of typ ("" = all) in creation
// order.
func (s *Service) listAppsWhere(c *call, api *appAPI, typ, frag string) {
	expand, e := expandAssignments(c.r, "microsoft.graph.mobileApp")
	var pg page
	if e == nil {
		pg, e = parsePage(c.r, AppPageSize)
	}
	if e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		items, next := collect(t.MobileAppList(), pg, func(a *world.MobileApp) (any, bool) {
			if typ != "" && a.ODataType != typ {
				return nil, false
			}
			return appJSON(a, api, expand), true
		})
		return http.StatusOK, collection(c.r, frag, items, next), nil
	})
}

func (s *Service) getApp(c *call) {
	expand, e := expandAssignments(c.r, "microsoft.graph.mobileApp")
	if e != nil {
		c.failWith(e)
		return
	}
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		a := t.MobileApp(id)
		if a == nil {
			return 0, nil, missing("mobileApp", id)
		}
		out := appJSON(a, appAPIOf(c.r), expand)
		out["@odata.context"] = contextURL(c.r, "deviceAppManagement/mobileApps/$entity")
		return http.StatusOK, out, nil
	})
}

func (s *Service) listAppAssignments(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		a := t.MobileApp(id)
		if a == nil {
			return 0, nil, missing("mobileApp", id)
		}
		return http.StatusOK, map[string]any{"@odata.context": contextURL(c.r, "deviceAppManagement/mobileApps('"+id+"')/assignments"),
			"value": appAssignmentsJSON(a)}, nil
	})
}

// creatableApp checks a create body's @odata.type: only iosStoreApp can be
// created (an androidManagedStoreApp comes from the Managed Google Play sync).
func creatableApp(body map[string]any, api *appAPI) *apiErr {
	typ, _ := body["@odata.type"].(string)
	switch {
	case typ == world.IOSStoreAppType:
		return nil
	case typ == "":
		return badRequest("A type named 'microsoft.graph.mobileApp' could not be instantiated because it is abstract: @odata.type is required.")
	case typ == world.AndroidManagedStoreAppType && api == betaApps:
		return badRequest("The type 'microsoft.graph.androidManagedStoreApp' cannot be created through Graph: Intune adds such an app when an admin approves it in Managed Google Play and the tenant syncs.")
	}
	return badRequest("The type '" + strings.TrimPrefix(typ, "#") + "' is not a mobileApp type the twin creates in " + api.version + ": only microsoft.graph.iosStoreApp.")
}

func (s *Service) createApp(c *call) {
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	api := appAPIOf(c.r)
	if e := creatableApp(body, api); e != nil {
		c.failWith(e)
		return
	}
	a := &world.MobileApp{ID: world.NewID(), ODataType: world.IOSStoreAppType, Extra: map[string]any{},
		PublishingState: world.PublishingPublished}
	if e := writeIOSStoreApp(a, body); e != nil {
		c.failWith(e)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		a.Created, a.Modified = st.Now, st.Now
		st.PutMobileApp(t, a)
		t.AppStats.AppCreates++
		out := appJSON(a, api, false)
		out["@odata.context"] = contextURL(c.r, "deviceAppManagement/mobileApps/$entity")
		return http.StatusCreated, out, nil
	})
}

// writeIOSStoreApp type-checks body, writes it onto a and checks that a is a
// valid iosStoreApp afterwards: the create and PATCH rules.
func writeIOSStoreApp(a *world.MobileApp, body map[string]any) *apiErr {
	if err := checkProps("microsoft.graph.iosStoreApp", body, iosStoreAppProps, appIgnored); err != nil {
		return badRequest(err.Error())
	}
	for k, v := range body {
		str, _ := v.(string)
		var e *apiErr
		switch k {
		case "displayName":
			a.DisplayName = str
		case "publisher":
			a.Publisher = str
		case "description":
			a.Description = str
		case "bundleId":
			a.BundleID = str
		case "appStoreUrl":
			a.AppStoreURL = str
		case "applicableDeviceType":
			a.DeviceTypes, e = boolFlags(k, "microsoft.graph.iosDeviceType", v, iosDeviceTypeFlags)
		case "minimumSupportedOperatingSystem":
			a.MinimumOS, e = boolFlags(k, "microsoft.graph.iosMinimumOperatingSystem", v, iosMinimumOSFlags)
		default:
			if _, base := appBaseProps[k]; base {
				a.Extra[k] = v
			}
		}
		if e != nil {
			return e
		}
	}
	return validIOSStoreApp(a)
}

// validIOSStoreApp checks what Intune requires of an iosStoreApp.
func validIOSStoreApp(a *world.MobileApp) *apiErr {
	for _, f := range [][2]string{{"displayName", a.DisplayName}, {"publisher", a.Publisher}, {"bundleId", a.BundleID}} {
		if strings.TrimSpace(f[1]) == "" {
			return badRequest("The property '" + f[0] + "' is required and must not be empty.")
		}
	}
	if u, err := url.Parse(a.AppStoreURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return badRequest("The property 'appStoreUrl' must be an absolute https URL (the app's App Store page), not '" + a.AppStoreURL + "'.")
	}
	if !slices.Contains(slices.Collect(maps.Values(a.MinimumOS)), true) {
		return badRequest("The property 'minimumSupportedOperatingSystem' is required and must set one of " +
			strings.Join(iosMinimumOSFlags, ", ") + " to true.")
	}
	return nil
}

// boolFlags reads a complex value made of boolean flags (null = all false);
// its @odata.type, when given, must be typ.
func boolFlags(name, typ string, v any, flags []string) (map[string]bool, *apiErr) {
	out := make(map[string]bool, len(flags))
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("The property '" + name + "' must be an object of type '" + typ + "'.")
	}
	if t, ok := m["@odata.type"]; ok {
		if ts, _ := t.(string); strings.TrimPrefix(ts, "#") != typ {
			return nil, badRequest("The property '" + name + "' has @odata.type '" + ts + "', expected '" + typ + "'.")
		}
	}
	props := make(map[string]prop, len(flags))
	for _, f := range flags {
		props[f] = pBool
	}
	if err := checkProps(typ, m, props, []string{"@odata.type"}); err != nil {
		return nil, badRequest(err.Error())
	}
	for _, f := range flags {
		out[f], _ = m[f].(bool)
	}
	return out, nil
}

// patchApp changes an iosStoreApp (204). Its bundleId cannot change: the
// operator treats another bundle as another app. A managed store app belongs
// to Managed Google Play and is refused.
func (s *Service) patchApp(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	api := appAPIOf(c.r)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		a := t.MobileApp(id)
		if a == nil {
			return 0, nil, missing("mobileApp", id)
		}
		shown := api.view(a)
		if typ, ok := body["@odata.type"].(string); ok && typ != shown {
			return 0, nil, badRequest("The @odata.type '" + typ + "' does not match the type of the entity '" + shown + "'.")
		}
		if a.ODataType != world.IOSStoreAppType {
			return 0, nil, badRequest("The app '" + id + "' is a microsoft.graph.androidManagedStoreApp: Managed Google Play owns it, so it cannot be changed through Graph.")
		}
		if b, ok := body["bundleId"]; ok && b != a.BundleID {
			return 0, nil, badRequest("The property 'bundleId' cannot be changed (it is '" + a.BundleID + "'): another bundle is another app.")
		}
		n := a.Clone()
		if e := writeIOSStoreApp(n, body); e != nil {
			return 0, nil, e
		}
		n.Modified = st.Now
		st.PutMobileApp(t, n)
		t.AppStats.AppPatches++
		return http.StatusNoContent, nil, nil
	})
}

func (s *Service) deleteApp(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if !st.DeleteMobileApp(t, id) {
			return 0, nil, missing("mobileApp", id)
		}
		t.AppStats.AppDeletes++
		return http.StatusNoContent, nil, nil
	})
}

// assignApp replaces the app's whole assignment set and answers 200 without
// a body, as Graph documents.
func (s *Service) assignApp(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	items, e := collectionParam(body, "mobileAppAssignments")
	if e != nil {
		c.failWith(e)
		return
	}
	api := appAPIOf(c.r)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		a := t.MobileApp(id)
		if a == nil {
			return 0, nil, missing("mobileApp", id)
		}
		assigns, e := parseAppAssignments(items, a, api)
		if e != nil {
			return 0, nil, e
		}
		if a.PublishingState != world.PublishingPublished {
			return 0, nil, badRequest("The app '" + id + "' cannot be assigned: its publishingState is '" + a.PublishingState + "', and only a published app can be.")
		}
		a.Assignments = assigns
		t.AppStats.AppAssigns++
		return http.StatusOK, nil, nil
	})
}

var appAssignmentProps = map[string]prop{"intent": installIntent, "target": pAny, "settings": pAny}

// parseAppAssignments validates mobileAppAssignments for app a.
func parseAppAssignments(items []any, a *world.MobileApp, api *appAPI) ([]world.AppAssignment, *apiErr) {
	out := make([]world.AppAssignment, 0, len(items))
	seen := targetSet{}
	for i, item := range items {
		m, e := itemOf("mobileAppAssignments", i, item, "#microsoft.graph.mobileAppAssignment")
		if e != nil {
			return nil, e
		}
		if err := checkProps("microsoft.graph.mobileAppAssignment", m, appAssignmentProps, []string{"@odata.type", "id"}); err != nil {
			return nil, badRequest(err.Error())
		}
		intent, _ := m["intent"].(string)
		if intent == "" {
			return nil, badRequest("The property 'intent' is required: one of " + strings.Join(installIntent.enum, ", ") + ".")
		}
		tgt, e := parseAppTarget(m["target"])
		if e == nil {
			e = seen.add(tgt)
		}
		if e != nil {
			return nil, e
		}
		settings, e := parseAppSettings(m["settings"], a, api)
		if e != nil {
			return nil, e
		}
		out = append(out, world.AppAssignment{ID: world.NewID(), Intent: intent, Target: tgt, Settings: settings})
	}
	return out, nil
}

// parseAppSettings validates an assignment's settings: null, or a settings
// type of this version that applies to the app's type.
func parseAppSettings(v any, a *world.MobileApp, api *appAPI) (map[string]any, *apiErr) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("The property 'settings' must be an object or null.")
	}
	typ, _ := m["@odata.type"].(string)
	st, known := api.settings[typ]
	switch {
	case !known:
		return nil, badRequest("Unsupported assignment settings type '" + typ + "' in " + api.version + ".")
	case st.appType != a.ODataType:
		return nil, badRequest("Assignment settings of type '" + strings.TrimPrefix(typ, "#") + "' do not apply to a " +
			strings.TrimPrefix(a.ODataType, "#") + ".")
	}
	if err := checkProps(strings.TrimPrefix(typ, "#"), m, st.props, []string{"@odata.type"}); err != nil {
		return nil, badRequest(err.Error())
	}
	return maps.Clone(m), nil
}
