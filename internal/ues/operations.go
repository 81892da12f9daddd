package ues

import (
	"net/http"
	"net/url"
	"strings"
)

// op names a UES operation as it appears in errors, logs and the outbound metrics.
type op string

// The operations of the client; operations says what each one calls and needs.
const (
	opAuthenticate         op = "Authenticate"
	opListDevices          op = "ListDevices"
	opGetDevice            op = "GetDevice"
	opListMobileDevices    op = "ListMobileDevices"
	opGetMobileDevice      op = "GetMobileDevice"
	opListAlerts           op = "ListAlerts"
	opGetAlert             op = "GetAlert"
	opIgnoreAlert          op = "IgnoreAlert"
	opGetRiskAssessment    op = "GetRiskAssessment"
	opPutRiskAssessment    op = "PutRiskAssessment"
	opGetIntuneIntegration op = "GetIntuneIntegration"
)

// opSpec is what the client knows of one operation.
type opSpec struct {
	method string
	// route is the path under the API base as docs/ues-api.md writes it; each {name}
	// is filled, in order, with a path-escaped id.
	route string
	// scope is the UES scope the operation needs, named in a Forbidden error. Only the
	// token call needs none.
	scope string
	// modelled marks the project's model of the mobile API (docs/ues-api.md, served
	// only by mtd-sim --modelled-ues); false is a route BlackBerry documents. A real
	// tenant answers a modelled route with an error.
	modelled bool
}

// operations is the one table of UES operations: documented first, then modelled.
var operations = map[op]opSpec{
	// Documented.
	opAuthenticate: {method: http.MethodPost, route: "/auth/v2/token"},
	opListDevices:  {method: http.MethodGet, route: "/devices/v2", scope: "device:list"},
	opGetDevice:    {method: http.MethodGet, route: "/devices/v2/{id}", scope: "device:read"},

	// Modelled.
	opListMobileDevices:    {method: http.MethodGet, route: "/mobiledevices/v1", scope: "mobiledevice:list", modelled: true},
	opGetMobileDevice:      {method: http.MethodGet, route: "/mobiledevices/v1/{device_id}", scope: "mobiledevice:read", modelled: true},
	opListAlerts:           {method: http.MethodGet, route: "/mobilealerts/v1", scope: "mobilealert:list", modelled: true},
	opGetAlert:             {method: http.MethodGet, route: "/mobilealerts/v1/{alert_id}", scope: "mobilealert:list", modelled: true},
	opIgnoreAlert:          {method: http.MethodPost, route: "/mobilealerts/v1/{alert_id}/ignore", scope: "mobilealert:update", modelled: true},
	opGetRiskAssessment:    {method: http.MethodGet, route: "/mobilepolicies/v1/riskassessment", scope: "mobilepolicy:read", modelled: true},
	opPutRiskAssessment:    {method: http.MethodPut, route: "/mobilepolicies/v1/riskassessment", scope: "mobilepolicy:update", modelled: true},
	opGetIntuneIntegration: {method: http.MethodGet, route: "/integrations/v1/intune", scope: "integration:read", modelled: true},
}

// read reports whether the operation only reads: reads are retried on transient
// failures, and only writes count against the limiter's write windows.
func (s opSpec) read() bool { return s.method == http.MethodGet }

// path fills the route's placeholders, in order, with the path-escaped ids.
func (s opSpec) path(ids ...string) string {
	p := s.route
	for _, id := range ids {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			break
		}
		p = p[:i] + url.PathEscape(id) + p[i+j+1:]
	}
	return p
}
