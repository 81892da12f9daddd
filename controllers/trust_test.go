package controllers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// attacker is a listener standing in for a host someone would like the operator's
// credentials sent to; it counts the connections it is offered.
func attacker(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return "https://" + ln.Addr().String(), &n
}

// TestCredentialsAreNeverSentToAHostTheInstallationDoesNotAllow performs the attack of
// the trust issue: a connector in a namespace its author controls, for a made-up tenant,
// pointing the Entra authority, Graph or UES at the attacker's host. Each is refused as
// EndpointNotAllowed before any Secret is used, and the attacker is never connected to.
func TestCredentialsAreNeverSentToAHostTheInstallationDoesNotAllow(t *testing.T) {
	host, hits := attacker(t)
	for _, tc := range []struct {
		name string
		aim  func(*v1.MTDConnector)
	}{
		{"authority", func(c *v1.MTDConnector) { c.Spec.Intune.Endpoints.AuthorityURL = v1.HTTPSURL(host + "/") }},
		{"graph", func(c *v1.MTDConnector) { c.Spec.Intune.Endpoints.GraphURL = v1.HTTPSURL(host + "/v1.0") }},
		{"ues", func(c *v1.MTDConnector) { c.Spec.UES.BaseURL = v1.HTTPSURL(host) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, true)
			conn := connectorFor(namespace(t, tn), tn)
			conn.Spec.Intune.TenantID = "0b0b0b0b-1c1c-4d4d-8e8e-9f9f9f9f9f9f" // someone else's, or made up
			tc.aim(conn)
			tokens := calls(t, "POST /{tenant}/oauth2/v2.0/token") + calls(t, "POST /ues/auth/v2/token")
			create(t, conn)
			got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, credentials.ReasonEndpointNotAllowed)
			waitCondition(t, client.ObjectKeyFromObject(got), v1.ConditionStalled, metav1.ConditionTrue, credentials.ReasonEndpointNotAllowed)
			if n := hits.Load(); n != 0 {
				t.Fatalf("the attacker's host was connected to %d times", n)
			}
			if n := calls(t, "POST /{tenant}/oauth2/v2.0/token") + calls(t, "POST /ues/auth/v2/token") - tokens; n != 0 {
				t.Fatalf("%d token requests for a refused connector", n)
			}
		})
	}
}

// TestTheOperatorsAzureIdentityIsNotLentToOtherNamespaces: workloadIdentity would
// authenticate as the operator's own federated app; the suite's installation names no
// namespace for it, so a connector asking for it is refused and no token is requested.
func TestTheOperatorsAzureIdentityIsNotLentToOtherNamespaces(t *testing.T) {
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	conn.Spec.Intune.Credentials = v1.IntuneCredentials{WorkloadIdentity: &v1.WorkloadIdentityCredential{}}
	tokens := calls(t, "POST /{tenant}/oauth2/v2.0/token")
	create(t, conn)
	got := waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionReady, metav1.ConditionFalse, credentials.ReasonWorkloadIdentityNotAllowed)
	if msg := conditionMessage(got.Status.Conditions, v1.ConditionReady); msg == "" {
		t.Fatal("no message says why")
	}
	if n := calls(t, "POST /{tenant}/oauth2/v2.0/token") - tokens; n != 0 {
		t.Fatalf("%d Entra token requests", n)
	}
}

