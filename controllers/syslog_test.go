package controllers_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtls"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// syslogPorts are the ports the suite's installation allows syslog listeners; the last
// is reserved (--syslog-port-namespaces) for reservedNamespace.
const (
	syslogPorts        = "42100-42199"
	reservedSyslogPort = 42199
)

// reservedNamespace is unique per run: envtest has no namespace controller, so a
// deleted namespace never goes away.
var reservedNamespace = fmt.Sprintf("syslog-team-%d", time.Now().UnixNano()%1_000_000_000)

var nextSyslogPort atomic.Int32

// freeSyslogPort is an allowed port nothing listens on.
func freeSyslogPort(t *testing.T) int32 {
	t.Helper()
	for range 100 {
		p := 42100 + nextSyslogPort.Add(1)%99 // 42199 is reservedSyslogPort
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(int(p)))
		if err == nil {
			_ = l.Close()
			return p
		}
	}
	t.Fatal("no free syslog port in " + syslogPorts)
	return 0
}

// syslogPKI is the listener's certificate, in a kubernetes.io/tls Secret of ns.
func syslogPKI(t *testing.T, ns string) *simtls.PKI {
	t.Helper()
	pki, err := simtls.New("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "syslog-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: pki.ServerCertPEM, corev1.TLSPrivateKeyKey: pki.ServerKeyPEM}})
	return pki
}

// syslogConnector is a Ready connector of tn listening for syslog over TLS.
func syslogConnector(t *testing.T, tn tenant, mod func(*v1.MTDConnector)) (*v1.MTDConnector, *simtls.PKI) {
	t.Helper()
	ns := namespace(t, tn)
	pki := syslogPKI(t, ns)
	port := freeSyslogPort(t)
	conn := connectorFor(ns, tn)
	conn.Spec.ThreatSync = v1.ThreatSyncSpec{Enabled: ptr(true), Interval: &metav1.Duration{Duration: 10 * time.Second},
		Syslog: &v1.SyslogSpec{Port: port, TLS: &v1.SyslogTLS{SecretName: "syslog-tls"}}}
	if mod != nil {
		mod(conn)
	}
	create(t, conn)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = k8s.Delete(ctx, conn)
		testkit.Eventually(t, 60*time.Second, "remediations deleted", func() (bool, string) {
			_ = k8s.DeleteAllOf(ctx, &v1.ThreatRemediation{}, client.InNamespace(conn.Namespace))
			n := len(remediationsIn(t, conn.Namespace))
			return n == 0, fmt.Sprint(n, " left")
		})
	})
	ready(t, conn)
	waitFor(t, conn, "listening and a snapshot", func(c *v1.MTDConnector) bool {
		return c.Status.Syslog != nil && c.Status.Syslog.State == v1.SyslogListening && c.Status.ThreatSync != nil && c.Status.ThreatSync.SnapshotTime != nil
	})
	return conn, pki
}

// phoneOf enrols one Android phone of a new user and returns it with the user's UPN.
func phoneOf(t *testing.T, tn tenant) (adminapi.DeviceView, string) {
	t.Helper()
	ctx := context.Background()
	upn := fmt.Sprintf("user%d@contoso.example", time.Now().UnixNano())
	u, err := admin.CreateUser(ctx, tn.ID, adminapi.User{UserPrincipalName: upn})
	if err != nil {
		t.Fatal(err)
	}
	created, err := admin.CreateDevices(ctx, tn.ID, adminapi.Device{DeviceName: "phone", Platform: "Android", OSVersion: "14", UserID: u.ID, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return created.Devices[0], upn
}

// mobileAlert is a Mobile Alerts message as UES sends it (keys beyond Alert Id and
// Alert Name as this project assumes them), octet-counted.
func mobileAlert(id, name, device, user string) string {
	msg := "<14>1 " + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " ues.example CylancePROTECT - - - " +
		"BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name: Created, Alert Id: " + id + ", Alert Name: " + name +
		", Device Name: " + device + ", User Email: " + user + ", Device OS: Android, Version of OS: 14"
	return strconv.Itoa(len(msg)) + " " + msg
}

// sendSyslog writes frames to the connector's listener over TLS trusting pki.
func sendSyslog(t *testing.T, conn *v1.MTDConnector, pki *simtls.PKI, frames ...string) {
	t.Helper()
	c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(conn.Spec.ThreatSync.Syslog.Port)), &tls.Config{RootCAs: pki.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range frames {
		if _, err := c.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
}

func syslogCount(t *testing.T, name string, conn *v1.MTDConnector, labels map[string]string) float64 {
	t.Helper()
	l := map[string]string{"namespace": conn.Namespace, "name": conn.Name}
	for k, v := range labels {
		l[k] = v
	}
	return testkit.Counter(t, metrics.Registry, name, l)
}

// waitSyslogCount waits until a syslog counter reaches want.
func waitSyslogCount(t *testing.T, metric string, conn *v1.MTDConnector, labels map[string]string, want float64) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%s%v = %v", metric, labels, want), func() (bool, string) {
		got := syslogCount(t, metric, conn, labels)
		return got == want, fmt.Sprint(got)
	})
}

