// Package admin is the twin's admin API: it seeds and drives the world
// (tenants, devices, detections, clock, partner), answers access checks,
// injects faults and reports call counts. Every route is in docs/sim.md.
package admin

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/graph"
	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/siem"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Prefix is where the admin API is mounted.
const Prefix = "/admin"

// Service is the admin API.
type Service struct {
	World    *world.World
	Stats    *mw.Stats
	Faults   *mw.Faults
	Throttle *graph.Throttler
	Syslog   *siem.Hub                // the UES tenants' syslog integrations
	Seed     func(*world.State) error // what reset restores
	Env      func() map[string]string
}

// WriteError answers {"error": msg}.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, _ string, msg string) {
	mw.WriteJSON(w, status, adminapi.Error{Error: msg})
}

type herr struct {
	status int
	msg    string
}

func fromWorld(err error, what string) *herr {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, world.ErrNotFound):
		return &herr{http.StatusNotFound, what + " not found"}
	case errors.Is(err, world.ErrConflict):
		return &herr{http.StatusConflict, what + " conflicts with an existing one"}
	}
	return &herr{http.StatusBadRequest, "invalid " + what}
}

// Register mounts the admin routes.
func (s *Service) Register(m *mw.Mux) {
	p := Prefix
	m.Handle("GET "+p+"/healthz", func(w http.ResponseWriter, r *http.Request) { mw.WriteJSON(w, 200, map[string]string{"status": "ok"}) })
	m.Handle("GET "+p+"/env", func(w http.ResponseWriter, r *http.Request) { mw.WriteJSON(w, 200, s.Env()) })
	m.Handle("GET "+p+"/tenants", s.listTenants)
	m.Handle("POST "+p+"/tenants", s.createTenant)
	m.Handle("GET "+p+"/tenants/{tid}", s.tenantRoute(s.getTenant))
	m.Handle("POST "+p+"/tenants/{tid}/apps", s.tenantRoute(s.createApp))
	m.Handle("POST "+p+"/tenants/{tid}/ues-apps", s.tenantRoute(s.createUESApp))
	m.Handle("POST "+p+"/tenants/{tid}/groups", s.tenantRoute(s.createGroup))
	m.Handle("POST "+p+"/tenants/{tid}/groups/{gid}/members", s.tenantRoute(s.addMembers))
	m.Handle("DELETE "+p+"/tenants/{tid}/groups/{gid}/members/{mid}", s.tenantRoute(s.removeMember))
	m.Handle("POST "+p+"/tenants/{tid}/users", s.tenantRoute(s.createUser))
	m.Handle("POST "+p+"/tenants/{tid}/devices", s.tenantRoute(s.createDevices))
	m.Handle("GET "+p+"/tenants/{tid}/devices/{id}", s.tenantRoute(s.getDevice))
	m.Handle("POST "+p+"/tenants/{tid}/devices/{id}/detections", s.tenantRoute(s.detect))
	m.Handle("POST "+p+"/tenants/{tid}/devices/{id}/remediate", s.tenantRoute(s.remediate))
	m.Handle("POST "+p+"/tenants/{tid}/devices/{id}/action-results", s.tenantRoute(s.recordActionResult))
	m.Handle("POST "+p+"/tenants/{tid}/alerts/{aid}/resolve", s.tenantRoute(alertStatus(world.AlertResolved, "resolved")))
	m.Handle("POST "+p+"/tenants/{tid}/alerts/{aid}/ignore", s.tenantRoute(alertStatus(world.AlertIgnored, "ignored")))
	m.Handle("PUT "+p+"/tenants/{tid}/syslog", s.syslogRoute(s.setSyslog))
	m.Handle("GET "+p+"/tenants/{tid}/syslog", s.syslogRoute(s.getSyslog))
	m.Handle("DELETE "+p+"/tenants/{tid}/syslog", s.syslogRoute(s.disableSyslog))
	m.Handle("GET "+p+"/tenants/{tid}/syslog/dead-letters", s.syslogRoute(s.syslogDeadLetters))
	m.Handle("PUT "+p+"/tenants/{tid}/risk-assessment", s.tenantRoute(s.setRiskAssessment))
	m.Handle("POST "+p+"/tenants/{tid}/access/app", s.tenantRoute(s.appAccess))
	m.Handle("POST "+p+"/tenants/{tid}/access/network", s.tenantRoute(s.networkAccess))
	m.Handle("POST "+p+"/tenants/{tid}/partner/onboard", s.tenantRoute(s.onboard))
	m.Handle("POST "+p+"/tenants/{tid}/partner/offboard", s.tenantRoute(s.offboard))
	m.Handle("POST "+p+"/tenants/{tid}/partner/reporting", s.tenantRoute(s.reporting))
	m.Handle("POST "+p+"/tenants/{tid}/partner/state", s.tenantRoute(s.partnerState))
	m.Handle("POST "+p+"/tenants/{tid}/tokens/revoke", s.tenantRoute(s.revoke))
	s.registerApps(m)
	m.Handle("GET "+p+"/clock", s.getClock)
	m.Handle("POST "+p+"/clock", s.setClock)
	m.Handle("GET "+p+"/faults", func(w http.ResponseWriter, r *http.Request) { mw.WriteJSON(w, 200, s.Faults.List()) })
	m.Handle("POST "+p+"/faults", s.addFault)
	m.Handle("DELETE "+p+"/faults", func(w http.ResponseWriter, r *http.Request) { s.Faults.Remove(""); w.WriteHeader(204) })
	m.Handle("DELETE "+p+"/faults/{id}", s.removeFault)
	m.Handle("GET "+p+"/calls", func(w http.ResponseWriter, r *http.Request) { mw.WriteJSON(w, 200, s.Stats.Snapshot()) })
	m.Handle("DELETE "+p+"/calls", func(w http.ResponseWriter, r *http.Request) { s.Stats.Reset(); w.WriteHeader(204) })
	m.Handle("GET "+p+"/throttling", s.getThrottling)
	m.Handle("PUT "+p+"/throttling", s.setThrottling)
	m.Handle("GET "+p+"/reporting-delay", s.getReportingDelay)
	m.Handle("PUT "+p+"/reporting-delay", s.setReportingDelay)
	m.Handle("GET "+p+"/action-delay", s.getActionDelay)
	m.Handle("PUT "+p+"/action-delay", s.setActionDelay)
	m.Handle("GET "+p+"/snapshot", s.snapshot)
	m.Handle("POST "+p+"/reset", s.reset)
	m.Handle(p+"/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, "", "no admin route "+r.Method+" "+r.URL.Path)
	})
}