// TestTheZeroEntraIDTouchesNoDevice: the zero GUID passes the API's GUID check but is
// what Intune shows for every device not registered in Entra (here one such device is
// enrolled). A remediation naming it fails as DeviceNotFound, and no step runs on any
// device: "the first device the filter returned" is never acted on.
func TestTheZeroEntraIDTouchesNoDevice(t *testing.T) {
	tn := riskyTenant(t)
	phones := enrolPhones(t, tn, 1)
	if _, err := admin.CreateDevices(context.Background(), tn.ID, adminapi.Device{DeviceName: "unregistered", Platform: "Android", OSVersion: "14",
		UserID: phones[0].UserID, EntraID: "00000000-0000-0000-0000-000000000000"}); err != nil {
		t.Fatal(err)
	}
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "zero-entra", v1.DeviceReference{EntraDeviceID: "00000000-0000-0000-0000-000000000000"}, step(v1.StepSyncDevice, 0))
	mustCreate(t, tr)
	got := waitPhase(t, tr, v1.PhaseFailed)
	if r := readyReason(got); r != "False/"+controllers.ReasonDeviceNotFound {
		t.Fatalf("Ready = %s: %s", r, conditionsText(got.Status.Conditions))
	}
	if n := callsSince(t, before)[routeSync]; n != 0 {
		t.Fatalf("%d syncDevice calls for a remediation naming no device", n)
	}
	if got.Status.IntuneDeviceID != "" {
		t.Fatalf("resolved to device %s", got.Status.IntuneDeviceID)
	}
}

// TestATenantCannotBeSquatted performs the squat: someone creates a connector naming
// another team's tenant first, with credentials that cannot authenticate. It never owns
// the tenant: the team's own connector, created later, becomes Ready and configures
// Intune, and the squatter then stands aside (TenantAlreadyManaged) and makes no calls.
func TestATenantCannotBeSquatted(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t, true)
	squatNS := namespace(t, tn)
	squatter := connectorFor(squatNS, tn)
	squatter.Name = "squatter"
	squatter.Spec.Intune.Credentials.ClientSecret = &v1.SecretKeyReference{Name: "made-up"}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "made-up", Namespace: squatNS},
		StringData: map[string]string{"client-secret": "not-their-secret"}}); err != nil {
		t.Fatal(err)
	}
	create(t, squatter)
	waitCondition(t, client.ObjectKeyFromObject(squatter), v1.ConditionReady, metav1.ConditionFalse, "AuthenticationFailed")

	owner := connectorFor(namespace(t, tn), tn)
	create(t, owner)
	got := ready(t, owner)
	if got.Status.AuthenticatedAt == nil {
		t.Fatal("the owner's authentication was not recorded")
	}
	if live := liveConnector(t, tn); !isTrue(live.Settings.AndroidEnabled) {
		t.Fatal("the team's connector did not configure its tenant")
	}
	// Wake the squatter: it now finds an authenticated owner and stands aside.
	cur := getConnector(t, client.ObjectKeyFromObject(squatter))
	cur.Annotations = map[string]string{"test.mtd.operator.dev/poke": time.Now().Format(time.RFC3339Nano)}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, client.ObjectKeyFromObject(squatter), v1.ConditionReady, metav1.ConditionFalse, controllers.ReasonTenantAlreadyManaged)
	tokens := calls(t, "POST /{tenant}/oauth2/v2.0/token")
	waitForSyncs(t, owner, 2)
	if n := calls(t, "POST /{tenant}/oauth2/v2.0/token") - tokens; n != 0 {
		t.Fatalf("%d token requests while the squatter stands aside and the owner's token is cached", n)
	}
}

// secretCollections records the manager's list and watch requests for Secrets, with
// whether each asked for metadata only.
var secretCollections collectionRecorder

type collectionRecorder struct {
	mu       sync.Mutex
	full, md int
}

