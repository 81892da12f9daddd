package controllers_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kevents "k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// The remediation tests drive time with two clocks that move together: the twin's
// world clock (alert times, grace periods) and the FakeClock of the remediation
// reconciler. A RequeueAfter computed on the fake clock would wait in real time, so
// after moving both clocks a test pokes the remediations (an annotation change wakes
// the reconciler); nothing sleeps.

var (
	remediationClock     *clocktesting.FakeClock
	remediationClients   controllers.ClientSource
	remediationRecorder  kevents.EventRecorder
	remediationSnapshots *snapshot.Store
	// appInventories is shared by the suite's connector reconciler (which takes the
	// Protect app inventory) and the remediation reconciler (which reads it).
	appInventories = snapshot.NewKeyed[*snapshot.AppInventory]()
)

// clockLead puts the operator's clock this far ahead of the time a test starts from,
// so that what the test creates next (an alert, an object) is already in its past.
const clockLead = time.Minute

// setupRemediation registers the threat sync, the remediation reconciler and the
// active-threats count with the suite's manager.
func setupRemediation(mgr ctrl.Manager, clients controllers.ClientSource) error {
	remediationClock = clocktesting.NewFakeClock(time.Now())
	remediationClients, remediationRecorder = clients, mgr.GetEventRecorder("mtd-operator")
	remediationSnapshots = snapshot.NewStore()
	refreshed := make(chan event.GenericEvent, 64)
	hints := controllers.NewSyslogHints(remediationClock.Now)
	opts := controller.Options{MaxConcurrentReconciles: 4}
	// The intake stamps a device risk episode with the time of the snapshot that saw it:
	// on the remediation clock, so that a plan's "after" is measured as the tests move it.
	sync := &controllers.ThreatSyncReconciler{Client: mgr.GetClient(), Recorder: remediationRecorder, Clients: clients,
		Snapshots: remediationSnapshots, Refreshed: refreshed, Clock: remediationClock, MaxInterval: resync, Operator: operatorUser, Hints: hints}
	if err := sync.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	rem := &controllers.ThreatRemediationReconciler{Client: mgr.GetClient(), Recorder: remediationRecorder, Clients: clients,
		Snapshots: remediationSnapshots, Inventories: appInventories, Refreshed: refreshed, Clock: remediationClock, Approvals: approvalGate}
	if err := rem.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	ports, err := controllers.ParsePorts(syslogPorts)
	if err != nil {
		return err
	}
	reserved, err := controllers.ParsePortReservations(fmt.Sprintf("%d=%s", reservedSyslogPort, reservedNamespace), ports)
	if err != nil {
		return err
	}
	syslogReconciler := &controllers.SyslogReconciler{Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Recorder: remediationRecorder,
		Snapshots: remediationSnapshots, Hints: hints, Clock: remediationClock, Operator: operatorUser, Ports: ports, Reserved: reserved, BindHost: "127.0.0.1"}
	if err := syslogReconciler.SetupWithManager(context.Background(), mgr, opts); err != nil {
		return err
	}
	return (&controllers.ActiveThreatsReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr, opts)
}

// freshRemediationReconciler is another instance, as after a restart or on a second
// replica: nothing in memory, the same API server and clouds.
func freshRemediationReconciler(poll time.Duration) *controllers.ThreatRemediationReconciler {
	return &controllers.ThreatRemediationReconciler{Client: k8s, APIReader: k8s, Recorder: remediationRecorder,
		Clients: remediationClients, Snapshots: remediationSnapshots, Clock: remediationClock, PollInterval: poll, Approvals: approvalGate}
}

// syncClocks sets the operator's clock to from + clockLead: the twin's time for
// remediations opened by alerts, wall time for hand-made ones (whose plan starts at
// the API server's creationTimestamp).
func syncClocks(from time.Time) { remediationClock.SetTime(from.Add(clockLead)) }

