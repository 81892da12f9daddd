package controllers_test

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtest"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// The suite runs the real thing end to end in one process: a kube-apiserver and etcd
// built from source, the twin over HTTPS, the real Intune (msgraph-sdk-go) and UES
// clients, and the reconcilers in a controller-runtime manager. Each test gets its own
// Intune tenant in the twin and its own namespace, so tests cannot see each other.

// resync caps every connector's resync in the suite, so "within one resync" is quick.
const resync = 2 * time.Second

var (
	kube    *testenv.Env
	k8s     client.Client
	twin    *sim.Server
	admin   *simclient.Client
	twinCA  []byte
	twinEnv map[string]string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if decisionsOnly() {
		os.Exit(m.Run()) // pure unit tests: no control plane, no twin (make test-unit)
	}
	os.Exit(run(m))
}

// decisionsOnly says whether -run selects only the pure decision tests (TestDecide...,
// in package controllers), which need neither the control plane nor the twin.
func decisionsOnly() bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.HasPrefix(f.Value.String(), "^TestDecide")
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	if kube, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = kube.Stop() }()
	k8s = kube.Client
	// The twin serves the modelled UES routes too, so that the tests of the opt-in
	// (spec.ues.modelledMobileAPI) can run; every other connector must never call them,
	// which the tests check by the twin's call counts. The documented-only twin (a real
	// tenant's shape) is the e2e suite's and the demo's default.
	t, err := simtest.Start(ctx, sim.Options{ModelledUES: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer t.Close()
	twin, twinEnv, admin, twinCA = t.Server, t.Env, t.Admin, t.CA

	ctrl.SetLogger(logr.Discard())
	mgrConfig := rest.CopyConfig(kube.Config)
	mgrConfig.WrapTransport = secretCollections.wrap
	mgr, err := ctrl.NewManager(mgrConfig, ctrl.Options{
		Scheme:                 kube.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := controllers.SetupIndexes(ctx, mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The twin is the one endpoint override this installation allows.
	twinURL, err := url.Parse(twinEnv[sim.EnvGraphURL])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cache := credentials.NewCache(credentials.NewReferencedReader(mgr.GetClient(), mgr.GetAPIReader()), credentials.Factories{Intune: intune.New, UES: ues.New}).
		WithPolicy(credentials.Policy{EndpointHosts: []string{twinURL.Host}})
	cr := &controllers.MTDConnectorReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("mtd-operator"), Clients: cache,
		Clock: clock.RealClock{}, MaxResync: resync, Inventories: appInventories,
	}
	if err := cr.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 4}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pr := &controllers.DeviceRiskPolicyReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("mtd-operator"), Clients: cache,
		Clock: clock.RealClock{}, MaxResync: resync,
	}
	if err := pr.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 4}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setupRemediation(mgr, cache); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(mgrCtx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	code := m.Run()
	// Stop the manager before the control plane, or its watches hold the shutdown up.
	stopMgr()
	<-stopped
	return code
}

// tenant is one Intune tenant in the twin with the operator's app registration and a
// UES API application.
type tenant struct {
	ID, UESID              string
	ClientID, Secret       string
	UESAppID, UESAppSecret string
}

func newTenant(t *testing.T, onboard bool) tenant {
	t.Helper()
	ctx := context.Background()
	info, err := admin.CreateTenant(ctx, adminapi.Tenant{DisplayName: t.Name(), Onboard: onboard})
	if err != nil {
		t.Fatal(err)
	}
	app, err := admin.CreateApp(ctx, info.ID, adminapi.App{DisplayName: "mtd-operator", Roles: world.OperatorRoles})
	if err != nil {
		t.Fatal(err)
	}
	uapp, err := admin.CreateUESApp(ctx, info.ID, adminapi.UESApp{Name: "mtd-operator"})
	if err != nil {
		t.Fatal(err)
	}
	return tenant{ID: info.ID, UESID: info.UESTenantID, ClientID: app.ClientID, Secret: app.Secret, UESAppID: uapp.ID, UESAppSecret: uapp.Secret}
}

// namespace makes a namespace holding the tenant's credentials and the twin's CA.
func namespace(t *testing.T, tn tenant) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "mtd-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "intune", Namespace: ns.Name}, StringData: map[string]string{"client-secret": tn.Secret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ues", Namespace: ns.Name}, StringData: map[string]string{"app-id": tn.UESAppID, "app-secret": tn.UESAppSecret}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "twin-ca", Namespace: ns.Name}, Data: map[string]string{"ca.crt": string(twinCA)}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return ns.Name
}

func ptr[T any](v T) *T { return &v }

