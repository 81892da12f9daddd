// Package e2e runs the product end to end: the operator and twin binaries, the Helm
// chart installed into a real control plane, the operator running with only the
// chart's ServiceAccount token, the samples applied with real kubectl, and the product
// page's scenarios checked through kubectl output and the twin's access checks.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/stack"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

var (
	st     *stack.Stack
	leader *stack.Operator
	ctx    = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	st, err = stack.Start(ctx, stack.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the stack:", err)
		return 1
	}
	defer st.Close()
	if leader, err = st.StartOperator(ctx, "operator-a"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := st.ApplySamples(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		for _, f := range []string{"operator-a.log", "operator-b.log"} {
			if data, err := os.ReadFile(st.Dir + "/" + f); err == nil {
				fmt.Fprintf(os.Stderr, "---- %s (last 40 lines)\n%s\n", f, tail(string(data), 40))
			}
		}
	}
	return code
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := st.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually waits up to two minutes for cond (the operator runs as a separate process
// here, sharing two cores with everything else), looking every 200ms: a look is often
// a kubectl process.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.EventuallyEvery(t, 2*time.Minute, 200*time.Millisecond, what, cond)
}

// kstatus computes what Flux and `kubectl wait`-style tooling see for an object.
func kstatus(t *testing.T, kind, name string) (status.Status, string) {
	t.Helper()
	out := kubectl(t, "get", kind, name, "-n", stack.SamplesNamespace, "-o", "json")
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(out)); err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status, res.Message
}

func waitStatus(t *testing.T, kind, name string, want status.Status) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s/%s to be %s", kind, name, want), func() (bool, string) {
		got, msg := kstatus(t, kind, name)
		return got == want, string(got) + ": " + msg + "\n" + kubectl(t, "get", kind, name, "-n", stack.SamplesNamespace, "-o", "wide")
	})
}

func tenant() string { return st.Sim[sim.EnvTenantID] }

// device finds a seeded device by name.
func device(t *testing.T, name string) adminapi.DeviceView {
	t.Helper()
	snap, err := st.Admin.Snapshot(ctx)
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
	t.Fatalf("no device %s in the twin", name)
	return adminapi.DeviceView{}
}

func appAllowed(t *testing.T, dev adminapi.DeviceView, app string) bool {
	t.Helper()
	res, err := st.Admin.AppAccess(ctx, tenant(), adminapi.AppAccess{Device: dev.EntraID, User: dev.UserID, App: app})
	if err != nil {
		t.Fatal(err)
	}
	return res.Allowed
}

func wifiAllowed(t *testing.T, dev adminapi.DeviceView) bool {
	t.Helper()
	res, err := st.Admin.NetworkAccess(ctx, tenant(), adminapi.NetworkAccess{Device: dev.EntraID})
	if err != nil {
		t.Fatal(err)
	}
	return res.Allowed
}

const (
	exchange   = "00000002-0000-0ff1-ce00-000000000000"
	sharePoint = "00000003-0000-0ff1-ce00-000000000000"
)

