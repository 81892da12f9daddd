// Package simclient is a small typed client of the twin's admin API, for
// test suites (controllers, e2e) that drive scenarios.
package simclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Client talks to MTD_SIM_ADMIN_URL.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for adminURL using hc (which must trust the twin's CA).
func New(adminURL string, hc *http.Client) *Client { return &Client{base: adminURL, hc: hc} }

// FromEnv builds a client from the MTD_SIM_* variables (MTD_SIM_ADMIN_URL,
// MTD_SIM_CA_FILE), as written by mtd-sim --write-env.
func FromEnv(env map[string]string) (*Client, error) {
	pem, err := os.ReadFile(env["MTD_SIM_CA_FILE"])
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("simclient: no certificate in %s", env["MTD_SIM_CA_FILE"])
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return New(env["MTD_SIM_ADMIN_URL"], hc), nil
}

// Error is a non-2xx admin answer.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("mtd-sim admin: %d %s", e.Status, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e adminapi.Error
		_ = json.Unmarshal(b, &e)
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func tp(tenant string) string { return "/tenants/" + url.PathEscape(tenant) }

// Tenants lists tenants.
func (c *Client) Tenants(ctx context.Context) ([]adminapi.TenantInfo, error) {
	var out []adminapi.TenantInfo
	return out, c.do(ctx, http.MethodGet, "/tenants", nil, &out)
}

// Tenant returns one tenant (by Entra or UES id).
func (c *Client) Tenant(ctx context.Context, id string) (adminapi.TenantInfo, error) {
	var out adminapi.TenantInfo
	return out, c.do(ctx, http.MethodGet, tp(id), nil, &out)
}

// Env returns the twin's MTD_SIM_* variables.
func (c *Client) Env(ctx context.Context) (map[string]string, error) {
	var out map[string]string
	return out, c.do(ctx, http.MethodGet, "/env", nil, &out)
}

// CreateTenant creates a tenant with its UES tenant.
func (c *Client) CreateTenant(ctx context.Context, t adminapi.Tenant) (adminapi.TenantInfo, error) {
	var out adminapi.TenantInfo
	return out, c.do(ctx, http.MethodPost, "/tenants", t, &out)
}

// CreateApp registers an Entra app (returns the generated id/secret).
func (c *Client) CreateApp(ctx context.Context, tenant string, a adminapi.App) (adminapi.App, error) {
	var out adminapi.App
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/apps", a, &out)
}

// CreateUESApp registers a UES API application.
func (c *Client) CreateUESApp(ctx context.Context, tenant string, a adminapi.UESApp) (adminapi.UESApp, error) {
	var out adminapi.UESApp
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/ues-apps", a, &out)
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, tenant string, g adminapi.Group) (adminapi.Group, error) {
	var out adminapi.Group
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/groups", g, &out)
}

// AddMembers adds users or Entra device ids to a group.
func (c *Client) AddMembers(ctx context.Context, tenant, group string, members ...string) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/groups/"+group+"/members", adminapi.Members{Members: members}, nil)
}

// RemoveMember removes a member from a group.
func (c *Client) RemoveMember(ctx context.Context, tenant, group, member string) error {
	return c.do(ctx, http.MethodDelete, tp(tenant)+"/groups/"+group+"/members/"+member, nil, nil)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, tenant string, u adminapi.User) (adminapi.User, error) {
	var out adminapi.User
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/users", u, &out)
}

// CreateDevices enrols one device, or d.Count devices.
func (c *Client) CreateDevices(ctx context.Context, tenant string, d adminapi.Device) (adminapi.Created, error) {
	var out adminapi.Created
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/devices", d, &out)
}

// Device returns a device by any of its ids.
func (c *Client) Device(ctx context.Context, tenant, id string) (adminapi.DeviceView, error) {
	var out adminapi.DeviceView
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/devices/"+id, nil, &out)
}

// Detect raises an alert on a device.
func (c *Client) Detect(ctx context.Context, tenant, device string, d adminapi.Detection) (adminapi.AlertView, error) {
	var out adminapi.AlertView
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/devices/"+device+"/detections", d, &out)
}

// Remediate resolves a device's active alerts of typ (all when empty).
func (c *Client) Remediate(ctx context.Context, tenant, device, typ string) ([]adminapi.AlertView, error) {
	var out []adminapi.AlertView
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/devices/"+device+"/remediate", adminapi.Remediation{Type: typ}, &out)
}