// decode reads a JSON body strictly (unknown fields are mistakes in a test).
func decode(r *http.Request, v any) *herr {
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return &herr{http.StatusBadRequest, "unreadable body"}
	}
	if len(b) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &herr{http.StatusBadRequest, "invalid JSON: " + err.Error()}
	}
	return nil
}

// answer writes a result decided under the lock.
func answer(w http.ResponseWriter, r *http.Request, status int, body any, e *herr) {
	switch {
	case e != nil:
		WriteError(w, r, e.status, "", e.msg)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		mw.WriteJSON(w, status, body)
	}
}

type tenantHandler func(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr)

// tenantRoute resolves {tid} (an Entra or UES tenant id) and runs h locked.
// Bodies are read before taking the lock.
func (s *Service) tenantRoute(h tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		r.Body = io.NopCloser(bytes.NewReader(b))
		var (
			status int
			body   any
			e      *herr
		)
		s.World.Run(func(st *world.State) {
			t, te := pathTenant(r, st)
			if te != nil {
				e = te
				return
			}
			status, body, e = h(r, st, t)
		})
		answer(w, r, status, body, e)
	}
}

// pathTenant finds {tid}, an Entra or UES tenant id.
func pathTenant(r *http.Request, st *world.State) (*world.Tenant, *herr) {
	t := st.Tenant(r.PathValue("tid"))
	if t == nil {
		t = st.TenantByUES(r.PathValue("tid"))
	}
	if t == nil {
		return nil, &herr{http.StatusNotFound, "tenant " + r.PathValue("tid") + " not found"}
	}
	return t, nil
}

