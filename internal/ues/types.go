package ues

import (
	"encoding/json"
	"time"
)

// Page is UES's documented paging envelope.
type Page[T any] struct {
	PageNumber         int `json:"page_number"`
	PageSize           int `json:"page_size"`
	TotalPages         int `json:"total_pages"`
	TotalNumberOfItems int `json:"total_number_of_items"`
	PageItems          []T `json:"page_items"`
}

// Device is an item of the documented /devices/v2 listing.
type Device struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	State         string `json:"state"`
	AgentVersion  string `json:"agent_version"`
	DeviceType    string `json:"deviceType"`
	ModelOfDevice string `json:"modelOfDevice"`
	OSVersion     string `json:"os_version"`
}

// MobileDevice is a device of the modelled mobile API with its overall risk.
type MobileDevice struct {
	DeviceID         string    `json:"device_id"`
	DeviceName       string    `json:"device_name"`
	UserEmail        string    `json:"user_email"`
	OSFamily         string    `json:"os_family"`
	OSVersion        string    `json:"os_version"`
	EntraDeviceID    string    `json:"entra_device_id"`
	RiskLevel        string    `json:"risk_level"`
	ActiveAlertCount int       `json:"active_alert_count"`
	LastReportedTime Timestamp `json:"last_reported_time"`
}

// Alert statuses of the modelled mobile alert API.
const (
	AlertActive   = "active"
	AlertResolved = "resolved"
	AlertIgnored  = "ignored"
)

// Alert is a mobile alert (modelled on the syslog event guide's fields).
type Alert struct {
	AlertID       string    `json:"alert_id"`
	DeviceID      string    `json:"device_id"`
	EntraDeviceID string    `json:"entra_device_id"`
	OSFamily      string    `json:"os_family"`
	AlertType     string    `json:"alert_type"`
	AlertName     string    `json:"alert_name"`
	Detail        string    `json:"detail"`
	RiskLevel     string    `json:"risk_level"`
	Status        string    `json:"status"`
	CreatedTime   Timestamp `json:"created_time"`
	ModifiedTime  Timestamp `json:"modified_time"`
}

// RiskAssessment is the detection type → risk mapping of the tenant's mobile policy.
type RiskAssessment struct {
	Configured   bool              `json:"configured"`
	Detections   map[string]string `json:"detections"`
	ModifiedTime Timestamp         `json:"modified_time"`
}

// IntegrationStatus is UES's view of its Intune integration.
type IntegrationStatus struct {
	IntuneTenantID           string    `json:"intune_tenant_id"`
	Status                   string    `json:"status"`
	AndroidEnabled           bool      `json:"android_enabled"`
	IOSEnabled               bool      `json:"ios_enabled"`
	Reporting                bool      `json:"reporting"`
	LastReportTime           Timestamp `json:"last_report_time"`
	LastHeartbeatTime        Timestamp `json:"last_heartbeat_time"`
	RiskAssessmentConfigured bool      `json:"risk_assessment_configured"`
	// DevicesByRisk counts mobile devices by overall risk: secured, low, medium, high.
	DevicesByRisk map[string]int `json:"devices_by_risk"`
	Warnings      []string       `json:"warnings"`
}

// Timestamp reads UES times: RFC 3339 (with or without fractions or zone) or the
// documented YYYY-MM-DDThh:mm:ss; null or empty is the zero time.
type Timestamp struct{ time.Time }

var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		t.Time = time.Time{}
		return nil
	}
	var firstErr error
	for _, layout := range timestampLayouts {
		v, err := time.Parse(layout, *s)
		if err == nil {
			t.Time = v.UTC()
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}