func (c *collectionRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/secrets") {
			c.mu.Lock()
			if strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadata") {
				c.md++
			} else {
				c.full++
			}
			c.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (c *collectionRecorder) counts() (full, metadata int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.full, c.md
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNoSecretValueIsCachedClusterWide: the operator may read every Secret, but it must
// not hold every Secret's value (a cluster with many Helm release Secrets would run it
// out of memory, and the values have no business there). With connectors Ready and a
// rotation seen, the manager has listed and watched Secrets as metadata only, and read
// the referenced ones one by one.
func TestNoSecretValueIsCachedClusterWide(t *testing.T) {
	ctx := context.Background()
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "sh.helm.release.v1.app.v", Namespace: "default"},
		StringData: map[string]string{"release": strings.Repeat("x", 64<<10)}}
	if err := k8s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, other) })
	tn := newTenant(t, true)
	conn := connectorFor(namespace(t, tn), tn)
	create(t, conn)
	ready(t, conn)
	// Rotate the UES secret: the metadata watch sees it and the new value is read.
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: conn.Namespace, Name: "ues"}, &s); err != nil {
		t.Fatal(err)
	}
	s.StringData = map[string]string{"app-secret": "rotated-to-a-wrong-value"}
	if err := k8s.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, client.ObjectKeyFromObject(conn), v1.ConditionUESConnected, metav1.ConditionFalse, "AuthenticationFailed")
	full, md := secretCollections.counts()
	if full != 0 || md == 0 {
		t.Fatalf("the manager made %d full and %d metadata-only list/watch requests for Secrets; want only metadata", full, md)
	}
}

// TestAStepInsertedBeforeOneThatRanRunsNothing performs the trust issue's attack on
// index-keyed records: once syncDevice has run as step 0, someone inserts a wipe before
// it, so that the wipe would inherit step 0's Succeeded record and syncDevice run again.
// The plan is frozen once a step has run: the edit stops the remediation (PlanChanged)
// and nothing more is sent.
func TestAStepInsertedBeforeOneThatRanRunsNothing(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "insert-before", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		step(v1.StepSyncDevice, 0), step(v1.StepRemoteLock, time.Hour))
	mustCreate(t, tr)
	approve(t, tr, v1.Approved, approver)
	got := waitStep(t, tr, 0, v1.StepSucceeded)
	if got.Status.PlanHash == "" {
		t.Fatal("no plan hash once a step ran")
	}
	testkit.Eventually(t, 10*time.Second, "the plan edited", func() (bool, string) {
		cur := getRemediation(t, client.ObjectKeyFromObject(tr))
		cur.Spec.Steps = append([]v1.RemediationStep{step(v1.StepWipe, 0)}, cur.Spec.Steps...)
		err := k8s.Update(context.Background(), cur)
		return err == nil, fmt.Sprint(err)
	})
	got = waitRemediation(t, client.ObjectKeyFromObject(tr), "PlanChanged", func(tr *v1.ThreatRemediation) bool {
		return readyReason(tr) == "False/"+controllers.ReasonPlanChanged
	})
	advance(t, time.Hour, tr) // the lock would be due now
	reconcileOnce(t, freshRemediationReconciler(time.Minute), tr)
	if n := callsSince(t, before); n[routeWipe] != 0 || n[routeSync] != 1 || n[routeLock] != 0 {
		t.Fatalf("after the edit: %v; want the one syncDevice that ran before it, nothing more", n)
	}
	if !meta.IsStatusConditionTrue(getRemediation(t, client.ObjectKeyFromObject(tr)).Status.Conditions, v1.ConditionStalled) {
		t.Fatalf("a changed plan needs a person: %s", conditionsText(got.Status.Conditions))
	}
}

