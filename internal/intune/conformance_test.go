package intune_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

func ptr[T any](v T) *T { return &v }

// recorder keeps the (decompressed) bodies and the queries of the requests it forwards,
// and the bodies of the answers.
type recorder struct {
	base    http.RoundTripper
	mu      sync.Mutex
	bodies  map[string][]string     // "METHOD path" -> bodies
	gzip    map[string]bool         // "METHOD path" -> the last body was gzip-compressed
	queries map[string][]url.Values // "METHOD path" -> queries
	answers map[string][]string     // "METHOD path" -> answer bodies
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if r.queries == nil {
		r.queries = map[string][]url.Values{}
	}
	r.queries[req.Method+" "+req.URL.Path] = append(r.queries[req.Method+" "+req.URL.Path], req.URL.Query())
	r.mu.Unlock()
	if req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(raw))
		body := raw
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				return nil, err
			}
			if body, err = io.ReadAll(zr); err != nil {
				return nil, err
			}
		}
		r.mu.Lock()
		if r.bodies == nil {
			r.bodies, r.gzip = map[string][]string{}, map[string]bool{}
		}
		key := req.Method + " " + req.URL.Path
		r.bodies[key] = append(r.bodies[key], string(body))
		r.gzip[key] = req.Header.Get("Content-Encoding") == "gzip"
		r.mu.Unlock()
	}
	res, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	r.mu.Lock()
	if r.answers == nil {
		r.answers = map[string][]string{}
	}
	r.answers[req.Method+" "+req.URL.Path] = append(r.answers[req.Method+" "+req.URL.Path], string(raw))
	r.mu.Unlock()
	return res, nil
}

// answered returns the bodies of the answers to key, oldest first.
func (r *recorder) answered(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.answers[key])
}

func (r *recorder) last(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.bodies[key]
	if len(bs) == 0 {
		return ""
	}
	return bs[len(bs)-1]
}

// queried returns the queries of the requests to key, oldest first.
func (r *recorder) queried(key string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries[key])
}

func (r *recorder) gzipped(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gzip[key]
}

// twinConnector returns the BlackBerry connector as the twin's world holds it.
func twinConnector(t *testing.T) map[string]any {
	t.Helper()
	snap, err := admin.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range snap.Tenants {
		if tn.ID != tenant() {
			continue
		}
		for _, c := range tn.Connectors {
			if c["id"] == intune.BlackBerryConnectorID {
				return c
			}
		}
	}
	t.Fatal("the twin has no BlackBerry connector")
	return nil
}