func twinNow(t *testing.T) time.Time {
	t.Helper()
	now, err := admin.Now(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// advance moves both clocks by d and pokes the remediations so they look again.
func advance(t *testing.T, d time.Duration, trs ...client.Object) {
	t.Helper()
	if _, err := admin.Advance(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	remediationClock.Step(d)
	for _, tr := range trs {
		poke(t, tr)
	}
}

// poke changes a test annotation, which wakes the remediation reconciler.
func poke(t *testing.T, obj client.Object) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.mtd.operator.dev/poke":%q}}}`, strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := k8s.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// riskyTenant is an onboarded tenant whose UES risk assessment puts malware and
// side-loaded apps at high risk and unsafe Wi-Fi at low.
func riskyTenant(t *testing.T) tenant {
	t.Helper()
	tn := newTenant(t, true)
	if err := admin.SetRiskAssessment(context.Background(), tn.ID, map[string]world.Risk{
		"maliciousApplication": world.RiskHigh, "sideLoadedApplication": world.RiskHigh, "unsafeWifi": world.RiskLow,
	}); err != nil {
		t.Fatal(err)
	}
	return tn
}

// enrolPhones enrols n Android phones of one new user in both clouds.
func enrolPhones(t *testing.T, tn tenant, n int) []adminapi.DeviceView {
	t.Helper()
	ctx := context.Background()
	u, err := admin.CreateUser(ctx, tn.ID, adminapi.User{UserPrincipalName: fmt.Sprintf("user%d@contoso.example", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	created, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: "phone", Platform: "Android", OSVersion: "14", UserID: u.ID, Count: n})
	if err != nil {
		t.Fatal(err)
	}
	return created.Devices
}

func detect(t *testing.T, tn tenant, device, typ string) adminapi.AlertView {
	t.Helper()
	a, err := admin.Detect(context.Background(), tn.ID, device, adminapi.Detection{Type: typ, Detail: "com.example." + typ})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// remediationConnector creates a Ready connector for tn with the threat sync as
// declared by mod. When the test ends its remediations go first, so the connector's
// deletion is not held up by them.
func remediationConnector(t *testing.T, tn tenant, mod func(*v1.MTDConnector)) *v1.MTDConnector {
	t.Helper()
	conn := connectorFor(namespace(t, tn), tn)
	conn.Spec.ThreatSync = v1.ThreatSyncSpec{Enabled: ptr(true), Interval: &metav1.Duration{Duration: 10 * time.Second}}
	if mod != nil {
		mod(conn)
	}
	create(t, conn)
	t.Cleanup(func() {
		// The connector first, which stops its threat sync, then what holds it up.
		ctx := context.Background()
		if err := k8s.Delete(ctx, conn); err != nil {
			t.Error(err)
		}
		testkit.Eventually(t, 60*time.Second, "remediations deleted", func() (bool, string) {
			if err := k8s.DeleteAllOf(ctx, &v1.ThreatRemediation{}, client.InNamespace(conn.Namespace)); err != nil {
				return false, err.Error()
			}
			n := len(remediationsIn(t, conn.Namespace))
			return n == 0, fmt.Sprint(n, " left")
		})
	})
	return ready(t, conn)
}

// intakeOf waits for the intake's remediation of a device's episode and returns it.
func intakeOf(t *testing.T, conn *v1.MTDConnector, intuneID string, episode int) *v1.ThreatRemediation {
	t.Helper()
	key := types.NamespacedName{Namespace: conn.Namespace, Name: fmt.Sprintf("risk-%s-%d", strings.ToLower(intuneID), episode)}
	return waitRemediation(t, key, "opened by the intake", func(*v1.ThreatRemediation) bool { return true })
}

func remediationsIn(t *testing.T, ns string, opts ...client.ListOption) []v1.ThreatRemediation {
	t.Helper()
	var list v1.ThreatRemediationList
	if err := k8s.List(context.Background(), &list, append(opts, client.InNamespace(ns))...); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// mustCreate creates obj; the connector's cleanup removes remediations.
func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// The identities of the approval tests: the chart's admission policies record who wrote a
// plan (the requester) and who approved it; without them, in this suite, the tests write
// both as those policies would.
const (
	operatorUser = "system:serviceaccount:mtd-system:mtd-operator"
	requester    = "alice@contoso.example"
	approver     = "bob@contoso.example"
)

var approvalGate = controllers.ApprovalGate{Operator: operatorUser}

// handMade is a remediation a person (requester) would write, for a device of conn.
func handMade(t *testing.T, conn *v1.MTDConnector, name string, device v1.DeviceReference, steps ...v1.RemediationStep) *v1.ThreatRemediation {
	t.Helper()
	tr := &v1.ThreatRemediation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: conn.Namespace, Annotations: map[string]string{v1.AnnotationRequestedBy: requester}},
		Spec:       v1.ThreatRemediationSpec{ConnectorRef: v1.LocalObjectReference{Name: v1.ObjectName(conn.Name)}, Device: device, Steps: steps},
	}
	return tr
}

func step(a v1.StepAction, after time.Duration) v1.RemediationStep {
	return v1.RemediationStep{Action: a, After: &metav1.Duration{Duration: after}}
}

// approve gives the plan the operator published (status.planHash) a decision by user,
// through the status subresource, as an approver does.
func approve(t *testing.T, tr *v1.ThreatRemediation, d v1.ApprovalDecision, user string) *v1.ThreatRemediation {
	t.Helper()
	var out *v1.ThreatRemediation
	testkit.Eventually(t, 10*time.Second, "the plan "+string(d), func() (bool, string) {
		cur := getRemediation(t, client.ObjectKeyFromObject(tr))
		if cur.Status.PlanHash == "" {
			return false, "no plan hash published yet"
		}
		// A merge patch of the approval alone, as `kubectl patch --subresource=status` sends.
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Status.Approval = &v1.Approval{Decision: d, PlanHash: cur.Status.PlanHash, User: user, Message: "ticket INC-1"}
		err := k8s.Status().Patch(context.Background(), cur, patch)
		out = cur
		return err == nil, fmt.Sprint(err)
	})
	return out
}

func getRemediation(t *testing.T, key types.NamespacedName) *v1.ThreatRemediation {
	t.Helper()
	var tr v1.ThreatRemediation
	if err := k8s.Get(context.Background(), key, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// waitRemediation waits until ok holds for the remediation and returns it.
func waitRemediation(t *testing.T, key types.NamespacedName, what string, ok func(*v1.ThreatRemediation) bool) *v1.ThreatRemediation {
	t.Helper()
	return testkit.WaitObject(t, k8s, key, 30*time.Second, what, func(tr *v1.ThreatRemediation) (bool, string) {
		return ok(tr), remediationText(tr)
	})
}

func waitPhase(t *testing.T, obj client.Object, phase v1.RemediationPhase) *v1.ThreatRemediation {
	t.Helper()
	return waitRemediation(t, client.ObjectKeyFromObject(obj), "phase "+string(phase), func(tr *v1.ThreatRemediation) bool {
		return tr.Status.Phase == phase
	})
}

func waitStep(t *testing.T, obj client.Object, i int, state v1.StepState) *v1.ThreatRemediation {
	t.Helper()
	return waitRemediation(t, client.ObjectKeyFromObject(obj), fmt.Sprintf("step %d %s", i, state), func(tr *v1.ThreatRemediation) bool {
		return stepState(tr, i) == state
	})
}

func stepState(tr *v1.ThreatRemediation, i int) v1.StepState {
	if rec := stepRecord(tr, i); rec != nil {
		return rec.State
	}
	return ""
}

func stepRecord(tr *v1.ThreatRemediation, i int) *v1.StepRecord {
	for j := range tr.Status.Steps {
		if tr.Status.Steps[j].Index == int32(i) {
			return &tr.Status.Steps[j]
		}
	}
	return nil
}

func remediationText(tr *v1.ThreatRemediation) string {
	s := fmt.Sprintf("phase %s; ", tr.Status.Phase)
	for _, r := range tr.Status.Steps {
		s += fmt.Sprintf("[%d %s %s: %s] ", r.Index, r.Action, r.State, r.Message)
	}
	return s + conditionsText(tr.Status.Conditions)
}

func readyReason(tr *v1.ThreatRemediation) string {
	if c := meta.FindStatusCondition(tr.Status.Conditions, v1.ConditionReady); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

// Twin routes of the device actions and the UES alert API.
const (
	routeSync      = "POST /v1.0/deviceManagement/managedDevices/{id}/syncDevice"
	routeLock      = "POST /v1.0/deviceManagement/managedDevices/{id}/remoteLock"
	routeRetire    = "POST /v1.0/deviceManagement/managedDevices/{id}/retire"
	routeWipe      = "POST /v1.0/deviceManagement/managedDevices/{id}/wipe"
	routeAlerts    = "GET /ues/mobilealerts/v1"
	routeIgnore    = "POST /ues/mobilealerts/v1/{id}/ignore"
	routeUserGroup = "GET /v1.0/users/{id}/memberOf"
)

// actionCalls snapshots the device action counts, to compare after.
func actionCalls(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range []string{routeSync, routeLock, routeRetire, routeWipe, routeIgnore} {
		out[r] = calls(t, r)
	}
	return out
}

// callsSince reports how many calls each route got since the snapshot.
func callsSince(t *testing.T, before map[string]int64) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for r, n := range actionCalls(t) {
		out[r] = n - before[r]
	}
	return out
}

func reconcileOnce(t *testing.T, r *controllers.ThreatRemediationReconciler, obj client.Object) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// histogramCount reads the sample count of an unlabelled histogram.
func histogramCount(t *testing.T, name string, labels map[string]string) uint64 {
	t.Helper()
	return testkit.Metric(t, metrics.Registry, name, labels).GetHistogram().GetSampleCount()
}
