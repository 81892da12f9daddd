package controllers_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// TestRiskyDeviceOpensOneRemediationPerEpisode is the documented intake: UES reports a
// device's risk to Intune, the connector's device snapshot sees partnerReportedThreatState
// reach minimumRisk, and exactly one ThreatRemediation follows the episode, with nothing
// but Graph (no modelled UES route is called). A later episode of the same device gets
// its own.
func TestRiskyDeviceOpensOneRemediationPerEpisode(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 2)
	modelled := modelledCalls(t)
	conn := remediationConnector(t, tn, nil)
	syncClocks(twinNow(t))
	detect(t, tn, phones[0].IntuneID, "maliciousApplication")
	detect(t, tn, phones[1].IntuneID, "unsafeWifi") // low: below minimumRisk (high)

	tr := intakeOf(t, conn, phones[0].IntuneID, 1)
	if l := tr.Labels; l[controllers.LabelConnector] != conn.Name || l[controllers.LabelDevice] != strings.ToLower(phones[0].EntraID) ||
		l[controllers.LabelIntuneDevice] != strings.ToLower(phones[0].IntuneID) || l[controllers.LabelEpisode] != "1" {
		t.Fatalf("labels = %v", l)
	}
	th := tr.Spec.Threat
	if th == nil || th.Source != v1.SourceIntuneDeviceRisk || th.Risk != "high" || th.AlertID != "" || th.DetectedAt == nil ||
		!strings.Contains(th.Detail, "highSeverity") {
		t.Fatalf("threat = %+v", th)
	}
	if d := tr.Spec.Device; string(d.EntraDeviceID) != phones[0].EntraID || string(d.IntuneDeviceID) != phones[0].IntuneID {
		t.Fatalf("device = %+v", d)
	}
	if s := tr.Spec.Steps; len(s) != 2 || s[0].Action != v1.StepNotify || s[1].Action != v1.StepSyncDevice || s[1].After.Duration != 15*time.Minute || tr.Status.Approval != nil {
		t.Fatalf("default plan = %+v approval %+v", s, tr.Status.Approval)
	}
	c := waitFor(t, conn, "device counts from the snapshot", func(c *v1.MTDConnector) bool {
		d := c.Status.Devices
		return d != nil && d.High == 1 && d.Low == 1 && d.Total == 2 && c.Status.ThreatSync != nil && c.Status.ThreatSync.SnapshotDevices == 2
	})
	if c.Status.Devices.AllSecuredSince != nil {
		t.Fatalf("allSecuredSince set while devices are at risk: %+v", c.Status.Devices)
	}
	waitFor(t, conn, "activeThreats 1", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1 })
	waitForSyncs(t, conn, 2) // further passes open nothing more
	if n := len(remediationsIn(t, conn.Namespace)); n != 1 {
		t.Fatalf("%d remediations; the low-risk device must not have one, and further passes none more", n)
	}
	if n, ok := testkit.Gauge(t, metrics.Registry, "mtd_operator_devices", map[string]string{"namespace": conn.Namespace, "name": conn.Name, "risk": "high"}); !ok || n != 1 {
		t.Fatalf("devices gauge (high) = %v (present %v)", n, ok)
	}

	// The user fixes it; the episode resolves. A new threat on the same phone is a new
	// episode with its own remediation.
	if _, err := admin.Remediate(context.Background(), tn.ID, phones[0].IntuneID, ""); err != nil {
		t.Fatal(err)
	}
	remediationClock.Step(2 * time.Second) // a later snapshot says so
	got := waitPhase(t, tr, v1.PhaseResolved)
	if got.Status.RiskObservedAt == nil || !got.Status.RiskObservedAt.Equal(th.DetectedAt) {
		t.Fatalf("riskObservedAt = %v, want the opening snapshot's %v", got.Status.RiskObservedAt, th.DetectedAt)
	}
	detect(t, tn, phones[0].IntuneID, "sideLoadedApplication")
	second := intakeOf(t, conn, phones[0].IntuneID, 2)
	if second.Labels[controllers.LabelEpisode] != "2" {
		t.Fatalf("second episode labels = %v", second.Labels)
	}
	if n := modelledCalls(t) - modelled; n != 0 {
		t.Fatalf("a connector without spec.ues.modelledMobileAPI made %d calls to modelled UES routes", n)
	}
}

