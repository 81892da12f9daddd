package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// graphAs is another Graph client for tn: "someone else" changing Intune behind the
// operator's back, and a way to read what Intune holds.
func graphAs(t *testing.T, tn tenant) intune.Client {
	t.Helper()
	c, err := intune.New(context.Background(), intune.Config{
		TenantID: tn.ID, ClientID: tn.ClientID, AuthorityURL: twinEnv["MTD_SIM_AUTHORITY_URL"], GraphURL: twinEnv["MTD_SIM_GRAPH_URL"],
		CABundle: twinCA, Credential: intune.Credential{ClientSecret: tn.Secret}, Limiters: intune.NewLimiters(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func liveConnector(t *testing.T, tn tenant) *intune.Connector {
	t.Helper()
	c, err := graphAs(t, tn).GetConnector(context.Background(), intune.BlackBerryConnectorID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func isTrue(p *bool) bool { return p != nil && *p }

func ready(t *testing.T, conn *v1.MTDConnector) *v1.MTDConnector {
	t.Helper()
	return waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionTrue, controllers.ReasonReady)
}

// waitForSyncs waits until the connector has finished n more successful passes.
func waitForSyncs(t *testing.T, conn *v1.MTDConnector, n int) {
	t.Helper()
	seen := map[string]bool{}
	testkit.Eventually(t, time.Duration(n+2)*3*resync, "further resyncs", func() (bool, string) {
		c := getConnector(t, client.ObjectKeyFromObject(conn))
		if c.Status.LastSyncTime != nil {
			seen[c.Status.LastSyncTime.String()] = true
		}
		return len(seen) > n, c.Status.LastSyncTime.String()
	})
}

func TestFirstSyncConfiguresTheConnector(t *testing.T) {
	tn := newTenant(t, true)
	ns := namespace(t, tn)
	before := liveConnector(t, tn)
	if isTrue(before.Settings.AndroidEnabled) {
		t.Fatal("the twin's fresh connector should start with Android off")
	}
	conn := connectorFor(ns, tn)
	create(t, conn)
	got := ready(t, conn)

	live := liveConnector(t, tn)
	if !isTrue(live.Settings.AndroidEnabled) || !isTrue(live.Settings.IOSEnabled) || !isTrue(live.Settings.AndroidDeviceBlockedOnMissingPartnerData) ||
		live.Settings.PartnerUnresponsivenessThresholdInDays == nil || *live.Settings.PartnerUnresponsivenessThresholdInDays != 7 {
		t.Fatalf("Intune connector not configured as declared: %+v", live.Settings)
	}
	s := got.Status
	if s.ConnectorID != intune.BlackBerryConnectorID || s.PartnerState != "enabled" || s.LastHeartbeatTime == nil || s.LastSyncTime == nil {
		t.Fatalf("status = %+v", s)
	}
	if s.ObservedGeneration != got.Generation {
		t.Fatalf("observedGeneration %d (generation %d)", s.ObservedGeneration, got.Generation)
	}
	// The device counts come from the connector's device snapshot, taken once it is Ready.
	got = waitFor(t, got, "device counts", func(c *v1.MTDConnector) bool { return c.Status.Devices != nil })
	for _, typ := range []string{v1.ConditionIntuneConnected, v1.ConditionUESConnected, v1.ConditionPartnerHealthy, v1.ConditionSynced} {
		waitCondition(t, client.ObjectKeyFromObject(conn), typ, metav1.ConditionTrue, "")
	}
	if !controllerutil.ContainsFinalizer(got, controllers.Finalizer) {
		t.Fatal("no finalizer on a managed connector")
	}
	waitEvent(t, got, "Updated: Corrected Intune connector settings: androidEnabled (want true, have false)")
	if age, ok := testkit.Gauge(t, metrics.Registry, "mtd_operator_partner_heartbeat_age_seconds", map[string]string{"namespace": got.Namespace, "name": got.Name}); !ok || age < 0 {
		t.Fatalf("heartbeat age gauge = %v (present %v)", age, ok)
	}
	if n, ok := testkit.Gauge(t, metrics.Registry, "mtd_operator_devices", map[string]string{"namespace": got.Namespace, "name": got.Name, "risk": "secured"}); !ok || n != float64(got.Status.Devices.Secured) {
		t.Fatalf("devices gauge = %v (present %v), status says %d", n, ok, got.Status.Devices.Secured)
	}
}

func TestDriftIsCorrectedWithinOneResync(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	ready(t, conn)
	patches := calls(t, routePatchConnector)

	// Someone switches iOS off in Intune.
	if _, err := graphAs(t, tn).PatchConnector(context.Background(), intune.BlackBerryConnectorID, intune.ConnectorSettings{IOSEnabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*resync, "iosEnabled put back", func() (bool, string) {
		live := liveConnector(t, tn)
		return isTrue(live.Settings.IOSEnabled), "iosEnabled still off"
	})
	// Theirs and ours: exactly one corrective PATCH.
	if got := calls(t, routePatchConnector) - patches; got != 2 {
		t.Fatalf("PATCH calls = %d, want 2 (the drift and one correction)", got)
	}
}

func TestObserveOnlyReportsDriftWithoutWriting(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	conn.Spec.ManagementPolicy = v1.ManagementPolicyObserveOnly
	patches := calls(t, routePatchConnector)
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonDriftDetected)
	msg := conditionMessage(got.Status.Conditions, v1.ConditionSynced)
	for _, want := range []string{"androidEnabled (want true, have false)", "iosEnabled (want true, have false)"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("drift message %q lacks %q", msg, want)
		}
	}
	waitForSyncs(t, got, 2)
	if n := calls(t, routePatchConnector) - patches; n != 0 {
		t.Fatalf("ObserveOnly made %d PATCH calls", n)
	}
	if controllerutil.ContainsFinalizer(getConnector(t, client.ObjectKeyFromObject(conn)), controllers.Finalizer) {
		t.Fatal("an ObserveOnly connector writes nothing, so needs no finalizer")
	}
	waitEvent(t, got, "DriftDetected: ObserveOnly: Intune differs from the spec in androidEnabled")
}

// conditionMessage is the message of the condition typ, or "".
func conditionMessage(conds []metav1.Condition, typ string) string {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return c.Message
	}
	return ""
}

func TestUnresponsivePartnerIsUnhealthy(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	ready(t, conn)
	ctx := context.Background()
	// The partner stops reporting; a week and a day pass on the twin's clock, beyond the
	// declared 7-day unresponsiveness threshold.
	if err := admin.SetReporting(ctx, tn.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Advance(ctx, 8*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionPartnerHealthy, metav1.ConditionFalse, controllers.ReasonPartnerNotEnabled)
	if got.Status.PartnerState != "unresponsive" {
		t.Fatalf("partnerState = %q, want unresponsive", got.Status.PartnerState)
	}
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonPartnerNotEnabled)
	// Reporting resumes: healthy again.
	if err := admin.SetReporting(ctx, tn.ID, true); err != nil {
		t.Fatal(err)
	}
	ready(t, conn)
	waitEvent(t, got, "PartnerHealthFalse: ")
	waitEvent(t, got, "PartnerHealthTrue: partner enabled")
}

func TestWrongSecretIsTerminalUntilTheSecretIsFixed(t *testing.T) {
	tn := newTenant(t, true)
	ns := namespace(t, tn)
	ctx := context.Background()
	var s corev1Secret
	s.get(t, ns, "intune")
	s.Data["client-secret"] = []byte("wrong-secret-value")
	s.update(t)

	// Intune is already as wanted and nothing is declared, so recovery has nothing to write.
	if _, err := graphAs(t, tn).PatchConnector(ctx, intune.BlackBerryConnectorID, intune.ConnectorSettings{AndroidEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	conn := connectorFor(ns, tn)
	conn.Spec.Intune.ConnectorSettings = nil
	patches := calls(t, routePatchConnector)
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, "AuthenticationFailed")
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionStalled, metav1.ConditionTrue, "AuthenticationFailed")
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionReady); strings.Contains(msg, "wrong-secret-value") || strings.Contains(msg, tn.Secret) {
		t.Fatalf("condition leaks a secret: %s", msg)
	}
	if ev := waitEvent(t, got, "AuthenticationFailed: "); strings.Contains(ev, "wrong-secret-value") || strings.Contains(ev, tn.Secret) {
		t.Fatalf("an event leaks a secret: %s", ev)
	}
	s.get(t, ns, "intune")
	s.Data["client-secret"] = []byte(tn.Secret)
	s.update(t)
	ready(t, conn)
	if n := calls(t, routePatchConnector) - patches; n != 0 {
		t.Fatalf("recovery made %d PATCH calls", n)
	}
}

func TestSecondConnectorForTheSameTenantMakesNoCalls(t *testing.T) {
	tn := newTenant(t, true)
	first := connectorFor(namespace(t, tn), tn)
	create(t, first)
	ready(t, first)

	second := connectorFor(namespace(t, tn), tn)
	second.Spec.Intune.ConnectorSettings.AndroidEnabled = ptr(false) // would fight over Android
	patches := calls(t, routePatchConnector)
	create(t, second)
	got := waitCondition(t, client.ObjectKeyFromObject(second), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonTenantAlreadyManaged)
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionReady); !strings.Contains(msg, first.Namespace+"/"+first.Name) {
		t.Fatalf("message %q does not name the owner", msg)
	}
	waitForSyncs(t, first, 2)
	if n := calls(t, routePatchConnector) - patches; n != 0 {
		t.Fatalf("%d PATCH calls while two connectors share a tenant", n)
	}
	if controllerutil.ContainsFinalizer(got, controllers.Finalizer) {
		t.Fatal("a connector that is not the owner must not take a finalizer")
	}
	// When the owner goes, the other takes over at once and applies its own settings.
	deleteAndWait(t, first, true)
	ready(t, second)
	if live := liveConnector(t, tn); isTrue(live.Settings.AndroidEnabled) {
		t.Fatal("the new owner did not apply its settings")
	}
}

func TestMissingGraphPermissionIsForbiddenNamingIt(t *testing.T) {
	tn := newTenant(t, true)
	ns := namespace(t, tn)
	app, err := admin.CreateApp(context.Background(), tn.ID, adminapi.App{DisplayName: "no service config", Roles: []string{world.RoleConfigReadWrite}})
	if err != nil {
		t.Fatal(err)
	}
	var s corev1Secret
	s.get(t, ns, "intune")
	s.Data["client-secret"] = []byte(app.Secret)
	s.update(t)
	conn := connectorFor(ns, tn)
	conn.Spec.Intune.ClientID = v1.GUID(app.ClientID)
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, "Forbidden")
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionReady); !strings.Contains(msg, "DeviceManagementServiceConfig") {
		t.Fatalf("message %q does not name the missing permission", msg)
	}
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionStalled, metav1.ConditionTrue, "Forbidden")
}