func TestConnector(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })

	conn, err := c.GetConnector(ctx, intune.BlackBerryConnectorID)
	if err != nil {
		t.Fatal(err)
	}
	s := reflect.ValueOf(conn.Settings)
	for i := 0; i < s.NumField(); i++ {
		if s.Field(i).IsNil() {
			t.Errorf("setting %s not read", s.Type().Field(i).Name)
		}
	}
	if conn.ID != intune.BlackBerryConnectorID || conn.PartnerState != "available" || *conn.Settings.IOSEnabled {
		t.Fatalf("connector = %+v", conn)
	}

	// Two PATCHes: the second must not undo the first, because it sends only its fields.
	if _, err := c.PatchConnector(ctx, conn.ID, intune.ConnectorSettings{AndroidEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	conn, err = c.PatchConnector(ctx, conn.ID, intune.ConnectorSettings{IOSEnabled: ptr(true), PartnerUnresponsivenessThresholdInDays: ptr(int32(3))})
	if err != nil {
		t.Fatal(err)
	}
	if !*conn.Settings.IOSEnabled || !*conn.Settings.AndroidEnabled || *conn.Settings.PartnerUnresponsivenessThresholdInDays != 3 || conn.PartnerState != "enabled" {
		t.Fatalf("patched connector = %+v", conn)
	}
	patchKey := "PATCH /v1.0/deviceManagement/mobileThreatDefenseConnectors/" + intune.BlackBerryConnectorID
	body := rec.last(patchKey)
	if !rec.gzipped(patchKey) {
		t.Error("the PATCH body was not gzip-compressed")
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(body), &sent); err != nil ||
		!reflect.DeepEqual(sent, map[string]any{"iosEnabled": true, "partnerUnresponsivenessThresholdInDays": float64(3)}) {
		t.Fatalf("PATCH body = %s", body)
	}
	w := twinConnector(t)
	flags, _ := w["flags"].(map[string]any)
	if flags["androidEnabled"] != true || flags["iosEnabled"] != true || flags["windowsEnabled"] != false || w["partnerUnresponsivenessThresholdInDays"] != float64(3) {
		t.Fatalf("twin connector = %v", w)
	}

	// A state the SDK does not know reads as "".
	if err := admin.SetPartnerState(ctx, tenant(), "notSetUp"); err != nil {
		t.Fatal(err)
	}
	if conn, err = c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil || conn.PartnerState != "" {
		t.Fatalf("notSetUp connector = %+v, %v", conn, err)
	}

	// Not onboarded: NotFound, for reads and writes.
	if err := admin.Offboard(ctx, tenant(), ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetConnector(ctx, intune.BlackBerryConnectorID)
	if e := asOutbound(t, err, outbound.NotFound); e.StatusCode != 404 || e.Operation != "GetConnector" {
		t.Fatalf("offboarded = %+v", e)
	}
	_, err = c.PatchConnector(ctx, intune.BlackBerryConnectorID, intune.ConnectorSettings{IOSEnabled: ptr(false)})
	asOutbound(t, err, outbound.NotFound)
	if n := testkit.Calls(t, admin, "GET "+routeConnector); n != 3 {
		t.Fatalf("GET connector calls = %d, want 3", n)
	}
	if n := testkit.Calls(t, admin, "PATCH "+routeConnector); n != 3 {
		t.Fatalf("PATCH connector calls = %d, want 3", n)
	}
}

func TestCompliancePolicyLifecycle(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	g1, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "MTD Pilot"})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "Executives"})
	if err != nil {
		t.Fatal(err)
	}
	in := intune.CompliancePolicy{
		Type: intune.IOSCompliancePolicy, DisplayName: "MTD iOS", Description: "managed by mtd-operator",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "medium",
		Actions: []intune.ScheduledAction{
			{ActionType: "block"},
			{ActionType: "notification", GracePeriodHours: 24, NotificationTemplateID: "tmpl-1", NotificationMessageCCList: []string{g1.ID}},
		},
	}
	created, err := c.CreateCompliancePolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Version != 1 || !reflect.DeepEqual(created.Actions, in.Actions) {
		t.Fatalf("created = %+v", created)
	}

	get := func() *intune.CompliancePolicy {
		t.Helper()
		before := testkit.Calls(t, admin, "GET "+routePolicy)
		p, err := c.GetCompliancePolicy(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after := testkit.Calls(t, admin, "GET "+routePolicy); after != before+1 {
			t.Fatalf("GetCompliancePolicy made %d GETs", after-before)
		}
		return p
	}
	p := get()
	if p.Type != in.Type || p.DisplayName != in.DisplayName || p.Description != in.Description || !p.ThreatProtectionEnabled ||
		p.RequiredSecurityLevel != "medium" || p.Version != 1 || p.Created.IsZero() || len(p.Assignments) != 0 ||
		!reflect.DeepEqual(p.Actions, in.Actions) {
		t.Fatalf("read back = %+v", p)
	}

	if err := c.PatchCompliancePolicy(ctx, p.ID, p.Type, intune.CompliancePolicyPatch{DisplayName: ptr("MTD iOS v2"), RequiredSecurityLevel: ptr("low")}); err != nil {
		t.Fatal(err)
	}
	p = get()
	if p.Version != 2 || p.DisplayName != "MTD iOS v2" || p.RequiredSecurityLevel != "low" || p.Description != in.Description || !p.ThreatProtectionEnabled {
		t.Fatalf("patched = %+v", p)
	}

	targets := []intune.AssignmentTarget{{Kind: intune.TargetGroup, GroupID: g1.ID}, {Kind: intune.TargetExclusionGroup, GroupID: g2.ID}, {Kind: intune.TargetAllDevices}}
	if err := c.AssignCompliancePolicy(ctx, p.ID, targets); err != nil {
		t.Fatal(err)
	}
	if p = get(); !reflect.DeepEqual(p.Assignments, targets) {
		t.Fatalf("assignments = %+v", p.Assignments)
	}

	actions := []intune.ScheduledAction{{ActionType: "block", GracePeriodHours: 12}}
	if err := c.ScheduleComplianceActions(ctx, p.ID, actions); err != nil {
		t.Fatal(err)
	}
	if p = get(); !reflect.DeepEqual(p.Actions, actions) {
		t.Fatalf("actions = %+v", p.Actions)
	}

	// A second policy of another mobile type; the list expands both.
	work, err := c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.AndroidWorkProfileCompliancePolicy, DisplayName: "MTD Android WP",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "secured", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListCompliancePolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("list = %+v", list)
	}
	i := slices.IndexFunc(list, func(x intune.CompliancePolicy) bool { return x.ID == p.ID })
	if i < 0 || !reflect.DeepEqual(list[i], *p) {
		t.Fatalf("list entry = %+v, want %+v", list, *p)
	}
	if n := testkit.Calls(t, admin, "GET "+routePolicies); n != 1 {
		t.Fatalf("list made %d GETs", n)
	}

	// The service's rule: exactly one block action.
	_, err = c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "bad",
		Actions: []intune.ScheduledAction{{ActionType: "block"}, {ActionType: "block", GracePeriodHours: 1}}})
	if e := asOutbound(t, err, outbound.Terminal); e.StatusCode != 400 || !strings.Contains(e.Message, "one and only one block") {
		t.Fatalf("two blocks = %+v", e)
	}
	// A value the API does not know is refused before any call.
	before := testkit.Calls(t, admin, "POST "+routePolicies)
	_, err = c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.IOSCompliancePolicy, DisplayName: "bad", RequiredSecurityLevel: "severe"})
	asOutbound(t, err, outbound.Terminal)
	if after := testkit.Calls(t, admin, "POST "+routePolicies); after != before {
		t.Fatal("an invalid policy was sent")
	}

	for _, id := range []string{p.ID, work.ID} {
		if err := c.DeleteCompliancePolicy(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetCompliancePolicy(ctx, p.ID)
	asOutbound(t, err, outbound.NotFound)
	asOutbound(t, c.DeleteCompliancePolicy(ctx, p.ID), outbound.NotFound)
}

func TestManagedDevices(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	devs := enrol(t, 3, adminapi.Device{})
	quoteID := fmt.Sprintf("o'brien-%d", time.Now().UnixNano())
	quoted := enrol(t, 1, adminapi.Device{DeviceName: "quote", Platform: "iOS", OSVersion: "17.4", EntraID: quoteID})[0]

	all, err := c.ListManagedDevices(ctx, intune.DeviceFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("list = %d devices, %v", len(all), err)
	}
	// The quote is escaped as '' (an unescaped one would be a filter the service
	// ignores, returning every device).
	got, err := c.ListManagedDevices(ctx, intune.DeviceFilter{AzureADDeviceID: quoteID})
	if err != nil || len(got) != 1 || got[0].AzureADDeviceID != quoteID || got[0].ID != quoted.IntuneID {
		t.Fatalf("filtered by %q = %+v, %v", quoteID, got, err)
	}
	if got, err = c.ListManagedDevices(ctx, intune.DeviceFilter{OperatingSystem: "Android"}); err != nil || len(got) != 3 {
		t.Fatalf("Android devices = %d, %v", len(got), err)
	}

	d, err := c.GetManagedDevice(ctx, quoted.IntuneID)
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceName != "quote" || d.OperatingSystem != "iOS" || d.OSVersion != "17.4" || d.UserID != quoted.UserID ||
		d.UserPrincipalName == "" || d.ComplianceState == "" || d.PartnerReportedThreatState == "" || d.LastSync.IsZero() {
		t.Fatalf("device = %+v", d)
	}

	world := func(id string) adminapi.DeviceView {
		t.Helper()
		v, err := admin.Device(ctx, tenant(), id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, a := range []intune.DeviceAction{intune.ActionSyncDevice, intune.ActionRemoteLock} {
		if err := c.RunDeviceAction(ctx, devs[0].IntuneID, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	if v := world(devs[0].IntuneID); !reflect.DeepEqual(v.Actions, []string{"syncDevice", "remoteLock"}) || !v.Managed {
		t.Fatalf("after sync and lock: %+v", v)
	}
	if err := c.RunDeviceAction(ctx, devs[1].IntuneID, intune.ActionRetire, nil); err != nil {
		t.Fatal(err)
	}
	if v := world(devs[1].IntuneID); v.Managed || !v.Activated {
		t.Fatalf("after retire: managed %v, activated %v", v.Managed, v.Activated)
	}
	_, err = c.GetManagedDevice(ctx, devs[1].IntuneID)
	asOutbound(t, err, outbound.NotFound)
	if err := c.RunDeviceAction(ctx, devs[2].IntuneID, intune.ActionWipe, &intune.WipeOptions{KeepUserData: true}); err != nil {
		t.Fatal(err)
	}
	if v := world(devs[2].IntuneID); v.Managed || v.Activated {
		t.Fatalf("after wipe: managed %v, activated %v", v.Managed, v.Activated)
	}
	asOutbound(t, c.RunDeviceAction(ctx, devs[0].IntuneID, "selfDestruct", nil), outbound.Terminal)
}

// TestDeviceActionResults: the single-device read carries Intune's action history
// (deviceActionResults), with each action's state and times as the twin records them,
// pending until the device checks in when the twin has an action delay; the list
// does not select it.
func TestDeviceActionResults(t *testing.T) {
	fresh(t)
	rec := &recorder{base: twin.Client().Transport}
	c := newClient(t, func(cfg *intune.Config) { cfg.Transport = rec })
	devs := enrol(t, 3, adminapi.Device{})
	now := func() time.Time {
		t.Helper()
		n, err := admin.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	read := func(id string) *intune.ManagedDevice {
		t.Helper()
		d, err := c.GetManagedDevice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	only := func(d *intune.ManagedDevice, name string) intune.DeviceActionResult {
		t.Helper()
		var found []intune.DeviceActionResult
		for _, r := range d.ActionResults {
			if r.Name == name {
				found = append(found, r)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s results %+v in %+v", name, found, d.ActionResults)
		}
		return found[0]
	}

	if d := read(devs[0].IntuneID); len(d.ActionResults) != 0 {
		t.Fatalf("fresh device has action results %+v", d.ActionResults)
	}
	getKey := "GET " + routeDevices + "/" + devs[0].IntuneID
	if qs := rec.queried(getKey); len(qs) != 1 || !slices.Contains(strings.Split(qs[0].Get("$select"), ","), "deviceActionResults") {
		t.Fatalf("GetManagedDevice queries %v, want a $select with deviceActionResults", qs)
	}

	// No action delay (the twin's default): remoteLock is done at once.
	before := now()
	if err := c.RunDeviceAction(ctx, devs[0].IntuneID, intune.ActionRemoteLock, nil); err != nil {
		t.Fatal(err)
	}
	after := now()
	lock := only(read(devs[0].IntuneID), "remoteLock")
	if lock.State != "done" || lock.Started.Before(before) || lock.Started.After(after) || !lock.Updated.Equal(lock.Started) {
		t.Fatalf("remoteLock %+v, want done, started in [%v, %v]", lock, before, after)
	}

	// The list selects neither the history nor reads it.
	all, err := c.ListManagedDevices(ctx, intune.DeviceFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("list = %d devices, %v", len(all), err)
	}
	for _, d := range all {
		if d.ActionResults != nil {
			t.Fatalf("listed device %s has action results %+v", d.ID, d.ActionResults)
		}
	}
	if qs := rec.queried("GET " + routeDevices); len(qs) != 1 || qs[0].Get("$select") == "" ||
		slices.Contains(strings.Split(qs[0].Get("$select"), ","), "deviceActionResults") {
		t.Fatalf("ListManagedDevices queries %v, want a $select without deviceActionResults", qs)
	}

	// With an action delay, the device carries out remoteLock and wipe at its check-in.
	const delay = time.Hour
	if _, err := admin.SetActionDelay(ctx, delay); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.SetActionDelay(ctx, 0); err != nil {
			t.Error(err)
		}
	})
	before = now()
	if err := c.RunDeviceAction(ctx, devs[1].IntuneID, intune.ActionRemoteLock, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.RunDeviceAction(ctx, devs[2].IntuneID, intune.ActionWipe, nil); err != nil {
		t.Fatal(err)
	}
	after = now()
	lock = only(read(devs[1].IntuneID), "remoteLock")
	wipe := only(read(devs[2].IntuneID), "wipe")
	for _, r := range []intune.DeviceActionResult{lock, wipe} {
		if r.State != "pending" || r.Started.Before(before) || r.Started.After(after) || !r.Updated.Equal(r.Started) {
			t.Fatalf("%s before the check-in: %+v, want pending, started in [%v, %v]", r.Name, r, before, after)
		}
	}
	if _, err := admin.Advance(ctx, delay); err != nil {
		t.Fatal(err)
	}
	done := only(read(devs[1].IntuneID), "remoteLock")
	if done.State != "done" || !done.Started.Equal(lock.Started) || !done.Updated.Equal(lock.Started.Add(delay)) {
		t.Fatalf("remoteLock after the check-in: %+v, want done, updated at %v", done, lock.Started.Add(delay))
	}
	_, err = c.GetManagedDevice(ctx, devs[2].IntuneID)
	asOutbound(t, err, outbound.NotFound) // wiped: no longer managed

	// An action the client never sent, which failed, as Intune would show it.
	started := now().Add(-10 * time.Minute)
	if _, err := admin.RecordActionResult(ctx, tenant(), devs[0].IntuneID, adminapi.ActionResult{
		ActionName: "retire", ActionState: "failed", StartDateTime: started, LastUpdatedDateTime: started.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	d := read(devs[0].IntuneID)
	if r, ok := d.LastActionResult("retire"); !ok || r.State != "failed" || !r.Started.Equal(started) || !r.Updated.Equal(started.Add(time.Minute)) {
		t.Fatalf("recorded retire %+v, %v in %+v", r, ok, d.ActionResults)
	}
	if len(d.ActionResults) != 2 || d.ActionResults[0].Name != "remoteLock" {
		t.Fatalf("history %+v, want the remoteLock then the retire", d.ActionResults)
	}
}

func TestManagedDevicesPaging(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	enrol(t, 2500, adminapi.Device{})
	if err := admin.ResetCalls(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := c.ListManagedDevices(ctx, intune.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, d := range all {
		ids[d.ID] = true
	}
	if len(all) != 2500 || len(ids) != 2500 {
		t.Fatalf("listed %d devices, %d distinct", len(all), len(ids))
	}
	if n := testkit.Calls(t, admin, "GET "+routeDevices); n != 3 {
		t.Fatalf("paging 2,500 devices took %d GETs, want 3 (1000 per page)", n)
	}
}

func TestConditionalAccess(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	in := intune.ConditionalAccessPolicy{
		DisplayName: "MTD: compliant devices only", State: "enabledForReportingButNotEnforced",
		IncludeApplications: []string{"00000002-0000-0ff1-ce00-000000000000", "00000003-0000-0ff1-ce00-000000000000"},
		IncludeUsers:        []string{"All"}, ExcludeGroups: []string{"g-break-glass"},
		IncludePlatforms: []string{"android", "iOS"}, ClientAppTypes: []string{"all"},
		GrantOperator: "OR", BuiltInControls: []string{"compliantDevice"},
	}
	created, err := c.CreateConditionalAccessPolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = created.ID
	if created.ID == "" || !reflect.DeepEqual(*created, in) {
		t.Fatalf("created\n got %+v\nwant %+v", *created, in)
	}
	if got, err := c.GetConditionalAccessPolicy(ctx, created.ID); err != nil || !reflect.DeepEqual(*got, in) {
		t.Fatalf("read back %+v, %v", got, err)
	}

	// An update makes the policy match: platforms and exclusions go away.
	upd := in
	upd.State, upd.IncludePlatforms, upd.ExcludeGroups, upd.IncludeGroups = "enabled", nil, nil, []string{"g-pilot"}
	upd.IncludeUsers = nil
	if err := c.UpdateConditionalAccessPolicy(ctx, created.ID, upd); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetConditionalAccessPolicy(ctx, created.ID); err != nil || !reflect.DeepEqual(*got, upd) {
		t.Fatalf("updated\n got %+v\nwant %+v (%v)", got, upd, err)
	}
	list, err := c.ListConditionalAccessPolicies(ctx)
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], upd) {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := c.DeleteConditionalAccessPolicy(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetConditionalAccessPolicy(ctx, created.ID)
	asOutbound(t, err, outbound.NotFound)
}

func TestCompliancePolicyDeviceOverview(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	if _, err := c.PatchConnector(ctx, intune.BlackBerryConnectorID, intune.ConnectorSettings{AndroidEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetRiskAssessment(ctx, tenant(), map[string]world.Risk{"maliciousApplication": "high"}); err != nil {
		t.Fatal(err)
	}
	devs := enrol(t, 3, adminapi.Device{})
	enrol(t, 2, adminapi.Device{DeviceName: "ipad", Platform: "iOS", OSVersion: "17.4"}) // another type: not applicable
	if _, err := admin.Detect(ctx, tenant(), devs[0].EntraID, adminapi.Detection{Type: "maliciousApplication"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateCompliancePolicy(ctx, intune.CompliancePolicy{Type: intune.AndroidCompliancePolicy, DisplayName: "overview",
		ThreatProtectionEnabled: true, RequiredSecurityLevel: "low", Actions: []intune.ScheduledAction{{ActionType: "block"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AssignCompliancePolicy(ctx, p.ID, []intune.AssignmentTarget{{Kind: intune.TargetAllDevices}}); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetCompliancePolicyDeviceOverview(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Success != 2 || o.Failed != 1 || o.NotApplicable != 2 {
		t.Fatalf("overview = %+v, want 2 compliant, 1 failed (the high-risk phone), 2 not applicable (iOS)", o)
	}
	if _, err := c.GetCompliancePolicyDeviceOverview(ctx, "00000000-0000-0000-0000-000000000000"); !outbound.IsNotFound(err) {
		t.Fatalf("unknown policy = %v, want NotFound", err)
	}
}
