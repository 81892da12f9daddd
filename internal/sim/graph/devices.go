package graph

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const devicesPath = Prefix + "/deviceManagement/managedDevices"

// MaxPageSize is the largest managedDevices page (also the default).
const MaxPageSize = 1000

func (s *Service) registerDevices(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleDevicesReadWrite, world.RoleDevicesRead), cat: catDevices}
	act := route{roles: []string{world.RoleDevicesPrivileged}, cat: catDevices, write: true}
	s.handle(m, "GET "+devicesPath, read, s.listDevices)
	s.handle(m, "GET "+devicesPath+"/{id}", read, s.getDevice)
	for _, a := range []string{"syncDevice", "remoteLock", "retire", "wipe"} {
		s.handle(m, "POST "+devicesPath+"/{id}/"+a, act, s.deviceAction(a))
	}
}

// managedDevice is the Graph managedDevice subset the twin models.
type managedDevice struct {
	ID                         string               `json:"id"`
	UserID                     string               `json:"userId"`
	DeviceName                 string               `json:"deviceName"`
	ManagedDeviceOwnerType     string               `json:"managedDeviceOwnerType"`
	EnrolledDateTime           string               `json:"enrolledDateTime"`
	LastSyncDateTime           string               `json:"lastSyncDateTime"`
	OperatingSystem            string               `json:"operatingSystem"`
	ComplianceState            string               `json:"complianceState"`
	JailBroken                 string               `json:"jailBroken"`
	ManagementAgent            string               `json:"managementAgent"`
	OSVersion                  string               `json:"osVersion"`
	AzureADRegistered          bool                 `json:"azureADRegistered"`
	DeviceEnrollmentType       string               `json:"deviceEnrollmentType"`
	EmailAddress               string               `json:"emailAddress"`
	AzureADDeviceID            string               `json:"azureADDeviceId"`
	DeviceRegistrationState    string               `json:"deviceRegistrationState"`
	IsSupervised               bool                 `json:"isSupervised"`
	Model                      string               `json:"model"`
	Manufacturer               string               `json:"manufacturer"`
	UserPrincipalName          string               `json:"userPrincipalName"`
	UserDisplayName            string               `json:"userDisplayName"`
	ManagedDeviceName          string               `json:"managedDeviceName"`
	PartnerReportedThreatState string               `json:"partnerReportedThreatState"`
	ComplianceGraceExpiration  string               `json:"complianceGracePeriodExpirationDateTime"`
	DeviceActionResults        []deviceActionResult `json:"deviceActionResults"`
}

// deviceActionResult is a deviceActionResults item, dated as Graph dates.
type deviceActionResult struct {
	ActionName          string `json:"actionName"`
	ActionState         string `json:"actionState"`
	StartDateTime       string `json:"startDateTime"`
	LastUpdatedDateTime string `json:"lastUpdatedDateTime"`
}

func deviceJSON(st *world.State, t *world.Tenant, d *world.Device) managedDevice {
	comp := st.Evaluate(t, d)
	md := managedDevice{
		ID: d.IntuneID, UserID: d.UserID, DeviceName: d.Name,
		EnrolledDateTime: formatTime(d.Enrolled), LastSyncDateTime: formatTime(d.LastSync),
		OperatingSystem: d.Platform, ComplianceState: comp.State, JailBroken: "False",
		OSVersion: d.OSVersion, AzureADRegistered: true, AzureADDeviceID: d.EntraID,
		DeviceRegistrationState: "registered", Model: d.Model,
		PartnerReportedThreatState: comp.ThreatState, ComplianceGraceExpiration: formatTime(comp.GraceExpires),
		DeviceActionResults: make([]deviceActionResult, len(d.Actions)), ManagedDeviceName: d.Name,
	}
	for i, a := range d.Actions { // [] when there is none
		md.DeviceActionResults[i] = deviceActionResult{ActionName: a.Name, ActionState: a.State,
			StartDateTime: formatTime(a.Started), LastUpdatedDateTime: formatTime(a.Updated)}
	}
	md.DeviceEnrollmentType, md.ManagementAgent, md.ManagedDeviceOwnerType = enrollmentFields(d)
	if d.Platform == world.IOS {
		md.Manufacturer, md.IsSupervised = "Apple", true
	} else {
		md.Manufacturer = "Google"
	}
	if u := t.UserOf(d); u != nil {
		md.UserPrincipalName, md.UserDisplayName, md.EmailAddress = u.UserPrincipalName, u.DisplayName, u.UserPrincipalName
	}
	return md
}