func TestThrottlingStormRequeuesWithoutAHotLoop(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	ready(t, conn)
	ctx := context.Background()
	const retryAfter = 3 // seconds; longer than the client's in-call wait, so it is not slept out
	fault, err := admin.AddFault(ctx, adminapi.Fault{Route: routeGetConnector, Status: 429, RetryAfter: retryAfter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.RemoveFault(ctx, fault.ID) })
	hits := func() int {
		fs, err := admin.Faults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.ID == fault.ID {
				return f.Hits
			}
		}
		return 0
	}
	testkit.Eventually(t, 3*resync, "the first throttled call", func() (bool, string) { return hits() >= 1, "no hit" })
	start, startReconciles := time.Now(), reconciles(t, "mtdconnector")
	testkit.Eventually(t, 4*retryAfter*time.Second, "three more throttled calls", func() (bool, string) { return hits() >= 4, "hits so far" })
	elapsed, n := time.Since(start), reconciles(t, "mtdconnector")-startReconciles
	// Three Retry-After waits separate those calls: a hot loop would make hundreds.
	if elapsed < 3*(retryAfter-1)*time.Second {
		t.Fatalf("3 throttled passes took only %s: Retry-After (%ds) not honoured", elapsed, retryAfter)
	}
	if n > 6 {
		t.Fatalf("%v reconciles in %s of throttling: a hot loop", n, elapsed)
	}
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, "Throttled")
	waitCondition(t, client.ObjectKeyFromObject(got), v1.ConditionReconciling, metav1.ConditionTrue, "Throttled")
	t.Logf("throttling: %d throttled calls in %s took %v reconciles", hits(), elapsed.Round(time.Millisecond), n)
}

