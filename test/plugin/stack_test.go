package plugin_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/stack"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// The demo's two scenarios on the whole local stack (control plane, chart, twin,
// operator, config/samples), with `kubectl mtd` asked what a user would ask: the
// statuses here are the operator's own, and what the plugin says about access is
// checked against what the twin's Conditional Access decides.

var (
	stackOnce sync.Once
	live      *stack.Stack
	stackErr  error
)

// localStack starts the stack once for the package (stopped by TestMain).
func localStack(t *testing.T) *stack.Stack {
	t.Helper()
	stackOnce.Do(func() {
		ctx := context.Background()
		live, stackErr = stack.Start(ctx, stack.Options{})
		if stackErr != nil {
			return
		}
		cleanups = append(cleanups, live.Close)
		if _, stackErr = live.StartOperator(ctx, "operator"); stackErr == nil {
			stackErr = live.ApplySamples(ctx)
		}
	})
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	return live
}

// onStack is the plugin run against the stack.
func onStack(t *testing.T, st *stack.Stack) *cluster {
	t.Helper()
	return &cluster{kubeconfig: st.AdminKubeconfig, pluginDir: pluginDir(t)}
}

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// pluginDir builds the plugin once for tests that need no seeded cluster.
func pluginDir(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { builtDir, buildErr = buildPlugin() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtDir
}

const (
	exchange   = "00000002-0000-0ff1-ce00-000000000000"
	sharePoint = "00000003-0000-0ff1-ce00-000000000000"
)

func TestWhyOnTheLocalStack(t *testing.T) {
	st := localStack(t)
	c := onStack(t, st)
	ns := stack.SamplesNamespace
	var out string
	testkit.EventuallyEvery(t, 2*time.Minute, time.Second, "the sample connector Ready with a device snapshot and the Protect app inventory", func() (bool, string) {
		out = c.mtd(t, "status", "-n", ns).stdout
		rows := table(t, out)
		return len(rows) == 1 && rows[0]["READY"] == "True" && rows[0]["PARTNER"] == "enabled" && rows[0]["DEVICES"] != "-" &&
			strings.Contains(rows[0]["WITHOUT APP"], "iOS:1/"), out
	})
	t.Logf("$ kubectl mtd status -n %s\n%s", ns, out)

	// The phone without the Protect app has no remediation: why says what the connector knows.
	out = c.ok(t, "why", sim.DemoPhoneWithoutProtect)
	if !strings.Contains(out, "Connector "+stack.SamplesNamespace+"/blackberry lists it among its iOS devices without the Protect app") {
		t.Errorf("why %s:\n%s", sim.DemoPhoneWithoutProtect, out)
	}
	t.Logf("$ kubectl mtd why %s\n%s", sim.DemoPhoneWithoutProtect, out)

	for _, sc := range []struct {
		device, detection, detail, app, access string
	}{
		{"alice-Android-1", "maliciousApplication", "com.flashlight.free (Trojan)", exchange, "blocks Exchange Online, SharePoint Online and 1 company app"},
		{"erin-iOS-1", "manInTheMiddle", `rogue access point "CorpGuest"`, sharePoint, "blocks Exchange Online, SharePoint Online and 1 company app"},
	} {
		t.Run(sc.device, func(t *testing.T) {
			whyOnStack(t, st, c, sc.device, sc.detection, sc.detail, sc.app, sc.access)
		})
	}
}

func whyOnStack(t *testing.T, st *stack.Stack, c *cluster, name, detection, detail, app, access string) {
	ctx := context.Background()
	tenant := st.Sim[sim.EnvTenantID]
	dev := stackDevice(t, st, name)
	allowed := func() bool {
		res, err := st.Admin.AppAccess(ctx, tenant, adminapi.AppAccess{Device: dev.EntraID, User: dev.UserID, App: app})
		return err == nil && res.Allowed
	}
	// Intune blocks a device until the partner's first report (the sample connector's
	// *DeviceBlockedOnMissingPartnerData).
	testkit.EventuallyEvery(t, 2*time.Minute, 500*time.Millisecond, "UES's first report on "+name, func() (bool, string) { return allowed(), "" })
	if _, err := st.Admin.Detect(ctx, tenant, dev.EntraID, adminapi.Detection{Type: detection, Detail: detail}); err != nil {
		t.Fatal(err)
	}
	blocked := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + ` is non-compliant: BlackBerry reports high risk, above policy mobile-threat-level's maxAllowedRisk low \((iOS|AndroidEnterprise|AndroidWorkProfile) compliance policy [0-9a-f-]{36}\); Conditional Access policy "[^"]+" \(enabled\) ` +
		regexp.QuoteMeta(access) + `; remediation (\S+) is (Blocked|AwaitingUser|Escalated|Pending): `)
	var out string
	testkit.EventuallyEvery(t, 2*time.Minute, time.Second, "why to explain the block", func() (bool, string) {
		out = c.ok(t, "why", name)
		return blocked.MatchString(out), out
	})
	t.Logf("$ kubectl mtd why %s\n%s", name, out)
	if allowed() {
		t.Fatalf("the plugin says %s is blocked, the twin's Conditional Access lets it in:\n%s", name, out)
	}
	remediation := blocked.FindStringSubmatch(out)[2]
	if !strings.Contains(out, detection+" "+strconv.Quote(detail)+" high") {
		t.Errorf("why does not say what the threat is (%s %q):\n%s", detection, detail, out)
	}

	if _, err := st.Admin.Remediate(ctx, tenant, dev.EntraID, detection); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyEvery(t, 2*time.Minute, time.Second, "why to say the remediation is resolved", func() (bool, string) {
		out = c.ok(t, "why", name)
		return strings.HasPrefix(out, name+" has no open remediation: its last, "+remediation+", was Resolved"), out
	})
	t.Logf("$ kubectl mtd why %s\n%s", name, out)
	if !allowed() {
		t.Fatalf("the plugin says %s is no longer blocked, the twin still blocks it:\n%s", name, out)
	}
}

func stackDevice(t *testing.T, st *stack.Stack, name string) adminapi.DeviceView {
	t.Helper()
	snap, err := st.Admin.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range snap.Tenants {
		for _, d := range tn.Devices {
			if d.DeviceName == name {
				return d
			}
		}
	}
	t.Fatalf("the twin has no device %s", name)
	return adminapi.DeviceView{}
}
