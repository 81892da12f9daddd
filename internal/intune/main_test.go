package intune_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtest"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// The conformance tests run over real HTTPS against one in-process twin, bound to
// 127.0.0.1, and reset its world between tests. They run one after another: the
// twin's throttling counts per app and tenant.
var (
	twin  *sim.Server
	env   map[string]string
	admin *simclient.Client
	ca    []byte
	ctx   = context.Background()
)

func TestMain(m *testing.M) {
	t, err := simtest.Start(context.Background(), sim.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	twin, env, admin, ca = t.Server, t.Env, t.Admin, t.CA
	code := m.Run()
	twin.Close()
	os.Exit(code)
}

func tenant() string { return env[sim.EnvTenantID] }

// config is the default app's configuration against the twin, with its own limiters
// so that tests do not share rate budgets.
func config() intune.Config {
	return intune.Config{
		TenantID:     tenant(),
		ClientID:     env[sim.EnvClientID],
		Cloud:        intune.CloudPublic,
		AuthorityURL: env[sim.EnvAuthorityURL],
		GraphURL:     env[sim.EnvGraphURL],
		CABundle:     ca,
		Credential:   intune.Credential{ClientSecret: env[sim.EnvClientSecret]},
		Limiters:     intune.NewLimiters(),
	}
}

func newClient(t testing.TB, mod func(*intune.Config)) intune.Client {
	t.Helper()
	cfg := config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := intune.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fresh resets the twin's world, faults and call counts.
func fresh(t testing.TB) {
	t.Helper()
	for _, f := range []func(context.Context) error{admin.Reset, admin.ClearFaults, admin.ResetCalls} {
		if err := f(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	routeConnector = "/v1.0/deviceManagement/mobileThreatDefenseConnectors/{id}"
	routePolicies  = "/v1.0/deviceManagement/deviceCompliancePolicies"
	routePolicy    = routePolicies + "/{id}"
	routeDevices   = "/v1.0/deviceManagement/managedDevices"
	routeToken     = "POST /{tenant}/oauth2/v2.0/token"
)

func fault(t testing.TB, f adminapi.Fault) {
	t.Helper()
	if _, err := admin.AddFault(ctx, f); err != nil {
		t.Fatal(err)
	}
}

// asOutbound insists that err is a classified error of kind k.
func asOutbound(t testing.TB, err error, k outbound.Kind) *outbound.Error {
	t.Helper()
	var e *outbound.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *outbound.Error", err, err)
	}
	if e.Kind != k {
		t.Fatalf("error %v is %s, want %s", err, e.Kind, k)
	}
	return e
}

func enrol(t testing.TB, n int, d adminapi.Device) []adminapi.DeviceView {
	t.Helper()
	u, err := admin.CreateUser(ctx, tenant(), adminapi.User{UserPrincipalName: fmt.Sprintf("user%d@contoso.example", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	d.UserID, d.Count = u.ID, n
	if d.DeviceName == "" {
		d.DeviceName, d.Platform, d.OSVersion = "phone", "Android", "14"
	}
	created, err := admin.CreateDevices(ctx, tenant(), d)
	if err != nil {
		t.Fatal(err)
	}
	if created.Count != n {
		t.Fatalf("enrolled %d devices, want %d", created.Count, n)
	}
	return created.Devices
}

// requestsTotal reads mtd_operator_outbound_requests_total for one label set.
func requestsTotal(t testing.TB, svc, op, code string) float64 {
	t.Helper()
	return testkit.Counter(t, metrics.Registry, "mtd_operator_outbound_requests_total", map[string]string{"service": svc, "operation": op, "code": code})
}

// requeue waits as a controller would before retrying a throttled call.
func requeue(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}