func TestSteadyStateMakesOneReadPerCloudAndNoWrites(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	ready(t, conn)
	waitForSyncs(t, conn, 1) // past the first pass's writes
	gets, ues, patches := calls(t, routeGetConnector), calls(t, routeUESProbe), calls(t, routePatchConnector)
	modelled := modelledCalls(t)
	tokens := calls(t, "POST /{tenant}/oauth2/v2.0/token") + calls(t, "POST /ues/auth/v2/token")
	const passes = 3
	waitForSyncs(t, conn, passes)
	dg, du := calls(t, routeGetConnector)-gets, calls(t, routeUESProbe)-ues
	if dm := modelledCalls(t) - modelled; dm != 0 {
		t.Fatalf("a connector without spec.ues.modelledMobileAPI made %d calls to modelled UES routes", dm)
	}
	if dp := calls(t, routePatchConnector) - patches; dp != 0 {
		t.Fatalf("steady state made %d PATCH calls", dp)
	}
	// A status write may land between our reads, so allow one pass of slack.
	if dg < passes || dg > passes+1 || du < passes || du > passes+1 {
		t.Fatalf("over %d passes: %d Graph connector reads, %d UES reads; want one each per pass", passes, dg, du)
	}
	if dt := calls(t, "POST /{tenant}/oauth2/v2.0/token") + calls(t, "POST /ues/auth/v2/token") - tokens; dt != 0 {
		t.Fatalf("steady state fetched %d new tokens; cached tokens must be reused", dt)
	}
	t.Logf("steady state: %d passes, %d Graph reads, %d UES reads, 0 writes, 0 token requests", passes, dg, du)
}