// TestSamplesBecomeCurrent: on the documented surfaces alone (the twin serves no
// modelled UES route), the samples become Current, and the operator never asks for a
// modelled route.
func TestSamplesBecomeCurrent(t *testing.T) {
	waitStatus(t, "mtdconnector", "blackberry", status.CurrentStatus)
	waitStatus(t, "deviceriskpolicy", "mobile-threat-level", status.CurrentStatus)
	cs, err := st.Admin.Calls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for route, c := range cs {
		if strings.HasPrefix(route, "GET /ues/") && !strings.HasPrefix(route, "GET /ues/devices/v2") && c.Calls > 0 {
			t.Errorf("the operator called %s %d times: only documented UES routes may be used", route, c.Calls)
		}
	}
	if cs["GET /ues/devices/v2"].Calls == 0 || cs["GET /v1.0/deviceManagement/managedDevices"].Calls == 0 {
		t.Errorf("expected the documented UES probe and the Intune device snapshot, got %v", cs)
	}
	ra := kubectl(t, "get", "deviceriskpolicy", "mobile-threat-level", "-n", stack.SamplesNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="RiskAssessment")].reason}`)
	if ra != "ConsoleOnly" {
		t.Errorf("RiskAssessment reason = %q, want ConsoleOnly (the assessment is set in the UES console)", ra)
	}
	out := kubectl(t, "get", "mtdconnectors,deviceriskpolicies", "-n", stack.SamplesNamespace)
	for _, want := range []string{"blackberry", "True", "Ready", "enabled", "mobile-threat-level", "low"} {
		if !strings.Contains(out, want) {
			t.Fatalf("kubectl get lacks %q:\n%s", want, out)
		}
	}
	t.Logf("kubectl get:\n%s", out)
}

// remediationOf waits for the ThreatRemediation the intake opened for a device and
// returns its name. It must come from Intune's device risk: the twin serves no
// modelled UES route, as a real tenant serves none.
// remediationOf waits for the device's open ThreatRemediation and checks that it says
// what the threat is, from UES's syslog feed: the alert reaches the operator within
// seconds, before UES's next report to Intune (the twin's report delay).
func remediationOf(t *testing.T, dev adminapi.DeviceView, wantType, wantDetail string) string {
	t.Helper()
	var name string
	eventually(t, "a ThreatRemediation saying what the threat on "+dev.DeviceName+" is", func() (bool, string) {
		out, err := st.Kubectl(ctx, "get", "threatremediations", "-n", stack.SamplesNamespace,
			"-l", "mtd.operator.dev/intune-device="+strings.ToLower(dev.IntuneID),
			"-o", `jsonpath={range .items[?(@.status.phase!="Resolved")]}{.metadata.name}|{.spec.threat.source}|{.spec.threat.type}|{.spec.threat.detail}{"\n"}{end}`)
		fields := strings.Split(strings.TrimSpace(out), "|")
		if err != nil || len(fields) != 4 {
			return false, out + fmt.Sprint(err)
		}
		name = fields[0]
		return fields[1] == "UESSyslog" && fields[2] == wantType && fields[3] == wantDetail, out
	})
	return name
}

// blocked waits until the device may reach none of apps (nor the Wi-Fi, when asked):
// UES reports risk to Intune after the twin's report delay, as the real integration
// reports periodically.
func blocked(t *testing.T, dev adminapi.DeviceView, wifi bool, apps ...string) {
	t.Helper()
	access(t, dev, false, wifi, apps...)
}

func allowed(t *testing.T, dev adminapi.DeviceView, wifi bool, apps ...string) {
	t.Helper()
	access(t, dev, true, wifi, apps...)
}

func access(t *testing.T, dev adminapi.DeviceView, want, wifi bool, apps ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s access allowed=%v to %v (wifi %v)", dev.DeviceName, want, apps, wifi), func() (bool, string) {
		for _, a := range apps {
			if appAllowed(t, dev, a) != want {
				return false, a
			}
		}
		return !wifi || wifiAllowed(t, dev) == want, "wifi"
	})
}

func resolved(t *testing.T, name string) {
	t.Helper()
	eventually(t, "the remediation Resolved", func() (bool, string) {
		out := kubectl(t, "get", "threatremediation", name, "-n", stack.SamplesNamespace, "-o", "jsonpath={.status.phase} {.status.conditions[?(@.type==\"Ready\")].reason}")
		return out == "Resolved ThreatResolved", out
	})
}

// TestMaliciousAppScenario is the product page's first scenario: a malicious app is
// detected, the device loses e-mail, SharePoint/OneDrive and company apps, a
// ThreatRemediation, opened from UES's syslog feed, says which app it is, and removing
// the app brings access back.
func TestMaliciousAppScenario(t *testing.T) {
	waitStatus(t, "deviceriskpolicy", "mobile-threat-level", status.CurrentStatus)
	phone := device(t, "alice-Android-1")
	allowed(t, phone, false, exchange, sharePoint)
	if _, err := st.Admin.Detect(ctx, tenant(), phone.EntraID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.flashlight.free (Trojan)"}); err != nil {
		t.Fatal(err)
	}
	name := remediationOf(t, phone, "maliciousApplication", "com.flashlight.free (Trojan)")
	blocked(t, phone, false, exchange, sharePoint)
	if _, err := st.Admin.Remediate(ctx, tenant(), phone.EntraID, "maliciousApplication"); err != nil {
		t.Fatal(err)
	}
	allowed(t, phone, false, exchange, sharePoint)
	resolved(t, name)
	t.Logf("kubectl get tr:\n%s", kubectl(t, "get", "threatremediations", "-n", stack.SamplesNamespace, "-o", "wide"))
}

// TestManInTheMiddleScenario is the product page's network scenarios: a
// man-in-the-middle detection blocks the corporate Wi-Fi and SharePoint until the user
// leaves the network.
func TestManInTheMiddleScenario(t *testing.T) {
	waitStatus(t, "deviceriskpolicy", "mobile-threat-level", status.CurrentStatus)
	phone := device(t, "erin-iOS-1")
	allowed(t, phone, true, sharePoint)
	if _, err := st.Admin.Detect(ctx, tenant(), phone.EntraID, adminapi.Detection{Type: "manInTheMiddle", Detail: "rogue access point CorpGuest"}); err != nil {
		t.Fatal(err)
	}
	name := remediationOf(t, phone, "manInTheMiddle", "rogue access point CorpGuest")
	blocked(t, phone, true, sharePoint)
	if _, err := st.Admin.Remediate(ctx, tenant(), phone.EntraID, "manInTheMiddle"); err != nil {
		t.Fatal(err)
	}
	allowed(t, phone, true, sharePoint)
	resolved(t, name)
}

// TestKstatusSeesProgressAndFailure: a policy waiting for its connector is InProgress;
// a connector with a wrong secret is Failed, for Flux and Argo CD alike.
func TestKstatusSeesProgressAndFailure(t *testing.T) {
	waiting := `apiVersion: mtd.operator.dev/v1alpha1
