package ues

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

func (s *Service) listDevices(c *call) {
	p, e := parsePage(c.r, 10000)
	if e != nil {
		c.fail(e.status, e.msg)
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		ds := t.UESDevices()
		return http.StatusOK, pageOf(p, len(ds), func(i int) any { return deviceSummary(ds[i]) }), nil
	})
}

// deviceSummary is a /devices/v2 list item; mobile devices carry the newer
// deviceType/modelOfDevice/deviceCarrier fields.
func deviceSummary(d *world.Device) map[string]any {
	return map[string]any{
		"id": d.UESID, "name": d.Name, "state": "Online", "agent_version": "2.9.0",
		"policy":                map[string]string{"id": "", "name": "Default"},
		"date_first_registered": stamp(d.Enrolled), "ip_addresses": []string{}, "mac_addresses": []string{},
		"deviceType": "mobile", "modelOfDevice": d.Model, "deviceCarrier": "",
		"os_version": d.Platform + " " + d.OSVersion,
	}
}

func (s *Service) getDevice(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		d := t.Device(id)
		if d == nil || !d.InUES || d.UESID != id {
			return 0, nil, &uesErr{http.StatusNotFound, "Device not found."}
		}
		out := deviceSummary(d)
		out["host_name"] = d.Name
		out["date_last_modified"] = stamp(d.ReportedAt)
		if u := t.UserOf(d); u != nil {
			out["last_logged_in_user"] = u.UserPrincipalName
		}
		return http.StatusOK, out, nil
	})
}

// mobileDevice is a modelled /mobiledevices/v1 item: the console's mobile
// device export fields plus the overall risk.
func mobileDevice(st *world.State, t *world.Tenant, d *world.Device) map[string]any {
	active := 0
	for _, a := range d.Alerts {
		if a.Status == world.AlertActive {
			active++
		}
	}
	email := ""
	if u := t.UserOf(d); u != nil {
		email = u.UserPrincipalName
	}
	return map[string]any{
		"device_id": d.UESID, "device_name": d.Name, "user_email": email, "os_family": d.Platform,
		"os_version": d.OSVersion, "entra_device_id": d.EntraID, "risk_level": st.DeviceRisk(t, d),
		"active_alert_count": active, "last_reported_time": stamp(d.ReportedAt),
	}
}

func (s *Service) listMobileDevices(c *call) {
	p, e := parsePage(c.r, 10000)
	if e != nil {
		c.fail(e.status, e.msg)
		return
	}
	risk := c.r.URL.Query().Get("risk_level")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		ds := t.UESDevices()
		if risk != "" {
			ds = slices.DeleteFunc(ds, func(d *world.Device) bool { return string(st.DeviceRisk(t, d)) != risk })
		}
		return http.StatusOK, pageOf(p, len(ds), func(i int) any { return mobileDevice(st, t, ds[i]) }), nil
	})
}

func (s *Service) getMobileDevice(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		d := t.Device(id)
		if d == nil || !d.InUES || d.UESID != id {
			return 0, nil, &uesErr{http.StatusNotFound, "Mobile device not found."}
		}
		return http.StatusOK, mobileDevice(st, t, d), nil
	})
}

// alertJSON is a modelled /mobilealerts/v1 item, named as the syslog guide
// names alerts (type, name, detail, id) in the API's snake_case.
func alertJSON(t *world.Tenant, a *world.Alert) map[string]any {
	risk := "none"
	if r, ok := t.UES.RiskAssessment[a.Type]; ok && t.UES.RiskAssessmentConfigured {
		risk = string(r)
	}
	out := map[string]any{
		"alert_id": a.ID, "device_id": a.DeviceID, "alert_type": a.Type, "alert_name": a.Name,
		"detail": a.Detail, "risk_level": risk, "status": a.Status,
		"created_time": stamp(a.Created), "modified_time": stamp(a.Modified),
	}
	if d := t.Device(a.DeviceID); d != nil {
		out["os_family"], out["entra_device_id"] = d.Platform, d.EntraID
	}
	return out
}

// parseTime accepts RFC 3339 and the documented "YYYY-MM-DDThh:mm:ss" (UTC).
func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// listAlerts lists alerts by modification time (oldest first), so a client
// polls incrementally with start_time = the last modified_time it saw
// (inclusive) and dedupes by alert_id + modified_time.
func (s *Service) listAlerts(c *call) {
	p, e := parsePage(c.r, 200)
	if e != nil {
		c.fail(e.status, e.msg)
		return
	}
	q := c.r.URL.Query()
	var start, end time.Time
	for name, dst := range map[string]*time.Time{"start_time": &start, "end_time": &end} {
		if v := q.Get(name); v != "" {
			t, ok := parseTime(v)
			if !ok {
				c.fail(http.StatusBadRequest, name+" must be a UTC time (YYYY-MM-DDThh:mm:ss or RFC 3339).")
				return
			}
			*dst = t
		}
	}
	var statuses []string
	for _, st := range strings.Split(q.Get("status"), ",") {
		if st = strings.TrimSpace(st); st == "" {
			continue
		}
		if st != world.AlertActive && st != world.AlertResolved && st != world.AlertIgnored {
			c.fail(http.StatusBadRequest, "status must be active, resolved or ignored.")
			return
		}
		statuses = append(statuses, st)
	}
	typ, dev := q.Get("alert_type"), q.Get("device_id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		var out []*world.Alert
		for _, a := range t.Alerts() {
			if (start.IsZero() || !a.Modified.Before(start)) && (end.IsZero() || a.Modified.Before(end)) &&
				(len(statuses) == 0 || slices.Contains(statuses, a.Status)) && (typ == "" || a.Type == typ) &&
				(dev == "" || a.DeviceID == dev) {
				out = append(out, a)
			}
		}
		slices.SortFunc(out, func(x, y *world.Alert) int {
			if c := x.Modified.Compare(y.Modified); c != 0 {
				return c
			}
			return int(x.Seq - y.Seq)
		})
		return http.StatusOK, pageOf(p, len(out), func(i int) any { return alertJSON(t, out[i]) }), nil
	})
}