// RecordActionResult adds an action result to a managed device's
// deviceActionResults as given (nothing is carried out), and returns it with
// its defaults filled in: a zero StartDateTime is the world's now, a zero
// LastUpdatedDateTime is StartDateTime.
func (c *Client) RecordActionResult(ctx context.Context, tenant, device string, r adminapi.ActionResult) (adminapi.ActionResult, error) {
	var out adminapi.ActionResult
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/devices/"+device+"/action-results", r, &out)
}

// ResolveAlert resolves one alert.
func (c *Client) ResolveAlert(ctx context.Context, tenant, alert string) (adminapi.AlertView, error) {
	var out adminapi.AlertView
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/alerts/"+alert+"/resolve", nil, &out)
}

// IgnoreAlert ignores one active alert, as an admin does in the UES console.
func (c *Client) IgnoreAlert(ctx context.Context, tenant, alert string) (adminapi.AlertView, error) {
	var out adminapi.AlertView
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/alerts/"+alert+"/ignore", nil, &out)
}

// SetSyslog configures the tenant's syslog integration and returns its
// status. Enabling it again after it disabled itself clears Disabled and
// keeps the counts.
func (c *Client) SetSyslog(ctx context.Context, tenant string, cfg adminapi.SyslogConfig) (adminapi.SyslogStatus, error) {
	var out adminapi.SyslogStatus
	return out, c.do(ctx, http.MethodPut, tp(tenant)+"/syslog", cfg, &out)
}

// Syslog returns the tenant's syslog configuration and delivery status.
func (c *Client) Syslog(ctx context.Context, tenant string) (adminapi.SyslogStatus, error) {
	var out adminapi.SyslogStatus
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/syslog", nil, &out)
}

// SyslogDeadLetters lists the tenant's dead-lettered syslog messages, oldest
// first.
func (c *Client) SyslogDeadLetters(ctx context.Context, tenant string) ([]adminapi.SyslogDeadLetter, error) {
	var out []adminapi.SyslogDeadLetter
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/syslog/dead-letters", nil, &out)
}

// DisableSyslog turns the tenant's syslog integration off; queued messages
// are dropped, counts and dead letters kept.
func (c *Client) DisableSyslog(ctx context.Context, tenant string) error {
	return c.do(ctx, http.MethodDelete, tp(tenant)+"/syslog", nil, nil)
}

// SetRiskAssessment sets (nil removes) the UES risk assessment.
func (c *Client) SetRiskAssessment(ctx context.Context, tenant string, ra map[string]world.Risk) error {
	return c.do(ctx, http.MethodPut, tp(tenant)+"/risk-assessment", adminapi.RiskAssessment{Detections: ra}, nil)
}

// AppAccess asks whether a device (and user) may reach an app.
func (c *Client) AppAccess(ctx context.Context, tenant string, q adminapi.AppAccess) (world.AccessResult, error) {
	var out world.AccessResult
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/access/app", q, &out)
}

// NetworkAccess asks whether a device may join the corporate Wi-Fi.
func (c *Client) NetworkAccess(ctx context.Context, tenant string, q adminapi.NetworkAccess) (world.AccessResult, error) {
	var out world.AccessResult
	return out, c.do(ctx, http.MethodPost, tp(tenant)+"/access/network", q, &out)
}

// Onboard creates a partner connector ("" = BlackBerry).
func (c *Client) Onboard(ctx context.Context, tenant, connectorID string) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/partner/onboard", adminapi.Connector{ConnectorID: connectorID}, nil)
}

// Offboard deletes a partner connector ("" = BlackBerry).
func (c *Client) Offboard(ctx context.Context, tenant, connectorID string) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/partner/offboard", adminapi.Connector{ConnectorID: connectorID}, nil)
}

// SetReporting starts or stops UES reporting and heartbeats.
func (c *Client) SetReporting(ctx context.Context, tenant string, on bool) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/partner/reporting", adminapi.Reporting{Enabled: on}, nil)
}

// SetPartnerState forces partnerState ("" clears the override).
func (c *Client) SetPartnerState(ctx context.Context, tenant, state string) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/partner/state", adminapi.PartnerState{State: state}, nil)
}