kind: DeviceRiskPolicy
metadata: {name: waits-for-connector, namespace: ` + stack.SamplesNamespace + `}
spec:
  connectorRef: {name: not-yet}
  displayName: waiting
  platforms: [iOS]
  maxAllowedRisk: low
`
	apply(t, waiting)
	waitStatus(t, "deviceriskpolicy", "waits-for-connector", status.InProgressStatus)
	kubectl(t, "delete", "deviceriskpolicy", "waits-for-connector", "-n", stack.SamplesNamespace, "--wait=true")

	broken := `apiVersion: v1
kind: Secret
metadata: {name: wrong-secret, namespace: ` + stack.SamplesNamespace + `}
stringData: {client-secret: not-the-secret}
---
apiVersion: mtd.operator.dev/v1alpha1
kind: MTDConnector
metadata: {name: broken, namespace: ` + stack.SamplesNamespace + `}
spec:
  suspend: false
  intune:
    tenantID: 11111111-2222-3333-4444-555555555555
    clientID: ` + stack.SampleClientID + `
    endpoints: {authorityURL: "` + st.Sim[sim.EnvAuthorityURL] + `", graphURL: "` + st.Sim[sim.EnvGraphURL] + `"}
    caBundle: {name: twin-ca}
    credentials: {clientSecret: {name: wrong-secret}}
  ues:
    baseURL: "` + st.Sim[sim.EnvUESURL] + `"
    tenantID: ` + stack.SampleUESTenantID + `
    caBundle: {name: twin-ca}
    credentials: {secretName: ues-api-credentials}
  threatSync: {enabled: false}