// TestASyslogAlertOpensItsRemediationAtOnce: the connector's policy declares
// maliciousApplication high, so the alert opens a remediation before Intune hears of
// it, with its id, type and detail; the user is notified; a redelivery is a no-op.
func TestASyslogAlertOpensItsRemediationAtOnce(t *testing.T) {
	tn := riskyTenant(t)
	ph, upn := phoneOf(t, tn)
	conn, pki := syslogConnector(t, tn, nil)
	syncClocks(time.Now())
	policy := &v1.DeviceRiskPolicy{ObjectMeta: metav1.ObjectMeta{Name: "declares-risk", Namespace: conn.Namespace},
		Spec: v1.DeviceRiskPolicySpec{ConnectorRef: v1.LocalObjectReference{Name: v1.ObjectName(conn.Name)}, DisplayName: "MTD syslog test",
			Platforms: []v1.Platform{v1.PlatformAndroidWorkProfile}, MaxAllowedRisk: "low",
			RiskAssessment: &v1.RiskAssessment{Detections: []v1.DetectionRisk{{Type: "maliciousApplication", Risk: "high"}}}}}
	create(t, policy)
	waitFor(t, conn, "the snapshot with the phone", func(c *v1.MTDConnector) bool {
		return c.Status.ThreatSync != nil && c.Status.ThreatSync.SnapshotDevices >= 1
	})
	opened := syslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "opened"})
	frame := mobileAlert("a-7f3c9a2e", "maliciousApplication: Evil Flashlight", ph.DeviceName, upn)
	sendSyslog(t, conn, pki, frame)

	var tr *v1.ThreatRemediation
	testkit.Eventually(t, 20*time.Second, "a remediation opened from syslog", func() (bool, string) {
		for _, cur := range remediationsIn(t, conn.Namespace) {
			if th := cur.Spec.Threat; th != nil && th.AlertID == "a-7f3c9a2e" {
				tr = cur.DeepCopy()
				return true, ""
			}
		}
		return false, "none"
	})
	th := tr.Spec.Threat
	if th.Source != v1.SourceUESSyslog || th.Type != "maliciousApplication" || th.Detail != "Evil Flashlight" || th.Risk != "high" ||
		!strings.EqualFold(string(tr.Spec.Device.IntuneDeviceID), ph.IntuneID) {
		t.Fatalf("threat = %+v, device = %+v", th, tr.Spec.Device)
	}
	got := waitStep(t, tr, 0, v1.StepSucceeded)
	if !strings.Contains(stepRecord(got, 0).Message, "maliciousApplication (Evil Flashlight)") {
		t.Fatalf("the user was not told what the threat is: %q", stepRecord(got, 0).Message)
	}
	waitSyslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "opened"}, opened+1)

	// UES delivers at least once: the same alert again, on a new connection, changes nothing.
	dup := syslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "duplicate"})
	sendSyslog(t, conn, pki, frame, frame)
	waitSyslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "duplicate"}, dup+2)
	if n := len(remediationsIn(t, conn.Namespace)); n != 1 {
		t.Fatalf("%d remediations after a redelivery, want 1", n)
	}

	// UES never told Intune (the user fixed it first): within the window Intune's
	// "secured" does not end the threat; past it, it does.
	reconcileOnce(t, freshRemediationReconciler(time.Minute), tr)
	if p := getRemediation(t, client.ObjectKeyFromObject(tr)).Status.Phase; p == v1.PhaseResolved {
		t.Fatal("resolved on Intune's secured before Intune could have heard of the threat")
	}
	remediationClock.Step(controllers.DefaultUnreportedWindow)
	poke(t, tr)
	got = waitPhase(t, tr, v1.PhaseResolved)
	if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady); c == nil || !strings.Contains(c.Message, "Intune never reported this threat's risk") {
		t.Fatalf("Ready = %+v", c)
	}
}