// enrollmentFields are how Intune shows the way a device is managed:
// deviceEnrollmentType, managementAgent and managedDeviceOwnerType. The
// corporate-owned Android Enterprise modes are managed by Android Device Policy
// (googleCloudDevicePolicyController) and v1.0 sends their enrolment types
// (androidEnterpriseFullyManaged, ...) although its documented enum, and
// msgraph-sdk-go's, lack them. A device administrator device stays
// company-owned, as every device was before enrolments were modelled; the
// personally owned work profile is what tells the two apart here (in a real
// tenant both are userEnrollment through mdm and may both be personal).
func enrollmentFields(d *world.Device) (enrollmentType, agent, owner string) {
	switch d.Enrollment {
	case world.EnrollWorkProfile:
		return "userEnrollment", "mdm", "personal"
	case world.EnrollFullyManaged:
		return "androidEnterpriseFullyManaged", "googleCloudDevicePolicyController", "company"
	case world.EnrollDedicated:
		return "androidEnterpriseDedicatedDevice", "googleCloudDevicePolicyController", "company"
	case world.EnrollCorporateWorkProfile:
		return "androidEnterpriseCorporateWorkProfile", "googleCloudDevicePolicyController", "company"
	case world.EnrollDeviceAdministrator:
		return "userEnrollment", "mdm", "company"
	}
	return "appleBulkWithUser", "mdm", "company" // iOS
}

// deviceFilter is the managedDevices $filter as the service answers it
// (reference/graph-intune.md, "Listing devices at scale"): only
// azureADDeviceId eq, complianceState eq, operatingSystem eq (string
// literals, compared case-insensitively) and lastSyncDateTime lt (a
// DateTimeOffset literal) are honoured, joined by and. A filter with any other
// clause is silently ignored, so every device is returned. Of an or chain
// only the first alternative is applied ("azureADDeviceId eq 'a' or
// azureADDeviceId eq 'b'" returns the first match only).
type deviceFilter struct {
	clauses []clause
	before  time.Time // lastSyncDateTime lt, parsed
}

// parseDeviceFilter returns the filter to apply; ok is false when the filter
// is empty or ignored.
func parseDeviceFilter(f string) (deviceFilter, bool) {
	expr, ok := parseFilter(f)
	if !ok {
		return deviceFilter{}, false
	}
	for _, alt := range expr {
		for _, c := range alt {
			if !deviceClauseSupported(c) {
				return deviceFilter{}, false
			}
		}
	}
	df := deviceFilter{clauses: expr[0]}
	for _, c := range df.clauses {
		if c.prop == "lastsyncdatetime" {
			t, _ := time.Parse(time.RFC3339Nano, c.value)
			if df.before.IsZero() || t.Before(df.before) {
				df.before = t
			}
		}
	}
	return df, true
}

func deviceClauseSupported(c clause) bool {
	switch c.prop {
	case "azureaddeviceid", "compliancestate", "operatingsystem":
		return c.op == "eq" && c.str
	case "lastsyncdatetime":
		_, err := time.Parse(time.RFC3339Nano, c.value)
		return c.op == "lt" && !c.str && err == nil
	}
	return false
}

func (f *deviceFilter) matches(md *managedDevice, d *world.Device) bool {
	for _, c := range f.clauses {
		var v string
		switch c.prop {
		case "azureaddeviceid":
			v = md.AzureADDeviceID
		case "compliancestate":
			v = md.ComplianceState
		case "operatingsystem":
			v = md.OperatingSystem
		case "lastsyncdatetime":
			if !d.LastSync.Before(f.before) {
				return false
			}
			continue
		}
		if !strings.EqualFold(v, c.value) {
			return false
		}
	}
	return true
}