// RevokeTokens revokes issued tokens of "entra", "ues" or both ("").
func (c *Client) RevokeTokens(ctx context.Context, tenant, service string) error {
	return c.do(ctx, http.MethodPost, tp(tenant)+"/tokens/revoke", adminapi.Revoke{Service: service}, nil)
}

// MobileApp is an Intune mobile app with its assignments, as the admin API
// shows it.
type MobileApp = adminapi.MobileApp

// MobileApps lists the tenant's mobile apps (every type) in creation order,
// with their assignments.
func (c *Client) MobileApps(ctx context.Context, tenant string) ([]MobileApp, error) {
	var out []MobileApp
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/mobileApps", nil, &out)
}

// AppConfigurations lists the tenant's app configuration policies in
// creation order, with their assignments.
func (c *Client) AppConfigurations(ctx context.Context, tenant string) ([]adminapi.AppConfiguration, error) {
	var out []adminapi.AppConfiguration
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/mobileAppConfigurations", nil, &out)
}

// AppStats returns the counts of the tenant's Graph writes on mobile apps and
// app configurations since it was created or the counts were reset.
func (c *Client) AppStats(ctx context.Context, tenant string) (adminapi.AppStats, error) {
	var out adminapi.AppStats
	return out, c.do(ctx, http.MethodGet, tp(tenant)+"/app-stats", nil, &out)
}

// ResetAppStats zeroes the tenant's app write counts.
func (c *Client) ResetAppStats(ctx context.Context, tenant string) error {
	return c.do(ctx, http.MethodDelete, tp(tenant)+"/app-stats", nil, nil)
}

// SetAppPublishingState forces a mobile app's publishingState (notPublished,
// processing, published); Graph refuses to assign an app that is not published.
func (c *Client) SetAppPublishingState(ctx context.Context, tenant, appID, state string) error {
	return c.do(ctx, http.MethodPut, tp(tenant)+"/mobileApps/"+url.PathEscape(appID)+"/publishing-state",
		adminapi.PublishingState{PublishingState: state}, nil)
}

// ApproveManagedStoreApp approves an Android app in Managed Google Play and
// syncs Intune: the tenant gets (or updates) the package's
// androidManagedStoreApp, with no publisher.
func (c *Client) ApproveManagedStoreApp(ctx context.Context, tenant, packageID, displayName string) error {
	_, err := c.ApproveManagedStoreAppWithPublisher(ctx, tenant, packageID, displayName, "")
	return err
}

// ApproveManagedStoreAppWithPublisher is ApproveManagedStoreApp with a publisher, and
// returns the app.
func (c *Client) ApproveManagedStoreAppWithPublisher(ctx context.Context, tenant, packageID, displayName, publisher string) (MobileApp, error) {
	var out MobileApp
	return out, c.do(ctx, http.MethodPut, tp(tenant)+"/managedStoreApps/"+url.PathEscape(packageID),
		adminapi.ManagedStoreApp{DisplayName: displayName, Publisher: publisher}, &out)
}

// RemoveManagedStoreApp withdraws the approval: the androidManagedStoreApp
// and its assignments go.
func (c *Client) RemoveManagedStoreApp(ctx context.Context, tenant, packageID string) error {
	return c.do(ctx, http.MethodDelete, tp(tenant)+"/managedStoreApps/"+url.PathEscape(packageID), nil, nil)
}

// InstallApp makes a device (any of its ids) report appID (its bundle or
// package id) at version; the next detectedApps read shows it.
func (c *Client) InstallApp(ctx context.Context, tenant, deviceID, appID, version string) error {
	return c.do(ctx, http.MethodPut, tp(tenant)+"/devices/"+url.PathEscape(deviceID)+"/apps/"+url.PathEscape(appID),
		adminapi.InstalledApp{Version: version}, nil)
}

// UninstallApp removes appID from a device.
func (c *Client) UninstallApp(ctx context.Context, tenant, deviceID, appID string) error {
	return c.do(ctx, http.MethodDelete, tp(tenant)+"/devices/"+url.PathEscape(deviceID)+"/apps/"+url.PathEscape(appID), nil, nil)
}