// TestModelledIntegrationStatusIsReadOnlyWithTheOptIn: with spec.ues.modelledMobileAPI
// the connector also reads UES's Intune integration status and judges the link by it;
// a UES tenant linked to another Intune tenant is then TenantMismatch.
func TestModelledIntegrationStatusIsReadOnlyWithTheOptIn(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	conn.Spec.UES.ModelledMobileAPI = true
	before := calls(t, routeIntegration)
	create(t, conn)
	got := ready(t, conn)
	if calls(t, routeIntegration) == before {
		t.Fatal("the opted-in connector never read the modelled integration status")
	}
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionUESConnected); !strings.Contains(msg, "(modelled)") {
		t.Fatalf("UESConnected = %q", msg)
	}

	// Another Intune tenant pointed at the same UES tenant: UES reports its link to tn.
	other := newTenant(t, true)
	wrong := connectorFor(namespace(t, other), other)
	wrong.Name = "wrong-link"
	wrong.Spec.UES = conn.Spec.UES
	wrong.Spec.UES.Credentials = v1.UESCredentials{SecretName: "ues-of-other"}
	if err := k8s.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ues-of-other", Namespace: wrong.Namespace},
		StringData: map[string]string{"app-id": tn.UESAppID, "app-secret": tn.UESAppSecret}}); err != nil {
		t.Fatal(err)
	}
	create(t, wrong)
	waitCondition(t, client.ObjectKeyFromObject(wrong), v1.ConditionUESConnected, metav1.ConditionFalse, controllers.ReasonTenantMismatch)
}