`
	apply(t, broken)
	waitStatus(t, "mtdconnector", "broken", status.FailedStatus)
	kubectl(t, "delete", "mtdconnector", "broken", "-n", stack.SamplesNamespace, "--wait=true")
}

func apply(t *testing.T, manifest string) {
	t.Helper()
	f, err := os.CreateTemp(st.Dir, "manifest-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(manifest); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	kubectl(t, "apply", "-f", f.Name())
}

// approver is granted the chart's approver role in the samples' namespace; the samples
// are written by the cluster admin.
const approver = "secops-lead@contoso.example"

// approveAsAnotherPerson approves the remediation's plan as approver, through the status
// subresource, once the operator has published its hash, after checking that the plan's
// requester (the cluster admin, who may do anything else) cannot approve it.
func approveAsAnotherPerson(t *testing.T, name string) {
	t.Helper()
	kubectl(t, "create", "rolebinding", "approver-"+name, "-n", stack.SamplesNamespace, "--clusterrole="+stack.Release+"-approver", "--user="+approver)
	var hash string
	eventually(t, "the plan's hash published", func() (bool, string) {
		hash = kubectl(t, "get", "threatremediation", name, "-n", stack.SamplesNamespace, "-o", "jsonpath={.status.planHash}")
		return hash != "", "no status.planHash yet"
	})
	patch := `{"status":{"approval":{"decision":"Approved","planHash":"` + hash + `","message":"e2e"}}}`
	args := []string{"patch", "threatremediation", name, "-n", stack.SamplesNamespace, "--subresource=status", "--type=merge", "-p", patch}
	if out, err := st.Kubectl(ctx, args...); err == nil || !strings.Contains(err.Error()+out, "cannot approve it") {
		t.Fatalf("the requester approving their own plan: %v %s", err, out)
	}
	kubectl(t, append([]string{"--as=" + approver}, args...)...)
	if got := kubectl(t, "get", "threatremediation", name, "-n", stack.SamplesNamespace, "-o", "jsonpath={.status.approval.user}"); got != approver {
		t.Fatalf("approval.user = %q, want %q", got, approver)
	}
}

func deviceActionCalls(t *testing.T, action string) int64 {
	t.Helper()
	return testkit.Calls(t, st.Admin, "POST /v1.0/deviceManagement/managedDevices/{id}/"+action)
}

// TestLeaderFailoverRunsNoStepTwice runs a second replica, kills the leader in the
// middle of a plan, and checks that the other takes over and that each device action
// ran exactly once.
func TestLeaderFailoverRunsNoStepTwice(t *testing.T) {
	standby, err := st.StartOperator(ctx, "operator-b")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "operator-a to lead", func() (bool, string) {
		h, err := st.Leader(ctx)
		return err == nil && h != "", h
	})
	syncs, locks := deviceActionCalls(t, "syncDevice"), deviceActionCalls(t, "remoteLock")
	phone := device(t, "bob-Android-1")
	plan := `apiVersion: mtd.operator.dev/v1alpha1
kind: ThreatRemediation
metadata: {name: failover, namespace: ` + stack.SamplesNamespace + `}
spec:
  connectorRef: {name: blackberry}
  device: {entraDeviceID: ` + phone.EntraID + `}
  steps:
  - action: syncDevice
  - action: remoteLock
    after: 8s
