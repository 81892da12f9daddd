package graph

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
	DeviceActionResults        []world.DeviceAction `json:"deviceActionResults"`
}

func deviceJSON(st *world.State, t *world.Tenant, d *world.Device) managedDevice {
	comp := st.Evaluate(t, d)
	md := managedDevice{
		ID: d.IntuneID, UserID: d.UserID, DeviceName: d.Name, ManagedDeviceOwnerType: "company",
		EnrolledDateTime: formatTime(d.Enrolled), LastSyncDateTime: formatTime(d.LastSync),
		OperatingSystem: d.Platform, ComplianceState: comp.State, JailBroken: "False", ManagementAgent: "mdm",
		OSVersion: d.OSVersion, AzureADRegistered: true, AzureADDeviceID: d.EntraID,
		DeviceRegistrationState: "registered", Model: d.Model,
		PartnerReportedThreatState: comp.ThreatState, ComplianceGraceExpiration: formatTime(comp.GraceExpires),
		DeviceActionResults: d.Actions, ManagedDeviceName: d.Name,
	}
	if md.DeviceActionResults == nil {
		md.DeviceActionResults = []world.DeviceAction{}
	}
	// deviceEnrollmentType uses v1.0's enum, which has no Android Enterprise
	// members.
	if d.Platform == world.IOS {
		md.DeviceEnrollmentType, md.Manufacturer, md.IsSupervised = "appleBulkWithUser", "Apple", true
	} else {
		md.DeviceEnrollmentType, md.Manufacturer = "userEnrollment", "Google"
	}
	if u := t.UserOf(d); u != nil {
		md.UserPrincipalName, md.UserDisplayName, md.EmailAddress = u.UserPrincipalName, u.DisplayName, u.UserPrincipalName
	}
	return md
}

// filterable are the managedDevices properties of the supported $filter subset.
var filterable = map[string]bool{
	"complianceState": true, "operatingSystem": true, "azureADDeviceId": true, "userPrincipalName": true,
	"deviceName": true, "id": true, "partnerReportedThreatState": true, "userId": true,
}

var filterableLower = func() map[string]bool {
	m := map[string]bool{}
	for k := range filterable {
		m[strings.ToLower(k)] = true
	}
	return m
}()

func (md *managedDevice) field(prop string) string {
	switch prop {
	case "compliancestate":
		return md.ComplianceState
	case "operatingsystem":
		return md.OperatingSystem
	case "azureaddeviceid":
		return md.AzureADDeviceID
	case "userprincipalname":
		return md.UserPrincipalName
	case "devicename":
		return md.DeviceName
	case "id":
		return md.ID
	case "partnerreportedthreatstate":
		return md.PartnerReportedThreatState
	case "userid":
		return md.UserID
	}
	return ""
}

func matches(md *managedDevice, clauses []eqClause) bool {
	for _, c := range clauses {
		if !strings.EqualFold(md.field(c.prop), c.value) {
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
	q := c.r.URL.Query()
	top := MaxPageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.fail(http.StatusBadRequest, "BadRequest", "Invalid value '"+v+"' for $top: a positive integer is expected.")
			return
		}
		top = min(n, MaxPageSize)
	}
	skip := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "pos-"))
		if err != nil || n < 0 {
			c.fail(http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		skip = n
	}
	sel := parseSelect(q.Get("$select"))
	if e := checkSelect(sel); e != nil {
		c.fail(e.status, e.code, e.msg)
		return
	}
	clauses, filtered := parseEqFilter(q.Get("$filter"), filterableLower)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		all := t.ManagedDevices()
		items := make([]any, 0, min(top, len(all)))
		next := -1
		for i := skip; i < len(all); i++ {
			md := deviceJSON(st, t, all[i])
			if filtered && !matches(&md, clauses) {
				continue
			}
			if len(items) == top {
				next = i
				break
			}
			v, err := project(md, sel)
			if err != nil {
				return 0, nil, &apiErr{http.StatusInternalServerError, "InternalServerError", err.Error()}
			}
			items = append(items, v)
		}
		out := map[string]any{"@odata.context": contextURL(c.r, "deviceManagement/managedDevices"), "value": items}
		if next >= 0 {
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("$skiptoken", "pos-"+strconv.Itoa(next))
			// Graph writes system query options with a literal '$'.
			out["@odata.nextLink"] = baseURL(c.r) + strings.TrimPrefix(c.r.URL.Path, Prefix) + "?" +
				strings.ReplaceAll(nq.Encode(), "%24", "$")
		}
		return http.StatusOK, out, nil
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
// world changes (retire/wipe take the device out of Intune).
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