// TestASyslogAlertEnrichesWhatIntunesRiskOpens: with no declared risk for its type, the
// alert is held; the remediation Intune's device risk opens carries it, from syslog.
func TestASyslogAlertEnrichesWhatIntunesRiskOpens(t *testing.T) {
	tn := riskyTenant(t)
	ph, upn := phoneOf(t, tn)
	conn, pki := syslogConnector(t, tn, nil)
	syncClocks(twinNow(t))
	waitFor(t, conn, "the snapshot with the phone", func(c *v1.MTDConnector) bool {
		return c.Status.ThreatSync != nil && c.Status.ThreatSync.SnapshotDevices >= 1
	})
	held := syslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "held"})
	sendSyslog(t, conn, pki, mobileAlert("a-held-1", "sideLoadedApplication: com.example.sideloaded", ph.DeviceName, upn))
	waitSyslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "held"}, held+1)
	if n := len(remediationsIn(t, conn.Namespace)); n != 0 {
		t.Fatalf("%d remediations opened without a declared risk", n)
	}
	// UES detects it and, after its report delay, tells Intune.
	detect(t, tn, ph.IntuneID, "sideLoadedApplication")
	tr := intakeOf(t, conn, ph.IntuneID, 1)
	if th := tr.Spec.Threat; th == nil || th.Source != v1.SourceUESSyslog || th.AlertID != "a-held-1" || th.Type != "sideLoadedApplication" ||
		th.Detail != "com.example.sideloaded" || th.Risk != "high" {
		t.Fatalf("threat = %+v; want the held alert with Intune's risk", tr.Spec.Threat)
	}
}

// TestSyslogNeverGuessesADevice: an event for a device the connector's tenant does not
// manage (another tenant's phone included: each listener belongs to one connector), or
// a malformed one, is dropped and counted; the listener keeps serving.
func TestSyslogNeverGuessesADevice(t *testing.T) {
	tn, other := riskyTenant(t), riskyTenant(t)
	stranger, strangerUPN := phoneOf(t, other)
	ph, upn := phoneOf(t, tn)
	conn, pki := syslogConnector(t, tn, nil)
	unknown := syslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "unknown_device"})
	malformed := syslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "malformed"})
	sendSyslog(t, conn, pki,
		mobileAlert("a-other-tenant", "maliciousApplication: x", stranger.DeviceName, strangerUPN),
		mobileAlert("a-no-user", "maliciousApplication: x", ph.DeviceName, ""),
		mobileAlert("a-wrong-user", "maliciousApplication: x", ph.DeviceName, "mallory@contoso.example"),
		"13 <14>1 garbage")
	waitSyslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "unknown_device"}, unknown+3)
	waitSyslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "malformed"}, malformed+1)
	// Still serving: a good event on a new connection arrives.
	held := syslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "held"})
	sendSyslog(t, conn, pki, mobileAlert("a-good", "deviceScreenlock: Screenlock disabled", ph.DeviceName, upn))
	waitSyslogCount(t, "mtd_operator_syslog_events_total", conn, map[string]string{"outcome": "held"}, held+1)
	if n := len(remediationsIn(t, conn.Namespace)); n != 0 {
		t.Fatalf("%d remediations from events naming no device of this tenant", n)
	}

	// A sender that does not speak TLS is refused by the handshake, and counted.
	tlsFailed := syslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "tls_handshake"})
	plain, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(conn.Spec.ThreatSync.Syslog.Port)))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.Write([]byte(mobileAlert("a-plain", "maliciousApplication: x", ph.DeviceName, upn)))
	_ = plain.Close()
	waitSyslogCount(t, "mtd_operator_syslog_dropped_total", conn, map[string]string{"reason": "tls_handshake"}, tlsFailed+1)
}