// syslogRoute resolves {tid} under the world's lock and runs h (given the
// Entra tenant id) outside it: reconfiguring a syslog sender waits for its
// goroutine to hang up, which must never hold up the world.
func (s *Service) syslogRoute(h func(r *http.Request, tenant string) (int, any, *herr)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var (
			id string
			e  *herr
		)
		s.World.Run(func(st *world.State) {
			var t *world.Tenant
			if t, e = pathTenant(r, st); t != nil {
				id = t.ID
			}
		})
		if e != nil {
			answer(w, r, 0, nil, e)
			return
		}
		status, body, e := h(r, id)
		answer(w, r, status, body, e)
	}
}

func tenantInfo(t *world.Tenant) adminapi.TenantInfo {
	return adminapi.TenantInfo{ID: t.ID, DisplayName: t.DisplayName, UESTenantID: t.UES.ID, Apps: len(t.Apps),
		Groups: len(t.Groups), Users: len(t.Users), Devices: len(t.ManagedDevices()),
		Onboarded: t.Connectors[world.BlackBerryConnectorID] != nil, Reporting: t.UES.Reporting}
}

func (s *Service) listTenants(w http.ResponseWriter, r *http.Request) {
	var out []adminapi.TenantInfo
	s.World.Run(func(st *world.State) {
		for _, t := range st.Tenants() {
			out = append(out, tenantInfo(t))
		}
	})
	mw.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) createTenant(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Tenant
	if e := decode(r, &req); e != nil {
		answer(w, r, 0, nil, e)
		return
	}
	var (
		out adminapi.TenantInfo
		e   *herr
	)
	s.World.Run(func(st *world.State) {
		t, err := st.AddTenant(req.ID, req.DisplayName, req.UESTenantID)
		if e = fromWorld(err, "tenant"); e != nil {
			return
		}
		if req.Onboard {
			_, _ = st.Onboard(t, world.BlackBerryConnectorID)
		}
		out = tenantInfo(t)
	})
	answer(w, r, http.StatusCreated, out, e)
}

func (s *Service) getTenant(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	return http.StatusOK, tenantInfo(t), nil
}

func (s *Service) createApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.App
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	app := world.App{ClientID: req.ClientID, DisplayName: req.DisplayName, Secret: req.Secret, Roles: req.Roles}
	rest := []byte(req.CertificatePEM)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			app.Certificates = append(app.Certificates, blk.Bytes)
		}
	}
	if req.CertificatePEM != "" && len(app.Certificates) == 0 {
		return 0, nil, &herr{http.StatusBadRequest, "certificatePem holds no CERTIFICATE block"}
	}
	for _, f := range req.Federated {
		keys, err := publicKeys(f.PublicKeysPEM)
		if err != nil || f.Issuer == "" || f.Subject == "" {
			return 0, nil, &herr{http.StatusBadRequest, "a federated credential needs issuer, subject and publicKeysPem with PUBLIC KEY or CERTIFICATE blocks"}
		}
		app.Federated = append(app.Federated, world.FederatedCredential{Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences, Keys: keys})
	}
	a, err := st.AddApp(t, app)
	if e := fromWorld(err, "app"); e != nil {
		return 0, nil, e
	}
	return http.StatusCreated, adminapi.App{ClientID: a.ClientID, DisplayName: a.DisplayName, Secret: a.Secret, Roles: a.Roles}, nil
}

// publicKeys reads PUBLIC KEY and CERTIFICATE blocks.
func publicKeys(pemText string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	rest := []byte(pemText)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, c.PublicKey)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key")
	}
	return keys, nil
}

