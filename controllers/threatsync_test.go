package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
)

func TestAlertOpensExactlyOneRemediation(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 2)
	conn := remediationConnector(t, tn, nil)
	alert := detect(t, tn, phones[0].IntuneID, "maliciousApplication")
	low := detect(t, tn, phones[1].IntuneID, "unsafeWifi") // below minimumRisk (high)

	key := client.ObjectKey{Namespace: conn.Namespace, Name: "threat-" + strings.ToLower(alert.ID)}
	tr := waitRemediation(t, key, "created by the threat sync", func(*v1.ThreatRemediation) bool { return true })
	if l := tr.Labels; l[controllers.LabelConnector] != conn.Name || l[controllers.LabelDevice] != strings.ToLower(phones[0].EntraID) || l[controllers.LabelThreatType] != "maliciousApplication" {
		t.Fatalf("labels = %v", l)
	}
	th := tr.Spec.Threat
	if th == nil || th.AlertID != alert.ID || th.Type != "maliciousApplication" || th.Risk != "high" || th.Detail != alert.Detail ||
		th.DetectedAt == nil || !th.DetectedAt.Time.Equal(alert.Created.Truncate(time.Second)) {
		t.Fatalf("threat = %+v, alert %+v", th, alert)
	}
	if d := tr.Spec.Device; string(d.EntraDeviceID) != phones[0].EntraID || string(d.UESDeviceID) != phones[0].UESID {
		t.Fatalf("device = %+v", d)
	}
	if s := tr.Spec.Steps; len(s) != 2 || s[0].Action != v1.StepNotify || s[1].Action != v1.StepSyncDevice || s[1].After.Duration != 15*time.Minute || tr.Spec.Approved {
		t.Fatalf("default plan = %+v approved %v", s, tr.Spec.Approved)
	}

	// The cursor moves past the alerts once their objects exist; the connector
	// reconciler's own status writes (several resyncs) leave it in place.
	c := waitFor(t, conn, "cursor past the alerts", func(c *v1.MTDConnector) bool {
		s := c.Status.ThreatSync
		return s != nil && s.Cursor != nil && s.LastRunTime != nil && !s.Cursor.Time.Before(low.Modified)
	})
	cursor := c.Status.ThreatSync.Cursor
	waitForSyncs(t, conn, 2)
	if got := getConnector(t, client.ObjectKeyFromObject(conn)).Status.ThreatSync; got == nil || got.Cursor == nil || !got.Cursor.Equal(cursor) {
		t.Fatalf("after connector resyncs threatSync = %+v, want cursor %v kept", got, cursor)
	}
	waitFor(t, conn, "activeThreats 1", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1 })
	if n, ok := gauge(t, "mtd_operator_active_threats", map[string]string{"namespace": conn.Namespace, "connector": conn.Name, "type": "maliciousApplication", "risk": "high"}); !ok || n != 1 {
		t.Fatalf("active threats gauge = %v (present %v)", n, ok)
	}
	if n := len(remediationsIn(t, conn.Namespace)); n != 1 {
		t.Fatalf("%d remediations; the low-risk alert must not open one", n)
	}
}

func TestRacingSyncPassesCreateOneRemediationPerAlert(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 5)
	conn := remediationConnector(t, tn, nil)
	var alerts []adminapi.AlertView
	for _, ph := range phones {
		alerts = append(alerts, detect(t, tn, ph.IntuneID, "sideLoadedApplication"))
	}
	// Three more passes race the manager's: two more "replicas" straight against the
	// API server (no cache to hide a concurrent create), each twice.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &controllers.ThreatSyncReconciler{Client: k8s, Recorder: remediationRecorder, Clients: remediationClients, Clock: clock.RealClock{}}
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
	eventually(t, 30*time.Second, "one remediation per alert", func() (bool, string) {
		n := len(remediationsIn(t, conn.Namespace))
		return n == len(alerts), fmt.Sprint(n)
	})
	for _, a := range alerts {
		if n := len(remediationsIn(t, conn.Namespace, client.MatchingLabels{controllers.LabelDevice: strings.ToLower(entraOf(phones, a.DeviceID))})); n != 1 {
			t.Fatalf("device of alert %s has %d remediations", a.ID, n)
		}
	}
}

func entraOf(phones []adminapi.DeviceView, uesID string) string {
	for _, p := range phones {
		if p.UESID == uesID {
			return p.EntraID
		}
	}
	return ""
}