// TestRacingIntakePassesCreateOneRemediationPerDevice runs more passes against the
// manager's own: four "replicas" straight against the API server (no cache to hide a
// concurrent create). The episode's name is a function of the device and the episode
// number, so they meet in AlreadyExists.
func TestRacingIntakePassesCreateOneRemediationPerDevice(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 5)
	conn := remediationConnector(t, tn, nil)
	for _, ph := range phones {
		detect(t, tn, ph.IntuneID, "sideLoadedApplication")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &controllers.ThreatSyncReconciler{Client: k8s, Recorder: remediationRecorder, Clients: remediationClients,
				Snapshots: snapshot.NewStore(), Clock: remediationClock}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(conn)}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "one remediation per device", func() (bool, string) {
		n := len(remediationsIn(t, conn.Namespace))
		return n == len(phones), fmt.Sprint(n)
	})
	waitForSyncs(t, conn, 1)
	for _, ph := range phones {
		if n := len(remediationsIn(t, conn.Namespace, client.MatchingLabels{controllers.LabelIntuneDevice: strings.ToLower(ph.IntuneID)})); n != 1 {
			t.Fatalf("device %s has %d remediations", ph.IntuneID, n)
		}
	}
}

// TestModelledAlertsEnrichTheDevicesRemediation: with the opt-in, an alert adds its id,
// type and detail to the episode Intune's risk opened (never a second object), and a
// resolved alert is reflected on it.
func TestModelledAlertsEnrichTheDevicesRemediation(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 1)
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.UES.ModelledMobileAPI = true
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, time.Hour)}
	})
	alert := detect(t, tn, phones[0].IntuneID, "maliciousApplication")
	tr := intakeOf(t, conn, phones[0].IntuneID, 1)
	key := client.ObjectKeyFromObject(tr)
	tr = waitRemediation(t, key, "the alert's detail", func(tr *v1.ThreatRemediation) bool {
		return tr.Spec.Threat != nil && tr.Spec.Threat.AlertID == alert.ID
	})
	if th := tr.Spec.Threat; th.Type != "maliciousApplication" || th.Detail != alert.Detail || th.Risk != "high" ||
		tr.Labels[controllers.LabelThreatType] != "maliciousApplication" || tr.Annotations[controllers.AnnotationAlertStatus] != "active" {
		t.Fatalf("threat = %+v, labels %v, annotations %v", th, tr.Labels, tr.Annotations)
	}
	if _, err := admin.ResolveAlert(context.Background(), tn.ID, alert.ID); err != nil {
		t.Fatal(err)
	}
	waitRemediation(t, key, "alert resolved", func(tr *v1.ThreatRemediation) bool {
		return tr.Annotations[controllers.AnnotationAlertStatus] == "resolved"
	})
	if n := len(remediationsIn(t, conn.Namespace)); n != 1 {
		t.Fatalf("%d remediations for one device's episode", n)
	}
	c := waitFor(t, conn, "the alert cursor", func(c *v1.MTDConnector) bool {
		s := c.Status.ThreatSync
		return s != nil && s.Cursor != nil && !s.Cursor.Time.Before(alert.Modified)
	})
	cursor := c.Status.ThreatSync.Cursor
	waitForSyncs(t, conn, 2)
	if got := getConnector(t, client.ObjectKeyFromObject(conn)).Status.ThreatSync; got == nil || got.Cursor == nil || got.Cursor.Before(cursor) {
		t.Fatalf("after connector resyncs threatSync = %+v, want the cursor %v kept", got, cursor)
	}
}

// TestAlertForAnUnknownDeviceIsDroppedAndCounted: an alert whose device Intune does not
// manage (retired, but the Protect app still reports) ties to no managed device: it is
// dropped and counted, the cursor moves on, and nothing is guessed.
func TestAlertForAnUnknownDeviceIsDroppedAndCounted(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 2)
	g := graphAs(t, tn)
	if err := g.RunDeviceAction(context.Background(), phones[1].IntuneID, "retire", nil); err != nil {
		t.Fatal(err)
	}
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) { c.Spec.UES.ModelledMobileAPI = true })
	labels := map[string]string{"namespace": conn.Namespace, "name": conn.Name, "source": "UESModelledAPI", "reason": "unknown_device"}
	dropped := testkit.Counter(t, metrics.Registry, "mtd_operator_intake_dropped_total", labels)
	stray := detect(t, tn, phones[1].IntuneID, "maliciousApplication")
	waitFor(t, conn, "the cursor past the stray alert", func(c *v1.MTDConnector) bool {
		s := c.Status.ThreatSync
		return s != nil && s.Cursor != nil && !s.Cursor.Time.Before(stray.Modified)
	})
	if n := testkit.Counter(t, metrics.Registry, "mtd_operator_intake_dropped_total", labels); n != dropped+1 {
		t.Fatalf("dropped counter = %v, want %v", n, dropped+1)
	}
	detect(t, tn, phones[0].IntuneID, "maliciousApplication") // the pipeline keeps flowing
	intakeOf(t, conn, phones[0].IntuneID, 1)
	if n := len(remediationsIn(t, conn.Namespace)); n != 1 {
		t.Fatalf("%d remediations; the retired device's alert must open none", n)
	}
}