// connectorFor declares a connector for tn pointed at the twin, with some settings.
func connectorFor(ns string, tn tenant) *v1.MTDConnector {
	ca := &v1.CABundleReference{Kind: v1.CABundleConfigMap, Name: "twin-ca"}
	return &v1.MTDConnector{
		ObjectMeta: metav1.ObjectMeta{Name: "blackberry", Namespace: ns},
		Spec: v1.MTDConnectorSpec{
			Intune: v1.IntuneSpec{
				TenantID: v1.GUID(tn.ID), ClientID: v1.GUID(tn.ClientID),
				Endpoints: &v1.IntuneEndpoints{AuthorityURL: v1.HTTPSURL(twinEnv[sim.EnvAuthorityURL]), GraphURL: v1.HTTPSURL(twinEnv[sim.EnvGraphURL])},
				CABundle:  ca,
				Credentials: v1.IntuneCredentials{
					ClientSecret: &v1.SecretKeyReference{Name: "intune"},
				},
				ConnectorSettings: &v1.ConnectorSettings{
					AndroidEnabled: ptr(true), IOSEnabled: ptr(true),
					AndroidDeviceBlockedOnMissingPartnerData: ptr(true),
					PartnerUnresponsivenessThresholdInDays:   ptr(int32(7)),
				},
			},
			UES: v1.UESSpec{
				BaseURL: v1.HTTPSURL(twinEnv[sim.EnvUESURL]), TenantID: v1.GUID(tn.UESID), CABundle: ca,
				Credentials: v1.UESCredentials{SecretName: "ues"},
			},
			ThreatSync: v1.ThreatSyncSpec{Enabled: ptr(false)},
		},
	}
}

// create creates obj and, at the end of the test, deletes it as an orphan so that it
// makes no further calls to the twin.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj, true) })
}

func deleteAndWait(t *testing.T, obj client.Object, orphan bool) {
	t.Helper()
	ctx := context.Background()
	if c, ok := obj.(*v1.MTDConnector); ok && orphan {
		var cur v1.MTDConnector
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), &cur); err == nil && cur.Spec.DeletionPolicy != v1.DeletionPolicyOrphan {
			cur.Spec.DeletionPolicy = v1.DeletionPolicyOrphan
			_ = k8s.Update(ctx, &cur)
		}
	}
	if err := k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "deleted "+obj.GetName(), func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object))
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func getConnector(t *testing.T, key types.NamespacedName) *v1.MTDConnector {
	t.Helper()
	var c v1.MTDConnector
	if err := k8s.Get(context.Background(), key, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// waitCondition waits until the connector's condition typ has status and reason.
func waitCondition(t *testing.T, key types.NamespacedName, typ string, status metav1.ConditionStatus, reason string) *v1.MTDConnector {
	t.Helper()
	return testkit.WaitObject(t, k8s, key, 30*time.Second, fmt.Sprintf("%s=%s/%s", typ, status, reason), func(c *v1.MTDConnector) (bool, string) {
		return conditionHolds(c.Status.Conditions, c.Generation, typ, status, reason)
	})
}

// conditionHolds says whether conds have typ at status (and reason, unless it is
// empty) for generation; its state is all of conds.
func conditionHolds(conds []metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason string) (bool, string) {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return false, "no condition; conditions: " + conditionsText(conds)
	}
	return c.Status == status && (reason == "" || c.Reason == reason) && c.ObservedGeneration == generation, conditionsText(conds)
}

func conditionsText(cs []metav1.Condition) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%s=%s %s: %s] ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// calls reads the twin's call count of one route, all tenants together: each test
// deletes its connectors when it ends, so within a test the deltas are its own.
func calls(t *testing.T, route string) int64 {
	t.Helper()
	return testkit.Calls(t, admin, route)
}

const (
	routeGetConnector   = "GET /v1.0/deviceManagement/mobileThreatDefenseConnectors/{id}"
	routePatchConnector = "PATCH /v1.0/deviceManagement/mobileThreatDefenseConnectors/{id}"
	routeIntegration    = "GET /ues/integrations/v1/intune"
	routeUESProbe       = "GET /ues/devices/v2"
	routeDevices        = "GET /v1.0/deviceManagement/managedDevices"
	routeDevice         = "GET /v1.0/deviceManagement/managedDevices/{id}"
)

// modelledRoutes are the UES routes only the twin serves: a connector that does not
// opt into the modelled API must never call them.
var modelledRoutes = []string{routeIntegration, "GET /ues/mobilealerts/v1", "GET /ues/mobilealerts/v1/{id}", "POST /ues/mobilealerts/v1/{id}/ignore",
	"GET /ues/mobiledevices/v1", "GET /ues/mobiledevices/v1/{id}", "GET /ues/mobilepolicies/v1/riskassessment", "PUT /ues/mobilepolicies/v1/riskassessment"}

// modelledCalls sums the calls to every modelled route.
func modelledCalls(t *testing.T) int64 {
	t.Helper()
	var n int64
	for _, r := range modelledRoutes {
		n += calls(t, r)
	}
	return n
}

// reconciles reads controller-runtime's count of finished reconciles of a controller.
func reconciles(t *testing.T, name string) float64 {
	t.Helper()
	return testkit.CounterSum(t, metrics.Registry, "controller_runtime_reconcile_total", map[string]string{"controller": name})
}

// waitEvent waits for an event about obj whose "reason: message" contains want, and
// returns all such events (they are recorded asynchronously).
func waitEvent(t *testing.T, obj client.Object, want string) string {
	t.Helper()
	var all string
	testkit.Eventually(t, 15*time.Second, "event "+want, func() (bool, string) {
		all = strings.Join(events(t, obj), "\n")
		return strings.Contains(all, want), all
	})
	return all
}

// events lists the Kubernetes events about an object.
func events(t *testing.T, obj client.Object) []string {
	t.Helper()
	var list corev1.EventList
	// events.k8s.io events are readable through the core API too.
	if err := k8s.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.UID == obj.GetUID() || e.InvolvedObject.Name == obj.GetName() {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}