func TestResolvedAlertIsReflectedOnItsRemediation(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 1)
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, time.Hour)}
	})
	alert := detect(t, tn, phones[0].IntuneID, "maliciousApplication")
	key := client.ObjectKey{Namespace: conn.Namespace, Name: "threat-" + strings.ToLower(alert.ID)}
	waitRemediation(t, key, "alert active", func(tr *v1.ThreatRemediation) bool {
		return tr.Annotations[controllers.AnnotationAlertStatus] == "active"
	})
	if _, err := admin.ResolveAlert(context.Background(), tn.ID, alert.ID); err != nil {
		t.Fatal(err)
	}
	waitRemediation(t, key, "alert resolved", func(tr *v1.ThreatRemediation) bool {
		return tr.Annotations[controllers.AnnotationAlertStatus] == "resolved"
	})
}

// TestThousandAlertsSyncWithCallsProportionalToAlerts measures the threat sync at
// scale: 1,000 alerts on 500 devices read in pages of 200, then a trickle of new ones.
func TestThousandAlertsSyncWithCallsProportionalToAlerts(t *testing.T) {
	setup := time.Now()
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 500)
	for _, ph := range phones {
		detect(t, tn, ph.IntuneID, "maliciousApplication")
		detect(t, tn, ph.IntuneID, "sideLoadedApplication")
	}
	t.Logf("enrolled and detected in %s", time.Since(setup).Round(time.Millisecond))
	lists, devReads := calls(t, routeAlerts), calls(t, "GET /ues/mobiledevices/v1")+calls(t, "GET /ues/mobiledevices/v1/{id}")
	start := time.Now()
	conn := remediationConnector(t, tn, func(c *v1.MTDConnector) {
		// The plan waits a day, so the measurement is the sync's, not the steps'.
		c.Spec.ThreatSync.DefaultPlan = []v1.RemediationStep{step(v1.StepNotify, 24*time.Hour)}
	})
	// Polling the connector's count is one small read; listing 1000 objects every 50 ms
	// would load the API server more than the sync does.
	waitFor(t, conn, "activeThreats 1000", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1000 })
	elapsed := time.Since(start)
	if n := len(remediationsIn(t, conn.Namespace)); n != 1000 {
		t.Fatalf("%d remediations for 1000 alerts", n)
	}
	t.Logf("1000 remediations after %s, %d list calls", elapsed.Round(time.Millisecond), calls(t, routeAlerts)-lists)
	c := waitFor(t, conn, "cursor saved", func(c *v1.MTDConnector) bool {
		return c.Status.ThreatSync != nil && c.Status.ThreatSync.Cursor != nil && c.Status.ThreatSync.LastRunTime != nil
	})
	first := calls(t, routeAlerts) - lists
	// 1,000 alerts are 5 pages of 200; every further pass while the objects were being
	// written costs one (empty) page. Per-device reading would be 500 calls or more.
	if first < 5 || first > 5+int64(elapsed/resync)+2 {
		t.Fatalf("importing 1000 alerts took %d UES list calls in %s", first, elapsed)
	}
	if d := calls(t, "GET /ues/mobiledevices/v1") + calls(t, "GET /ues/mobiledevices/v1/{id}") - devReads; d != 0 {
		t.Fatalf("the sync read %d UES devices; it must read alerts only", d)
	}

	// Ten new alerts: each pass reads only what changed since the cursor.
	lists, passStart, trickle := calls(t, routeAlerts), c.Status.ThreatSync.LastRunTime, time.Now()
	for _, ph := range phones[:10] {
		detect(t, tn, ph.IntuneID, "unsafeWifi") // low: read, no object
		detect(t, tn, ph.IntuneID, "maliciousApplication")
	}
	waitFor(t, conn, "activeThreats 1010", func(c *v1.MTDConnector) bool { return c.Status.ActiveThreats == 1010 })
	c = waitFor(t, conn, "a pass after the new alerts", func(c *v1.MTDConnector) bool {
		return c.Status.ThreatSync.LastRunTime.After(passStart.Time)
	})
	more := calls(t, routeAlerts) - lists
	t.Logf("trickle: %d list calls in %s", more, time.Since(trickle).Round(time.Millisecond))
	passes := int64(time.Since(trickle)/resync) + 2
	if more < 1 || more > passes {
		t.Fatalf("20 new alerts took %d list calls", more)
	}
	t.Logf("threat sync scale: 1000 alerts on 500 devices -> 1000 ThreatRemediations in %s with %d UES list calls (5 pages of 200 + idle passes), 0 UES device reads; 20 more alerts -> %d list calls",
		elapsed.Round(time.Millisecond), first, more)
}

// waitFor waits until ok holds for the connector.
func waitFor(t *testing.T, conn *v1.MTDConnector, what string, ok func(*v1.MTDConnector) bool) *v1.MTDConnector {
	t.Helper()
	var c *v1.MTDConnector
	eventually(t, 60*time.Second, what, func() (bool, string) {
		c = getConnector(t, client.ObjectKeyFromObject(conn))
		return ok(c), fmt.Sprintf("threatSync %+v, activeThreats %d", c.Status.ThreatSync, c.Status.ActiveThreats)
	})
	return c
}