// project applies $select (names are case-insensitive in OData).
func project(md managedDevice, sel []string) (any, error) {
	if sel == nil {
		return md, nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(sel))
	for _, want := range sel {
		for k, v := range all {
			if strings.EqualFold(k, want) {
				out[k] = v
			}
		}
	}
	return out, nil
}

// deviceFields are the lower-cased JSON names of managedDevice.
var deviceFields = func() map[string]bool {
	fields := map[string]bool{}
	b, _ := json.Marshal(managedDevice{})
	var all map[string]any
	_ = json.Unmarshal(b, &all)
	for k := range all {
		fields[strings.ToLower(k)] = true
	}
	return fields
}()

func checkSelect(sel []string) *apiErr {
	for _, p := range sel {
		if !deviceFields[strings.ToLower(p)] {
			return badRequest("Could not find a property named '" + p + "' on type 'microsoft.graph.managedDevice'.")
		}
	}
	return nil
}

// listDevices pages through Intune's devices in enrolment order. The
// $skiptoken is the position to resume from, so a page costs O(page) without
// a filter; nextLink is absolute and repeats the query, as Graph's does.
func (s *Service) listDevices(c *call) {
	pg, e := parsePage(c.r, MaxPageSize)
	sel := parseSelect(c.r.URL.Query().Get("$select"))
	if e == nil {
		e = checkSelect(sel)
	}
	if e != nil {
		c.failWith(e)
		return
	}
	filter, filtered := parseDeviceFilter(c.r.URL.Query().Get("$filter"))
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		var perr error
		items, next := collect(t.ManagedDevices(), pg, func(d *world.Device) (any, bool) {
			md := deviceJSON(st, t, d)
			if filtered && !filter.matches(&md, d) {
				return nil, false
			}
			v, err := project(md, sel)
			if err != nil {
				perr = err
			}
			return v, true
		})
		if perr != nil {
			return 0, nil, &apiErr{http.StatusInternalServerError, "InternalServerError", perr.Error()}
		}
		return http.StatusOK, collection(c.r, "deviceManagement/managedDevices", items, next), nil
	})
}

func (s *Service) getDevice(c *call) {
	id := c.r.PathValue("id")
	sel := parseSelect(c.r.URL.Query().Get("$select"))
	if e := checkSelect(sel); e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		d := t.ManagedDevice(id)
		if d == nil {
			return 0, nil, missing("managedDevice", id)
		}
		v, err := project(deviceJSON(st, t, d), sel)
		if err != nil {
			return 0, nil, &apiErr{http.StatusInternalServerError, "InternalServerError", err.Error()}
		}
		return http.StatusOK, v, nil
	})
}

var wipeProps = map[string]prop{"keepEnrollmentData": pBool, "keepUserData": pBool, "macOsUnlockCode": pString,
	"persistEsimDataPlan": pBool, "useProtectedWipe": pBool}

// deviceAction runs syncDevice, remoteLock, retire or wipe: 204, and the
// world changes (retire/wipe take the device out of Intune), at once or,
// with an action delay, at the device's check-in (world.State.DeviceAction).
func (s *Service) deviceAction(action string) func(c *call) {
	return func(c *call) {
		id := c.r.PathValue("id")
		body, ok := c.readBody(true)
		if !ok {
			return
		}
		allowed := map[string]prop{}
		if action == "wipe" {
			allowed = wipeProps
		}
		if err := checkProps("microsoft.graph."+action, body, allowed, nil); err != nil {
			c.fail(http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
			d := t.ManagedDevice(id)
			if d == nil {
				return 0, nil, missing("managedDevice", id)
			}
			st.DeviceAction(t, d, action)
			return http.StatusNoContent, nil, nil
		})
	}
}