func TestPartnerNotOnboarded(t *testing.T) {
	tn := newTenant(t, false)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionIntuneConnected, metav1.ConditionFalse, controllers.ReasonPartnerNotOnboarded)
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionIntuneConnected); !strings.Contains(msg, "Mobile Threat Defense > Add > BlackBerry Protect Mobile") {
		t.Fatalf("message lacks the admin steps: %s", msg)
	}
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonPartnerNotOnboarded)
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionStalled, metav1.ConditionTrue, controllers.ReasonPartnerNotOnboarded)
	// The administrator onboards the partner; a reconcile request (any annotation change,
	// as `kubectl annotate` does) picks it up without waiting for the slow re-check.
	if err := admin.Onboard(context.Background(), tn.ID, ""); err != nil {
		t.Fatal(err)
	}
	cur := getConnector(t, client.ObjectKeyFromObject(conn))
	cur.Annotations = map[string]string{"mtd.operator.dev/requested-at": time.Now().Format(time.RFC3339Nano)}
	if err := k8s.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	ready(t, conn)
}

func TestSuspendStopsAllCalls(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	conn.Spec.Suspend = true
	gets, ues := calls(t, routeGetConnector), calls(t, routeUESProbe)
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonSuspended)
	// A spec change while suspended is reconciled (observedGeneration moves) without calls.
	got.Spec.ResyncInterval = &metav1.Duration{Duration: time.Minute}
	if err := k8s.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonSuspended)
	if dg, du := calls(t, routeGetConnector)-gets, calls(t, routeUESProbe)-ues; dg != 0 || du != 0 {
		t.Fatalf("a suspended connector made %d Graph and %d UES calls", dg, du)
	}
	cur := getConnector(t, client.ObjectKeyFromObject(conn))
	cur.Spec.Suspend = false
	if err := k8s.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	ready(t, conn)
}

func TestDeletionPolicies(t *testing.T) {
	t.Run("Orphan leaves Intune as it is", func(t *testing.T) {
		tn := newTenant(t, true)
		conn := connectorFor(namespace(t, tn), tn)
		create(t, conn)
		ready(t, conn)
		deleteAndWait(t, conn, true)
		if live := liveConnector(t, tn); !isTrue(live.Settings.AndroidEnabled) || !isTrue(live.Settings.IOSEnabled) {
			t.Fatalf("Orphan changed Intune: %+v", live.Settings)
		}
	})
	t.Run("Delete switches the platforms off and keeps the partner", func(t *testing.T) {
		tn := newTenant(t, true)
		conn := connectorFor(namespace(t, tn), tn)
		conn.Spec.DeletionPolicy = v1.DeletionPolicyDelete
		create(t, conn)
		ready(t, conn)
		deleteAndWait(t, conn, false)
		live := liveConnector(t, tn) // still there: never deleted silently
		if isTrue(live.Settings.AndroidEnabled) || isTrue(live.Settings.IOSEnabled) {
			t.Fatalf("Delete left platforms on: %+v", live.Settings)
		}
	})
	t.Run("waits while a policy refers to it", func(t *testing.T) {
		tn := newTenant(t, true)
		ns := namespace(t, tn)
		conn := connectorFor(ns, tn)
		create(t, conn)
		ready(t, conn)
		policy := &v1.DeviceRiskPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "uses-it", Namespace: ns},
			Spec: v1.DeviceRiskPolicySpec{ConnectorRef: v1.LocalObjectReference{Name: "blackberry"}, DisplayName: "p",
				Platforms: []v1.Platform{v1.PlatformIOS}, MaxAllowedRisk: v1.RiskLow},
		}
		if err := k8s.Create(context.Background(), policy); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Delete(context.Background(), conn); err != nil {
			t.Fatal(err)
		}
		got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonDeletionBlocked)
		if msg := conditionMessage(got.Status.Conditions, v1.ConditionReady); !strings.Contains(msg, "DeviceRiskPolicy uses-it") {
			t.Fatalf("message %q does not name the referrer", msg)
		}
		deleteAndWait(t, policy, false)
		deleteAndWait(t, conn, true)
	})
}