func (s *Service) createUESApp(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.UESApp
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	a, err := st.AddUESApp(t, world.UESApp{ID: req.ID, Name: req.Name, Secret: req.Secret, Scopes: req.Scopes})
	if e := fromWorld(err, "UES app"); e != nil {
		return 0, nil, e
	}
	return http.StatusCreated, adminapi.UESApp{ID: a.ID, Name: a.Name, Secret: a.Secret, Scopes: a.Scopes}, nil
}

func (s *Service) createGroup(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Group
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	g, err := st.AddGroup(t, req.ID, req.DisplayName, req.Members)
	if e := fromWorld(err, "group"); e != nil {
		return 0, nil, e
	}
	req.ID = g.ID
	return http.StatusCreated, req, nil
}

func (s *Service) addMembers(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Members
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	g := t.Groups[r.PathValue("gid")]
	if g == nil {
		return 0, nil, &herr{http.StatusNotFound, "group not found"}
	}
	for _, m := range req.Members {
		g.Members[m] = true
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) removeMember(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	g := t.Groups[r.PathValue("gid")]
	if g == nil || !g.Members[r.PathValue("mid")] {
		return 0, nil, &herr{http.StatusNotFound, "group or member not found"}
	}
	delete(g.Members, r.PathValue("mid"))
	return http.StatusNoContent, nil, nil
}

func (s *Service) createUser(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.User
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.UserPrincipalName == "" {
		return 0, nil, &herr{http.StatusBadRequest, "userPrincipalName is required"}
	}
	u, err := st.AddUser(t, world.User{ID: req.ID, UserPrincipalName: req.UserPrincipalName, DisplayName: req.DisplayName}, req.Groups)
	if e := fromWorld(err, "user or group"); e != nil {
		return 0, nil, e
	}
	req.ID = u.ID
	return http.StatusCreated, req, nil
}

func (s *Service) createDevices(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Device
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	for _, g := range req.Groups {
		if t.Groups[g] == nil {
			return 0, nil, &herr{http.StatusNotFound, "group " + g + " not found"}
		}
	}
	enrollment := req.Enrollment
	if req.WorkProfile {
		if enrollment != "" && enrollment != world.EnrollWorkProfile {
			return 0, nil, &herr{http.StatusBadRequest, "workProfile contradicts enrollment " + enrollment}
		}
		enrollment = world.EnrollWorkProfile
	}
	n := max(req.Count, 1)
	if n > 1 && (req.IntuneID != "" || req.EntraID != "" || req.UESID != "") {
		return 0, nil, &herr{http.StatusBadRequest, "ids cannot be given with count > 1"}
	}
	out := adminapi.Created{Devices: []adminapi.DeviceView{}}
	for i := 1; i <= n; i++ {
		name := req.DeviceName
		if n > 1 {
			name += "-" + strconv.Itoa(i)
		}
		d, err := st.AddDevice(t, world.Device{IntuneID: req.IntuneID, EntraID: req.EntraID, UESID: req.UESID,
			Name: name, Platform: req.Platform, OSVersion: req.OSVersion, Enrollment: enrollment,
			UserID: req.UserID, Model: req.Model})
		if e := fromWorld(err, "device (platform Android or iOS, an Android enrollment of "+
			strings.Join(world.AndroidEnrollments, ", ")+" or none, existing user, unique ids)"); e != nil {
			return 0, nil, e
		}
		for _, g := range req.Groups {
			t.Groups[g].Members[d.EntraID] = true
		}
		out.Count++
		if len(out.Devices) < 1000 {
			out.Devices = append(out.Devices, DeviceView(st, t, d))
		}
	}
	return http.StatusCreated, out, nil
}

// DeviceView renders a device for the admin API and snapshots.
func DeviceView(st *world.State, t *world.Tenant, d *world.Device) adminapi.DeviceView {
	v := adminapi.DeviceView{IntuneID: d.IntuneID, EntraID: d.EntraID, UESID: d.UESID, DeviceName: d.Name,
		Platform: d.Platform, OSVersion: d.OSVersion, Enrollment: d.Enrollment, WorkProfile: d.Enrollment == world.EnrollWorkProfile, UserID: d.UserID,
		Managed: d.InIntune, Activated: d.InUES, Risk: st.DeviceRisk(t, d), Compliance: st.Evaluate(t, d),
		Actions: []string{}, ActionResults: []adminapi.ActionResult{}, Alerts: []adminapi.AlertView{}, Apps: installedApps(d)}
	if d.HasReport {
		rep := d.Reported
		v.Reported = &rep
	}
	for _, a := range d.Actions {
		v.Actions = append(v.Actions, a.Name)
		v.ActionResults = append(v.ActionResults, actionResult(a))
	}
	for _, a := range d.Alerts {
		v.Alerts = append(v.Alerts, alertView(a))
	}
	return v
}

func actionResult(a world.DeviceAction) adminapi.ActionResult {
	return adminapi.ActionResult{ActionName: a.Name, ActionState: a.State, StartDateTime: a.Started, LastUpdatedDateTime: a.Updated}
}

func alertView(a *world.Alert) adminapi.AlertView {
	return adminapi.AlertView{ID: a.ID, DeviceID: a.DeviceID, Type: a.Type, Name: a.Name, Detail: a.Detail,
		Status: a.Status, Created: a.Created, Modified: a.Modified}
}

func (s *Service) getDevice(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	d := t.Device(r.PathValue("id"))
	if d == nil {
		return 0, nil, &herr{http.StatusNotFound, "device not found"}
	}
	return http.StatusOK, DeviceView(st, t, d), nil
}

func (s *Service) detect(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Detection
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	a, err := st.Detect(t, r.PathValue("id"), req.Type, req.Name, req.Detail)
	if e := fromWorld(err, "device or detection type"); e != nil {
		return 0, nil, e
	}
	return http.StatusCreated, alertView(a), nil
}

func (s *Service) recordActionResult(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.ActionResult
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	d := t.Device(r.PathValue("id"))
	if d == nil || !d.InIntune {
		return 0, nil, &herr{http.StatusNotFound, "managed device not found"}
	}
	a, err := st.RecordActionResult(t, d, world.DeviceAction{Name: req.ActionName, State: req.ActionState,
		Started: req.StartDateTime, Updated: req.LastUpdatedDateTime})
	if err != nil {
		return 0, nil, &herr{http.StatusBadRequest, "an action result needs actionName, actionState one of " +
			strings.Join(world.ActionStates, ", ") + ", and lastUpdatedDateTime not before startDateTime"}
	}
	return http.StatusCreated, actionResult(a), nil
}

func (s *Service) remediate(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Remediation
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	as, err := st.Remediate(t, r.PathValue("id"), req.Type)
	if e := fromWorld(err, "device"); e != nil {
		return 0, nil, e
	}
	out := []adminapi.AlertView{}
	for _, a := range as {
		out = append(out, alertView(a))
	}
	return http.StatusOK, out, nil
}

// alertStatus resolves or ignores (the UES console's "ignore") one active
// alert.
func alertStatus(status, done string) tenantHandler {
	return func(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
		a, err := st.SetAlertStatus(t, r.PathValue("aid"), status)
		if errors.Is(err, world.ErrConflict) {
			return 0, nil, &herr{http.StatusConflict, "alert is " + a.Status + "; only an active alert can be " + done}
		}
		if e := fromWorld(err, "alert"); e != nil {
			return 0, nil, e
		}
		return http.StatusOK, alertView(a), nil
	}
}

func (s *Service) setSyslog(r *http.Request, tenant string) (int, any, *herr) {
	var req adminapi.SyslogConfig
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	st, err := s.Syslog.Configure(tenant, req)
	if err != nil {
		return 0, nil, &herr{http.StatusBadRequest, err.Error()}
	}
	return http.StatusOK, st, nil
}

func (s *Service) getSyslog(r *http.Request, tenant string) (int, any, *herr) {
	return http.StatusOK, s.Syslog.Status(tenant), nil
}

func (s *Service) disableSyslog(r *http.Request, tenant string) (int, any, *herr) {
	s.Syslog.Disable(tenant)
	return http.StatusNoContent, nil, nil
}

func (s *Service) syslogDeadLetters(r *http.Request, tenant string) (int, any, *herr) {
	return http.StatusOK, s.Syslog.DeadLetters(tenant), nil
}

func (s *Service) setRiskAssessment(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.RiskAssessment
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if e := fromWorld(st.SetRiskAssessment(t, req.Detections), "risk assessment (detection types and low/medium/high)"); e != nil {
		return 0, nil, e
	}
	return http.StatusOK, req, nil
}

func (s *Service) appAccess(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.AppAccess
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.App == "" {
		return 0, nil, &herr{http.StatusBadRequest, "app is required"}
	}
	res, err := st.AppAccess(t, req.Device, req.User, req.App)
	if e := fromWorld(err, "device"); e != nil {
		return 0, nil, e
	}
	return http.StatusOK, res, nil
}

func (s *Service) networkAccess(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.NetworkAccess
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	res, err := st.NetworkAccess(t, req.Device)
	if e := fromWorld(err, "device"); e != nil {
		return 0, nil, e
	}
	return http.StatusOK, res, nil
}

func connectorID(r *http.Request) (string, *herr) {
	var req adminapi.Connector
	if e := decode(r, &req); e != nil {
		return "", e
	}
	if req.ConnectorID == "" {
		return world.BlackBerryConnectorID, nil
	}
	return req.ConnectorID, nil
}

func (s *Service) onboard(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	id, e := connectorID(r)
	if e != nil {
		return 0, nil, e
	}
	_, err := st.Onboard(t, id)
	if e := fromWorld(err, "connector (known partner id, not yet onboarded)"); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) offboard(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	id, e := connectorID(r)
	if e != nil {
		return 0, nil, e
	}
	if e := fromWorld(st.Offboard(t, id), "connector"); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) reporting(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Reporting
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	st.SetReporting(t, req.Enabled)
	return http.StatusNoContent, nil, nil
}

var partnerStates = []string{"", "unavailable", "available", "enabled", "unresponsive", "notSetUp", "error", "unknownFutureValue"}

func (s *Service) partnerState(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.PartnerState
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	c := t.Connectors[world.BlackBerryConnectorID]
	if c == nil {
		return 0, nil, &herr{http.StatusNotFound, "connector not onboarded"}
	}
	if !slices.Contains(partnerStates, req.State) {
		return 0, nil, &herr{http.StatusBadRequest, "unknown partnerState"}
	}
	c.StateOverride = req.State
	return http.StatusNoContent, nil, nil
}

func (s *Service) revoke(r *http.Request, st *world.State, t *world.Tenant) (int, any, *herr) {
	var req adminapi.Revoke
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	switch req.Service {
	case "entra":
		t.TokenGen++
	case "ues":
		t.UES.TokenGen++
	case "":
		t.TokenGen++
		t.UES.TokenGen++
	default:
		return 0, nil, &herr{http.StatusBadRequest, "service must be entra, ues or empty"}
	}
	return http.StatusNoContent, nil, nil
}

func (s *Service) getClock(w http.ResponseWriter, r *http.Request) {
	mw.WriteJSON(w, http.StatusOK, adminapi.ClockInfo{Now: s.World.Clock.Now()})
}

func (s *Service) setClock(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Clock
	if e := decode(r, &req); e != nil {
		answer(w, r, 0, nil, e)
		return
	}
	switch {
	case req.Reset:
		s.World.Clock.Reset()
	case req.Set != nil:
		s.World.Clock.Set(*req.Set)
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			answer(w, r, 0, nil, &herr{http.StatusBadRequest, "advance must be a Go duration such as 168h"})
			return
		}
		s.World.Clock.Advance(d)
	}
	s.getClock(w, r)
}