// TestAnApprovalMustComeFromSomeoneElseAndHoldsForOnePlan performs the trust issue's
// approval attacks on the operator's side of the gate (the chart's admission policy,
// tested with real identities in test/chart, refuses them earlier; these checks hold
// where it is not installed):
//   - the requester approves their own wipe;
//   - a wipe is added to a plan after someone else approved it.
//
// Neither sends anything; each approval that cannot stand is cleared with a warning.
func TestAnApprovalMustComeFromSomeoneElseAndHoldsForOnePlan(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)

	self := handMade(t, conn, "self-approved", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)}, step(v1.StepWipe, 0))
	mustCreate(t, self)
	waitStep(t, self, 0, v1.StepAwaitingApproval)
	approve(t, self, v1.Approved, requester)
	got := waitRemediation(t, client.ObjectKeyFromObject(self), "the self-approval cleared", func(tr *v1.ThreatRemediation) bool {
		return tr.Status.Approval == nil && stepState(tr, 0) == v1.StepAwaitingApproval
	})
	waitEvent(t, got, `ApprovalCleared: the Approved by "`+requester+`" was cleared: the requester cannot approve their own plan`)
	reconcileOnce(t, freshRemediationReconciler(time.Minute), self)

	// Approved as a harmless plan (a sync in an hour), then a wipe is added before any
	// step runs: the approval was for the other plan.
	grown := handMade(t, conn, "grown-after-approval", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		v1.RemediationStep{Action: v1.StepSyncDevice, After: &metav1.Duration{Duration: time.Hour}, RequiresApproval: true})
	mustCreate(t, grown)
	approved := approve(t, grown, v1.Approved, approver)
	testkit.Eventually(t, 10*time.Second, "a wipe added to the approved plan", func() (bool, string) {
		cur := getRemediation(t, client.ObjectKeyFromObject(grown))
		cur.Spec.Steps = append([]v1.RemediationStep{step(v1.StepWipe, 0)}, cur.Spec.Steps...)
		err := k8s.Update(context.Background(), cur)
		return err == nil, fmt.Sprint(err)
	})
	got = waitRemediation(t, client.ObjectKeyFromObject(grown), "the approval of the old plan cleared", func(tr *v1.ThreatRemediation) bool {
		return tr.Status.Approval == nil && tr.Status.PlanHash != approved.Status.PlanHash && stepState(tr, 0) == v1.StepAwaitingApproval
	})
	waitEvent(t, got, "was cleared: it was given for plan "+approved.Status.PlanHash+" and the plan is now "+got.Status.PlanHash)
	advance(t, time.Hour, self, grown)
	reconcileOnce(t, freshRemediationReconciler(time.Minute), grown)
	if n := callsSince(t, before); n[routeWipe]+n[routeSync] != 0 {
		t.Fatalf("device actions under approvals that do not hold: %v", n)
	}
	for _, tr := range []*v1.ThreatRemediation{self, grown} {
		if r := readyReason(getRemediation(t, client.ObjectKeyFromObject(tr))); r != "False/"+controllers.ReasonAwaitingApproval {
			t.Fatalf("%s: Ready = %s", tr.Name, r)
		}
	}

	// Someone else's approval of the plan as it now stands releases it.
	approve(t, grown, v1.Approved, approver)
	got = waitStep(t, grown, 0, v1.StepSucceeded)
	if n := callsSince(t, before)[routeWipe]; n != 1 {
		t.Fatalf("wipe calls = %d after a valid approval, want 1", n)
	}
	if msg := stepRecord(got, 0).Message; !strings.Contains(msg, "approved by "+approver) {
		t.Fatalf("the wipe record does not name its approver: %q", msg)
	}
}

// TestADeniedPlanSkipsItsGatedSteps: an approver's "no" skips the steps that needed an
// approval and leaves the rest of the plan, and the threat's follow-up, running.
func TestADeniedPlanSkipsItsGatedSteps(t *testing.T) {
	tn := riskyTenant(t)
	ph := enrolPhones(t, tn, 1)[0]
	conn := remediationConnector(t, tn, nil)
	syncClocks(time.Now())
	before := actionCalls(t)
	tr := handMade(t, conn, "denied", v1.DeviceReference{IntuneDeviceID: v1.GUID(ph.IntuneID)},
		step(v1.StepRemoteLock, 0), step(v1.StepSyncDevice, 0))
	mustCreate(t, tr)
	waitStep(t, tr, 0, v1.StepAwaitingApproval)
	approve(t, tr, v1.Denied, approver)
	got := waitPhase(t, tr, v1.PhaseResolved)
	if rec := stepRecord(got, 0); rec.State != v1.StepSkipped || rec.Message != "not run: denied by "+approver+": ticket INC-1" {
		t.Fatalf("lock record = %+v", rec)
	}
	if n := callsSince(t, before); n[routeLock] != 0 || n[routeSync] != 1 {
		t.Fatalf("device actions = %v; want the sync alone", n)
	}
}