`
	apply(t, plan)
	approveAsAnotherPerson(t, "failover")
	eventually(t, "the first step", func() (bool, string) {
		return deviceActionCalls(t, "syncDevice") > syncs, "no syncDevice yet"
	})
	before, _ := st.Leader(ctx)
	leader.Kill() // mid-plan: remoteLock is not due yet
	eventually(t, "the standby to take the lease", func() (bool, string) {
		h, err := st.Leader(ctx)
		return err == nil && h != "" && h != before, "holder " + h
	})
	eventually(t, "the second step under the new leader", func() (bool, string) {
		return deviceActionCalls(t, "remoteLock") > locks, "no remoteLock yet"
	})
	// Give a duplicate every chance to show: both steps recorded Succeeded, and the
	// twin saw each action exactly once.
	eventually(t, "both steps recorded", func() (bool, string) {
		out := kubectl(t, "get", "threatremediation", "failover", "-n", stack.SamplesNamespace, "-o", "jsonpath={.status.steps[*].state}")
		return out == "Succeeded Succeeded", out
	})
	if s, l := deviceActionCalls(t, "syncDevice")-syncs, deviceActionCalls(t, "remoteLock")-locks; s != 1 || l != 1 {
		t.Fatalf("after the failover: %d syncDevice and %d remoteLock calls, want 1 each", s, l)
	}
	if msg := kubectl(t, "get", "threatremediation", "failover", "-n", stack.SamplesNamespace, "-o", "jsonpath={.status.steps[1].message}"); !strings.Contains(msg, "approved by "+approver) {
		t.Fatalf("the lock's record does not name its approver: %q", msg)
	}
	leader = standby
}

// TestSyslogFollowsTheLeader: after the failover, the new leader listens on the
// connector's syslog port, and UES's next alert still names the threat; the twin's UES
// counts no message it could not deliver.
func TestSyslogFollowsTheLeader(t *testing.T) {
	if leader.Name != "operator-b" {
		t.Fatalf("run after TestLeaderFailoverRunsNoStepTwice: the leader is %s", leader.Name)
	}
	phone := device(t, "erin-iOS-1")
	if _, err := st.Admin.Detect(ctx, tenant(), phone.EntraID, adminapi.Detection{Type: "jailbrokenOrRooted", Detail: "Jailbroken"}); err != nil {
		t.Fatal(err)
	}
	name := remediationOf(t, phone, "jailbrokenOrRooted", "Jailbroken")
	if _, err := st.Admin.Remediate(ctx, tenant(), phone.EntraID, "jailbrokenOrRooted"); err != nil {
		t.Fatal(err)
	}
	resolved(t, name)
	s, err := st.Admin.Syslog(ctx, tenant())
	if err != nil {
		t.Fatal(err)
	}
	if s.Undelivered != 0 || s.DeadLetters != 0 || s.Disabled {
		t.Fatalf("the twin's UES syslog integration: %+v", s)
	}
}

// TestSamplesDeployTheProtectApp: the sample connector deploys the iOS Protect app and
// finds Android's Managed Google Play app, both required for the policy's groups, and
// names the phone without the app until it installs it.
func TestSamplesDeployTheProtectApp(t *testing.T) {
	without := func() string {
		return kubectl(t, "get", "mtdconnector", "blackberry", "-n", stack.SamplesNamespace, "-o",
			`jsonpath={range .status.protectApp[*]}{.platform}={.devicesWithoutApp}/{.devices}{.withoutApp} {end}`)
	}
	eventually(t, "the Protect app deployed, and the phone without it named", func() (bool, string) {
		ready := kubectl(t, "get", "mtdconnector", "blackberry", "-n", stack.SamplesNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="ProtectAppReady")].status}`)
		got := without()
		return ready == "True" && strings.Contains(got, "iOS=1/") && strings.Contains(got, sim.DemoPhoneWithoutProtect) && strings.Contains(got, "AndroidEnterprise=0/"), ready + " " + got
	})
	apps, err := st.Admin.MobileApps(ctx, tenant())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range apps {
		kinds[a.ODataType]++
		var targets []string
		for _, as := range a.Assignments {
			targets = append(targets, as.Intent+":"+as.Target.ODataType+":"+as.Target.GroupID)
		}
		want := []string{"required:#microsoft.graph.groupAssignmentTarget:" + sim.DemoMobileUsersGroup, "required:#microsoft.graph.exclusionGroupAssignmentTarget:" + sim.DemoExclusionsGroup}
		if len(targets) != 2 || !strings.Contains(strings.Join(targets, " "), want[0]) || !strings.Contains(strings.Join(targets, " "), want[1]) {
			t.Errorf("%s %s assigned %v, want the policy's include and exclude groups (%v)", a.ODataType, a.DisplayName, targets, want)
		}
	}
	if kinds["#microsoft.graph.iosStoreApp"] != 1 || kinds["#microsoft.graph.androidManagedStoreApp"] != 1 {
		t.Fatalf("apps by type %v, want one iOS store app (created) and the one Managed Google Play app", kinds)
	}
	phone := device(t, sim.DemoPhoneWithoutProtect)
	if err := st.Admin.InstallApp(ctx, tenant(), phone.IntuneID, sim.DemoProtectAppID, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no phone without the app", func() (bool, string) {
		got := without()
		return strings.Contains(got, "iOS=0/") && !strings.Contains(got, sim.DemoPhoneWithoutProtect), got
	})
	t.Logf("Protect app: %s", without())
}