func (s *Service) getAlert(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		a := t.UES.Alerts[id]
		if a == nil {
			return 0, nil, &uesErr{http.StatusNotFound, "Alert not found."}
		}
		return http.StatusOK, alertJSON(t, a), nil
	})
}

// ignoreAlert is the console's "ignore alert": the alert stops counting
// towards the device's risk. Only an active alert can be ignored (409).
func (s *Service) ignoreAlert(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		a, err := st.SetAlertStatus(t, id, world.AlertIgnored)
		switch err {
		case nil:
			return http.StatusOK, alertJSON(t, a), nil
		case world.ErrConflict:
			return 0, nil, &uesErr{http.StatusConflict, "Alert is " + a.Status + "; only an active alert can be ignored."}
		}
		return 0, nil, &uesErr{http.StatusNotFound, "Alert not found."}
	})
}

// RiskAssessment is the modelled risk assessment body.
type RiskAssessment struct {
	Configured   bool                  `json:"configured"`
	Detections   map[string]world.Risk `json:"detections"`
	ModifiedTime string                `json:"modified_time,omitempty"`
}

func riskAssessmentJSON(t *world.Tenant) RiskAssessment {
	ra := RiskAssessment{Configured: t.UES.RiskAssessmentConfigured, Detections: map[string]world.Risk{},
		ModifiedTime: stamp(t.UES.RiskAssessmentModified)}
	for k, v := range t.UES.RiskAssessment {
		ra.Detections[k] = v
	}
	return ra
}

func (s *Service) getRiskAssessment(c *call) {
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		return http.StatusOK, riskAssessmentJSON(t), nil
	})
}

// putRiskAssessment replaces the assessment: {"detections": {type: risk}}.
func (s *Service) putRiskAssessment(c *call) {
	var body struct {
		Detections map[string]world.Risk `json:"detections"`
	}
	b, _ := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Detections == nil {
		c.fail(http.StatusBadRequest, "Request body must be {\"detections\": {\"<detection type>\": \"low|medium|high\"}}.")
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		if err := st.SetRiskAssessment(t, body.Detections); err != nil {
			return 0, nil, &uesErr{http.StatusBadRequest, "Unknown detection type or risk level; detection types: " +
				strings.Join(world.DetectionTypes, ", ") + "; risk levels: low, medium, high."}
		}
		return http.StatusOK, riskAssessmentJSON(t), nil
	})
}

func (s *Service) deleteRiskAssessment(c *call) {
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		_ = st.SetRiskAssessment(t, nil)
		return http.StatusNoContent, nil, nil
	})
}

// Integration is the modelled Intune integration status.
type Integration struct {
	IntuneTenantID           string `json:"intune_tenant_id"`
	Status                   string `json:"status"` // connected, not_connected
	AndroidEnabled           bool   `json:"android_enabled"`
	IOSEnabled               bool   `json:"ios_enabled"`
	Reporting                bool   `json:"reporting"`
	LastReportTime           string `json:"last_report_time"`
	LastHeartbeatTime        string `json:"last_heartbeat_time"`
	RiskAssessmentConfigured bool   `json:"risk_assessment_configured"`
	// DevicesByRisk counts the tenant's mobile devices by overall risk (secured, low,
	// medium, high), as the console's dashboard shows them: one read gives a monitor
	// the whole picture without paging through every device.
	DevicesByRisk map[string]int `json:"devices_by_risk"`
	Warnings      []string       `json:"warnings"`
}

func (s *Service) getIntegration(c *call) {
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *uesErr) {
		in := Integration{IntuneTenantID: t.ID, Status: "not_connected", Reporting: t.UES.Reporting,
			LastReportTime: stamp(t.UES.LastReport), RiskAssessmentConfigured: t.UES.RiskAssessmentConfigured,
			Warnings: []string{}, DevicesByRisk: map[string]int{"secured": 0, "low": 0, "medium": 0, "high": 0}}
		for _, d := range t.UESDevices() {
			in.DevicesByRisk[string(st.DeviceRisk(t, d))]++
		}
		if con := t.Connectors[world.BlackBerryConnectorID]; con != nil {
			in.Status = "connected"
			in.AndroidEnabled, in.IOSEnabled = con.EnabledFor(world.Android), con.EnabledFor(world.IOS)
			in.LastHeartbeatTime = stamp(st.Heartbeat(t, con))
		} else {
			in.Warnings = append(in.Warnings, "the Intune MTD connector for BlackBerry is not set up in the tenant")
		}
		if !in.RiskAssessmentConfigured {
			in.Warnings = append(in.Warnings, "no risk assessment is configured: every device is reported to Intune as secured")
		}
		if !in.Reporting {
			in.Warnings = append(in.Warnings, "reporting to Intune is stopped")
		}
		return http.StatusOK, in, nil
	})
}