func (s *Service) addFault(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Fault
	if e := decode(r, &req); e != nil {
		answer(w, r, 0, nil, e)
		return
	}
	if req.Status == 0 && !req.Drop && req.LatencyMS == 0 {
		answer(w, r, 0, nil, &herr{http.StatusBadRequest, "a fault needs status, drop or latencyMs"})
		return
	}
	if req.Status != 0 && (req.Status < 100 || req.Status > 599) {
		answer(w, r, 0, nil, &herr{http.StatusBadRequest, "status must be an HTTP status code"})
		return
	}
	mw.WriteJSON(w, http.StatusCreated, s.Faults.Add(req))
}

func (s *Service) removeFault(w http.ResponseWriter, r *http.Request) {
	if !s.Faults.Remove(r.PathValue("id")) {
		WriteError(w, r, http.StatusNotFound, "", "fault not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) getThrottling(w http.ResponseWriter, r *http.Request) {
	l := s.Throttle.Limits()
	mw.WriteJSON(w, http.StatusOK, adminapi.Throttling{Enabled: l.Enabled, WindowSeconds: int(l.Window / time.Second),
		ConfigWrites: l.ConfigWrites, ConfigRequests: l.ConfigRequests, DevicesWrites: l.DevicesWrites,
		DevicesRequests: l.DevicesRequests, TenantFactor: l.TenantFactor})
}

func (s *Service) setThrottling(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Throttling
	if e := decode(r, &req); e != nil {
		answer(w, r, 0, nil, e)
		return
	}
	s.Throttle.SetLimits(graph.Limits{Enabled: req.Enabled, Window: time.Duration(req.WindowSeconds) * time.Second,
		ConfigWrites: req.ConfigWrites, ConfigRequests: req.ConfigRequests, DevicesWrites: req.DevicesWrites,
		DevicesRequests: req.DevicesRequests, TenantFactor: req.TenantFactor})
	s.getThrottling(w, r)
}

func (s *Service) getReportingDelay(w http.ResponseWriter, r *http.Request) {
	mw.WriteJSON(w, http.StatusOK, adminapi.ReportingDelay{Delay: s.World.ReportDelay().String()})
}

func (s *Service) setReportingDelay(w http.ResponseWriter, r *http.Request) {
	if d, ok := delayOf(w, r); ok {
		s.World.SetReportDelay(d)
		s.getReportingDelay(w, r)
	}
}

// delayOf reads a {"delay": "10s"} body, answering 400 for anything but a
// non-negative Go duration.
func delayOf(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	var req adminapi.ReportingDelay
	if e := decode(r, &req); e != nil {
		answer(w, r, 0, nil, e)
		return 0, false
	}
	d, err := time.ParseDuration(req.Delay)
	if err != nil || d < 0 {
		answer(w, r, 0, nil, &herr{http.StatusBadRequest, "delay must be a non-negative Go duration such as 10s"})
		return 0, false
	}
	return d, true
}

func (s *Service) getActionDelay(w http.ResponseWriter, r *http.Request) {
	mw.WriteJSON(w, http.StatusOK, adminapi.ActionDelay{Delay: s.World.ActionDelay().String()})
}

func (s *Service) setActionDelay(w http.ResponseWriter, r *http.Request) {
	if d, ok := delayOf(w, r); ok {
		s.World.SetActionDelay(d)
		s.getActionDelay(w, r)
	}
}

func (s *Service) reset(w http.ResponseWriter, r *http.Request) {
	// Syslog first: an alert raised in between then goes nowhere, rather than
	// to an integration configured for the tenant the reset replaces.
	s.Syslog.Reset()
	if err := s.World.Reset(s.Seed); err != nil {
		WriteError(w, r, http.StatusInternalServerError, "", "reset: "+err.Error())
		return
	}
	s.Faults.Remove("")
	s.Stats.Reset()
	s.Throttle.SetLimits(s.Throttle.Limits()) // same limits, empty windows
	w.WriteHeader(http.StatusNoContent)
}