// Now returns the world time.
func (c *Client) Now(ctx context.Context) (time.Time, error) {
	var out adminapi.ClockInfo
	return out.Now, c.do(ctx, http.MethodGet, "/clock", nil, &out)
}

// Advance moves the world clock forward by d.
func (c *Client) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	var out adminapi.ClockInfo
	return out.Now, c.do(ctx, http.MethodPost, "/clock", adminapi.Clock{Advance: d.String()}, &out)
}

// SetClock sets the world time.
func (c *Client) SetClock(ctx context.Context, t time.Time) (time.Time, error) {
	var out adminapi.ClockInfo
	return out.Now, c.do(ctx, http.MethodPost, "/clock", adminapi.Clock{Set: &t}, &out)
}

// AddFault injects a fault and returns it with its id.
func (c *Client) AddFault(ctx context.Context, f adminapi.Fault) (adminapi.Fault, error) {
	var out adminapi.Fault
	return out, c.do(ctx, http.MethodPost, "/faults", f, &out)
}

// Faults lists active faults with their hit counts.
func (c *Client) Faults(ctx context.Context) ([]adminapi.Fault, error) {
	var out []adminapi.Fault
	return out, c.do(ctx, http.MethodGet, "/faults", nil, &out)
}

// RemoveFault removes one fault.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/faults/"+id, nil, nil)
}

// ClearFaults removes every fault.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/faults", nil, nil)
}

// Calls returns per-route, per-method call counts.
func (c *Client) Calls(ctx context.Context) (adminapi.Calls, error) {
	var out adminapi.Calls
	return out, c.do(ctx, http.MethodGet, "/calls", nil, &out)
}

// ResetCalls clears the call counts.
func (c *Client) ResetCalls(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/calls", nil, nil)
}

// Throttling returns the Graph throttling configuration.
func (c *Client) Throttling(ctx context.Context) (adminapi.Throttling, error) {
	var out adminapi.Throttling
	return out, c.do(ctx, http.MethodGet, "/throttling", nil, &out)
}

// SetThrottling replaces the Graph throttling configuration.
func (c *Client) SetThrottling(ctx context.Context, t adminapi.Throttling) (adminapi.Throttling, error) {
	var out adminapi.Throttling
	return out, c.do(ctx, http.MethodPut, "/throttling", t, &out)
}

// ReportingDelay returns how long (world time) a UES report takes to reach Intune.
func (c *Client) ReportingDelay(ctx context.Context) (time.Duration, error) {
	var out adminapi.ReportingDelay
	if err := c.do(ctx, http.MethodGet, "/reporting-delay", nil, &out); err != nil {
		return 0, err
	}
	return time.ParseDuration(out.Delay)
}

// SetReportingDelay sets the report delay (0 = at once) and returns it.
// Reports already on their way keep their due time.
func (c *Client) SetReportingDelay(ctx context.Context, d time.Duration) (time.Duration, error) {
	var out adminapi.ReportingDelay
	if err := c.do(ctx, http.MethodPut, "/reporting-delay", adminapi.ReportingDelay{Delay: d.String()}, &out); err != nil {
		return 0, err
	}
	return time.ParseDuration(out.Delay)
}

// ActionDelay returns how long (world time) a device takes to check in and carry
// out a remoteLock, retire or wipe.
func (c *Client) ActionDelay(ctx context.Context) (time.Duration, error) {
	var out adminapi.ActionDelay
	if err := c.do(ctx, http.MethodGet, "/action-delay", nil, &out); err != nil {
		return 0, err
	}
	return time.ParseDuration(out.Delay)
}

// SetActionDelay sets the action delay (0 = at once) and returns it. Actions
// already pending keep their due time.
func (c *Client) SetActionDelay(ctx context.Context, d time.Duration) (time.Duration, error) {
	var out adminapi.ActionDelay
	if err := c.do(ctx, http.MethodPut, "/action-delay", adminapi.ActionDelay{Delay: d.String()}, &out); err != nil {
		return 0, err
	}
	return time.ParseDuration(out.Delay)
}

// Snapshot returns the whole world.
func (c *Client) Snapshot(ctx context.Context) (adminapi.Snapshot, error) {
	var out adminapi.Snapshot
	return out, c.do(ctx, http.MethodGet, "/snapshot", nil, &out)
}

// Reset restores the world the twin started with and clears faults and counts.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/reset", nil, nil)
}