// TestThousandOpenThreatsCostNoCallsPerThreat measures the intake at scale: 1,000 risky
// devices among 1,200 become 1,000 ThreatRemediations, and at rest each pass costs the
// snapshot's pages (2 of 1,000) and nothing per open threat: no managed device is read
// by id while the remediations wait.
func TestThousandOpenThreatsCostNoCallsPerThreat(t *testing.T) {
	setup := time.Now()
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 1200)
	for _, ph := range phones[:1000] {
		detect(t, tn, ph.IntuneID, "maliciousApplication")
	}
	t.Logf("enrolled and detected in %s", time.Since(setup).Round(time.Millisecond))
	start := time.Now()
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		// The plan waits a day, so the measurement is the intake's, not the steps'.
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, 24*time.Hour)}
	})
	// Polling the connector's count is one small read; listing 1000 objects every 50 ms
	// would load the API server more than the intake does.
	waitFor(t, conn, "activeThreats 1000", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1000 })
	elapsed := time.Since(start)
	if n := len(remediationsIn(t, conn.Namespace)); n != 1000 {
		t.Fatalf("%d remediations for 1000 risky devices", n)
	}
	waitForSyncs(t, conn, 1)
	pages, byID := calls(t, routeDevices), calls(t, routeDevice)
	last := getConnector(t, client.ObjectKeyFromObject(conn)).Status.ThreatSync.SnapshotTime
	const passes = 3
	for i := 0; i < passes; i++ {
		remediationClock.Step(time.Second) // so that each snapshot has its own time
		c := waitFor(t, conn, "another snapshot", func(c *v1.MTDConnector) bool {
			return c.Status.ThreatSync.SnapshotTime != nil && !c.Status.ThreatSync.SnapshotTime.Equal(last)
		})
		last = c.Status.ThreatSync.SnapshotTime
	}
	dp, dd := calls(t, routeDevices)-pages, calls(t, routeDevice)-byID
	// 1,200 devices are 2 pages; allow one pass of slack for a pass under way.
	if dp < 2*passes || dp > 2*(passes+1) || dd != 0 {
		t.Fatalf("over %d snapshots with 1000 open threats: %d device list pages and %d device reads by id; want 2 pages a pass and none by id", passes, dp, dd)
	}
	if n := len(remediationsIn(t, conn.Namespace)); n != 1000 {
		t.Fatalf("%d remediations after further passes", n)
	}
	t.Logf("intake scale: 1200 devices, 1000 risky -> 1000 ThreatRemediations in %s; at rest %d list pages over %d passes, %d reads by id",
		elapsed.Round(time.Millisecond), dp, passes, dd)
}

// waitFor waits until ok holds for the connector.
func waitFor(t *testing.T, conn *v1.MTDConnector, what string, ok func(*v1.MTDConnector) bool) *v1.MTDConnector {
	t.Helper()
	return testkit.WaitObject(t, k8s, client.ObjectKeyFromObject(conn), 60*time.Second, what, func(c *v1.MTDConnector) (bool, string) {
		return ok(c), fmt.Sprintf("threatSync %+v, devices %+v, activeThreats %d", c.Status.ThreatSync, c.Status.Devices, c.Status.ActiveThreats)
	})
}

// TestAlertAheadOfIntunesReportDoesNotResolveEarly: a fast feed (here the modelled
// alerts) opens the episode while UES's report has not yet reached Intune, so Intune
// still calls the device secured and compliant. That earlier "secured" must not close
// it: only a view after Intune has reported the risk may.
func TestAlertAheadOfIntunesReportDoesNotResolveEarly(t *testing.T) {
	ctx := context.Background()
	if _, err := admin.SetReportingDelay(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.SetReportingDelay(ctx, 0) })
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.UES.ModelledMobileAPI = true
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, time.Hour)}
	})
	syncClocks(twinNow(t))
	alert := detect(t, tn, ph.IntuneID, "maliciousApplication")
	tr := intakeOf(t, conn, ph.IntuneID, 1)
	if th := tr.Spec.Threat; th == nil || th.Source != v1.SourceUESModelledAPI || th.AlertID != alert.ID {
		t.Fatalf("threat = %+v; want it opened by the alert", th)
	}
	waitPhase(t, tr, v1.PhasePending)
	for i := 0; i < 3; i++ { // several snapshots with Intune still reporting secured
		remediationClock.Step(2 * time.Second)
		waitForSyncs(t, conn, 1)
	}
	if got := getRemediation(t, client.ObjectKeyFromObject(tr)); got.Status.Phase != v1.PhasePending || got.Status.RiskObservedAt != nil {
		t.Fatalf("before Intune knows: %s, riskObservedAt %v", remediationText(got), got.Status.RiskObservedAt)
	}
	advance(t, time.Hour) // UES's report reaches Intune
	got := waitRemediation(t, client.ObjectKeyFromObject(tr), "Intune's report seen", func(tr *v1.ThreatRemediation) bool {
		return tr.Status.RiskObservedAt != nil && tr.Status.DeviceRisk == v1.RiskHigh
	})
	if got.Status.Phase == v1.PhaseResolved {
		t.Fatalf("resolved while at risk: %s", remediationText(got))
	}
	if _, err := admin.SetReportingDelay(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Remediate(ctx, tn.ID, ph.IntuneID, ""); err != nil {
		t.Fatal(err)
	}
	remediationClock.Step(2 * time.Second)
	waitPhase(t, tr, v1.PhaseResolved)
}

