package controllers_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
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
	if msg := conditionMessage(got, v1.ConditionReady); msg == "" {
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