// TestSyslogListenerStates: what the installation and the spec allow, in status.syslog.
func TestSyslogListenerStates(t *testing.T) {
	tn := riskyTenant(t)
	conn, _ := syslogConnector(t, tn, nil)
	if got := conn.Status.Syslog; got == nil || got.Reason != controllers.ReasonSyslogListening || got.Address != "127.0.0.1:"+strconv.Itoa(int(conn.Spec.ThreatSync.Syslog.Port)) {
		waitFor(t, conn, "listening", func(c *v1.MTDConnector) bool {
			return c.Status.Syslog != nil && c.Status.Syslog.Reason == controllers.ReasonSyslogListening
		})
	}
	for _, tc := range []struct {
		name   string
		mod    func(*v1.SyslogSpec)
		reason string
	}{
		{"the same port as another connector", func(s *v1.SyslogSpec) { s.Port = conn.Spec.ThreatSync.Syslog.Port }, controllers.ReasonSyslogPortInUse},
		{"a port the installation does not allow", func(s *v1.SyslogSpec) { s.Port = 514 }, controllers.ReasonSyslogPortBlocked},
		{"a TLS Secret that does not exist", func(s *v1.SyslogSpec) { s.TLS.SecretName = "missing" }, controllers.ReasonSyslogTLSInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			second := connectorFor(namespace(t, riskyTenant(t)), tn)
			second.Name = "second"
			second.Spec.ThreatSync.Syslog = &v1.SyslogSpec{Port: freeSyslogPort(t), TLS: &v1.SyslogTLS{SecretName: "syslog-tls"}}
			tc.mod(second.Spec.ThreatSync.Syslog)
			create(t, second)
			got := waitFor(t, second, tc.reason, func(c *v1.MTDConnector) bool {
				return c.Status.Syslog != nil && c.Status.Syslog.Reason == tc.reason
			})
			if got.Status.Syslog.State != v1.SyslogFailed || got.Status.Syslog.Message == "" {
				t.Fatalf("status.syslog = %+v", got.Status.Syslog)
			}
			if err := k8s.Delete(context.Background(), second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAReservedSyslogPortCannotBeSquatted: with --syslog-port-namespaces, a connector in
// another namespace can neither take the port nor, by asking first, keep its team from
// it; the team's listener receives the alert.
func TestAReservedSyslogPortCannotBeSquatted(t *testing.T) {
	ctx := context.Background()
	// The squatter asks first, with working credentials for a tenant of its own.
	own := riskyTenant(t)
	squatter := connectorFor(namespace(t, own), own)
	squatter.Spec.ThreatSync.Syslog = &v1.SyslogSpec{Port: reservedSyslogPort, AllowPlainTCP: true}
	create(t, squatter)
	got := waitFor(t, squatter, "refused the reserved port", func(c *v1.MTDConnector) bool {
		return c.Status.Syslog != nil && c.Status.Syslog.Reason == controllers.ReasonSyslogPortBlocked
	})
	if !strings.Contains(got.Status.Syslog.Message, "reserved for namespace "+reservedNamespace) {
		t.Fatalf("status.syslog = %+v", got.Status.Syslog)
	}

	tn := riskyTenant(t)
	// The one namespace the port is bound to; with -count > 1 it is there already.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: reservedNamespace}}
	if err := k8s.Create(ctx, ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "intune", Namespace: ns.Name}, StringData: map[string]string{"client-secret": tn.Secret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ues", Namespace: ns.Name}, StringData: map[string]string{"app-id": tn.UESAppID, "app-secret": tn.UESAppSecret}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "twin-ca", Namespace: ns.Name}, Data: map[string]string{"ca.crt": string(twinCA)}},
	} {
		if err := k8s.Create(ctx, o); apierrors.IsAlreadyExists(err) {
			err = k8s.Update(ctx, o) // this run's tenant
		} else if err != nil {
			t.Fatal(err)
		}
	}
	team := connectorFor(ns.Name, tn)
	team.Spec.ThreatSync = v1.ThreatSyncSpec{Enabled: ptr(true), Interval: &metav1.Duration{Duration: 10 * time.Second},
		Syslog: &v1.SyslogSpec{Port: reservedSyslogPort, AllowPlainTCP: true}}
	create(t, team)
	waitFor(t, team, "the team listens on its port, although the squatter asked first", func(c *v1.MTDConnector) bool {
		return c.Status.Syslog != nil && c.Status.Syslog.State == v1.SyslogListening
	})
	if s := getConnector(t, client.ObjectKeyFromObject(squatter)).Status.Syslog; s == nil || s.Reason != controllers.ReasonSyslogPortBlocked {
		t.Fatalf("the squatter's status.syslog = %+v, want still PortNotAllowed", s)
	}
}