// TestSnapshotFaultsLoseNothingAndOpenNothingTwice: Graph fails while the device
// snapshot is being paged (503s past the client's retries, then a dropped connection);
// the pass fails without opening anything from a partial snapshot, says so in an event,
// and a later pass opens exactly one remediation per risky device. A restarted
// operator (an empty snapshot store, a fresh reconciler) then adds nothing.
func TestSnapshotFaultsLoseNothingAndOpenNothingTwice(t *testing.T) {
	ctx := context.Background()
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 1100) // two pages
	for _, ph := range phones[:40] {
		detect(t, tn, ph.IntuneID, "maliciousApplication")
	}
	unavailable, err := admin.AddFault(ctx, adminapi.Fault{Route: routeDevices, Status: 503, Count: 8})
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := admin.AddFault(ctx, adminapi.Fault{Route: routeDevices, Drop: true, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.ClearFaults(ctx) })
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, 24*time.Hour)}
	})
	waitEvent(t, conn, "ThreatSyncFailed: reading Intune's managed devices")
	waitFor(t, conn, "activeThreats 40", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 40 })
	faults, err := admin.Faults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]int{}
	for _, f := range faults {
		hits[f.ID] = f.Hits
	}
	if hits[unavailable.ID] != 8 || hits[dropped.ID] != 2 {
		t.Fatalf("fault hits = %v, want 8 (503) and 2 (dropped)", hits)
	}
	restarted := &controllers.ThreatSyncReconciler{Client: k8s, Recorder: remediationRecorder, Clients: remediationClients,
		Snapshots: snapshot.NewStore(), Clock: remediationClock}
	for i := 0; i < 2; i++ {
		if _, err := restarted.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(conn)}); err != nil {
			t.Fatal(err)
		}
	}
	trs := remediationsIn(t, conn.Namespace)
	per := map[string]int{}
	for _, tr := range trs {
		per[tr.Labels[controllers.LabelIntuneDevice]]++
	}
	if len(trs) != 40 || len(per) != 40 {
		t.Fatalf("%d remediations over %d devices after the faults and a restart; want 40 on 40", len(trs), len(per))
	}
	t.Logf("snapshot faults: 8 x 503 and 2 dropped connections while paging 1100 devices -> 40 remediations for 40 risky devices, 0 duplicates after a restart")
}

// TestDevicesAreToldApartByManagementMode: the snapshot counts devices by the platform
// whose policy governs them, from Intune's enrolment fields, and a remediation records
// its device's.
func TestDevicesAreToldApartByManagementMode(t *testing.T) {
	tn := riskyTenant(t)
	ctx := context.Background()
	u, err := admin.CreateUser(ctx, tn.ID, adminapi.User{UserPrincipalName: fmt.Sprintf("modes%d@contoso.example", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, e := range []string{"fullyManaged", "dedicated", "workProfile", "deviceAdministrator"} {
		created, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: e, Platform: "Android", OSVersion: "14", UserID: u.ID, Enrollment: e})
		if err != nil {
			t.Fatal(err)
		}
		ids[e] = created.Devices[0].IntuneID
	}
	conn := remediationConnector(t, tn, nil)
	want := map[v1.Platform]int32{v1.PlatformAndroidEnterprise: 2, v1.PlatformAndroidWorkProfile: 1, v1.PlatformAndroid: 1}
	waitFor(t, conn, "devices counted by platform", func(c *v1.MTDConnector) bool {
		return c.Status.Devices != nil && reflect.DeepEqual(c.Status.Devices.Platforms, want)
	})
	syncClocks(time.Now())
	tr := handMade(t, conn, "fully-managed", v1.DeviceReference{IntuneDeviceID: v1.GUID(ids["fullyManaged"])}, step(v1.StepNotify, 0))
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseResolved)
	if got.Status.DevicePlatform != v1.PlatformAndroidEnterprise {
		t.Fatalf("devicePlatform = %q, want AndroidEnterprise", got.Status.DevicePlatform)
	}
}
