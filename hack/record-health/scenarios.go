package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/stack"
)

// The samples' objects (config/samples).
const (
	connector   = "blackberry"
	policy      = "mobile-threat-level"
	lostPhone   = "lost-phone-jdoe"
	routeGetMTD = "GET /v1.0/deviceManagement/mobileThreatDefenseConnectors/{id}"
)

// Argo CD's health statuses.
const (
	healthy     = "Healthy"
	progressing = "Progressing"
	degraded    = "Degraded"
	suspended   = "Suspended"
)

// What the health checks say of a status that does not describe the object yet.
const firstStatus = "Waiting for the operator's first status"

func unobservedMessage(u *unstructured.Unstructured) string {
	g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	return fmt.Sprintf("Waiting for the operator to observe generation %d (status is of generation %d)", u.GetGeneration(), g)
}

func readyMessage(u *unstructured.Unstructured) string { return condition(u, "Ready").message }

func compliantDevices(u *unstructured.Unstructured) bool {
	n, _, _ := unstructured.NestedInt64(u.Object, "status", "compliantDevices")
	return n > 0
}

func notTrue(typ string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool { return condition(u, typ).status != "True" }
}

func phase(want ...string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		for _, w := range want {
			if p == w {
				return true
			}
		}
		return false
	}
}

func (r *recorder) tenant() string { return r.st.Sim[sim.EnvTenantID] }

// ready records the samples once the operator has realised them: the connector and the
// policy Ready, and the sample remediation at its remoteLock step, which waits for an
// approval.
func (r *recorder) ready() error {
	u, err := r.waitFor(kindConnector, connector, "Ready and the Protect app deployed",
		all(is("Ready", "True", ""), is("ProtectAppReady", "True", "")))
	if err != nil {
		return err
	}
	r.record(u, "healthy_ready", healthy, readyMessage(u))
	// Once UES has reported (the sample blocks devices until then), devices are compliant.
	if u, err = r.waitFor(kindPolicy, policy, "Ready with compliant devices", all(is("Ready", "True", ""), compliantDevices)); err != nil {
		return err
	}
	r.record(u, "healthy_ready", healthy, readyMessage(u))
	if u, err = r.waitFor(kindRemediation, lostPhone, "its remoteLock to await an approval", is("Ready", "False", "AwaitingApproval")); err != nil {
		return err
	}
	r.record(u, "suspended_awaiting_approval", suspended, readyMessage(u))
	return nil
}

// connectorStates: the Protect app missing from Managed Google Play (Ready all the
// same), Graph throttling, the partner unresponsive, a wrong secret, and a second
// connector for a tenant that already has one.
func (r *recorder) connectorStates() error {
	if err := r.protectAppNotReady(); err != nil {
		return err
	}
	if err := r.throttled(); err != nil {
		return err
	}
	if err := r.partnerUnresponsive(); err != nil {
		return err
	}
	if err := r.wrongSecret(); err != nil {
		return err
	}
	return r.stalledConnector("second-blackberry", stack.SampleTenantID, "intune-app-credentials", "TenantAlreadyManaged", "degraded_tenant_already_managed")
}

func (r *recorder) protectAppNotReady() error {
	if err := r.st.Admin.RemoveManagedStoreApp(r.ctx, r.tenant(), sim.DemoProtectAppID); err != nil {
		return err
	}
	u, err := r.waitFor(kindConnector, connector, "ProtectAppReady=False with Ready=True",
		all(is("Ready", "True", ""), is("ProtectAppReady", "False", "AppNotInManagedGooglePlay")))
	if err != nil {
		return err
	}
	app := condition(u, "ProtectAppReady")
	r.record(u, "healthy_protect_app_not_ready", healthy, readyMessage(u)+"; Protect app not ready ("+app.reason+"): "+app.message)
	if _, err := r.st.Admin.ApproveManagedStoreAppWithPublisher(r.ctx, r.tenant(), sim.DemoProtectAppID, sim.DemoProtectAppName, sim.DemoProtectAppPublisher); err != nil {
		return err
	}
	_, err = r.waitFor(kindConnector, connector, "the Protect app deployed again", is("ProtectAppReady", "True", ""))
	return err
}

func (r *recorder) throttled() error {
	fault, err := r.st.Admin.AddFault(r.ctx, adminapi.Fault{Route: routeGetMTD, Status: 429, RetryAfter: 5})
	if err != nil {
		return err
	}
	u, err := r.waitFor(kindConnector, connector, "Reconciling=True (Throttled)", is("Reconciling", "True", "Throttled"))
	if err != nil {
		return err
	}
	r.record(u, "progressing_throttled", progressing, condition(u, "Reconciling").message)
	if err := r.st.Admin.RemoveFault(r.ctx, fault.ID); err != nil {
		return err
	}
	_, err = r.waitFor(kindConnector, connector, "Ready again", is("Ready", "True", ""))
	return err
}

func (r *recorder) partnerUnresponsive() error {
	if err := r.st.Admin.SetPartnerState(r.ctx, r.tenant(), "unresponsive"); err != nil {
		return err
	}
	u, err := r.waitFor(kindConnector, connector, "Ready=False, neither Reconciling nor Stalled",
		all(is("Ready", "False", ""), notTrue("Reconciling"), notTrue("Stalled")))
	if err != nil {
		return err
	}
	r.record(u, "degraded_partner_unresponsive", degraded, readyMessage(u))
	if err := r.st.Admin.SetPartnerState(r.ctx, r.tenant(), ""); err != nil {
		return err
	}
	_, err = r.waitFor(kindConnector, connector, "Ready again", is("Ready", "True", ""))
	return err
}

// wrongSecret gives the twin a second tenant with its own app registration, as a
// second Intune tenant would be, and a connector for it whose Secret holds another
// secret than the app's.
func (r *recorder) wrongSecret() error {
	const tenant = "11111111-2222-3333-4444-555555555555"
	if _, err := r.st.Admin.CreateTenant(r.ctx, adminapi.Tenant{ID: tenant, DisplayName: "Fabrikam", Onboard: true}); err != nil {
		return err
	}
	if _, err := r.st.Admin.CreateApp(r.ctx, tenant, adminapi.App{ClientID: stack.SampleClientID, DisplayName: "mtd-operator",
		Secret: "the-secret-entra-knows", Roles: []string{"DeviceManagementServiceConfig.ReadWrite.All"}}); err != nil {
		return err
	}
	return r.stalledConnector("wrong-secret", tenant, "wrong-secret", "AuthenticationFailed", "degraded_wrong_secret")
}

// connectorManifest is a connector pointed at the twin, making no threat sync.
func (r *recorder) connectorManifest(name, tenantID, secret string) string {
	return `apiVersion: mtd.operator.dev/v1alpha1
kind: MTDConnector
metadata: {name: ` + name + `}
spec:
  intune:
    tenantID: ` + tenantID + `
    clientID: ` + stack.SampleClientID + `
    endpoints: {authorityURL: "` + r.st.Sim[sim.EnvAuthorityURL] + `", graphURL: "` + r.st.Sim[sim.EnvGraphURL] + `"}
    caBundle: {name: twin-ca}
    credentials: {clientSecret: {name: ` + secret + `, key: client-secret}}
  ues:
    baseURL: "` + r.st.Sim[sim.EnvUESURL] + `"
    tenantID: ` + stack.SampleUESTenantID + `
    caBundle: {name: twin-ca}
    credentials: {secretName: ues-api-credentials}
  threatSync: {enabled: false}
  deletionPolicy: Orphan
`
}

// stalledConnector applies a connector that only a person can fix and records it once
// Stalled (with reason, when given).
func (r *recorder) stalledConnector(name, tenantID, secret, reason, file string) error {
	manifest := r.connectorManifest(name, tenantID, secret)
	if secret == "wrong-secret" {
		manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: wrong-secret}\nstringData: {client-secret: not-the-secret}\n---\n" + manifest
	}
	if err := r.apply(manifest); err != nil {
		return err
	}
	u, err := r.waitFor(kindConnector, name, "Stalled", is("Stalled", "True", reason))
	if err != nil {
		return err
	}
	r.record(u, file, degraded, condition(u, "Stalled").message)
	return r.delete(kindConnector, name)
}

// policyManifest is a one-platform policy of the sample connector.
func policyManifest(name, connectorName, displayName, management string) string {
	return `apiVersion: mtd.operator.dev/v1alpha1
kind: DeviceRiskPolicy
metadata: {name: ` + name + `}
spec:
  connectorRef: {name: ` + connectorName + `}
  displayName: "` + displayName + `"
  platforms: [iOS]
  maxAllowedRisk: low
  managementPolicy: ` + management + `
  deletionPolicy: Orphan
`
}

// policyStates: a policy whose connector does not exist, one whose Intune policy
// another DeviceRiskPolicy already manages, and one under ObserveOnly whose Intune
// policy does not exist.
func (r *recorder) policyStates() error {
	for _, p := range []struct {
		name, connector, displayName, management string
		until                                    func(*unstructured.Unstructured) bool
		file, status                             string
	}{
		{"waits-for-connector", "not-yet", "MTD - waiting", "Manage", is("Reconciling", "True", "ConnectorNotFound"), "progressing_connector_not_found", progressing},
		{"second-owner", connector, "MTD - BlackBerry Protect Mobile - max risk low", "Manage", is("Stalled", "True", "AlreadyManaged"), "degraded_already_managed", degraded},
		{"observe-only", connector, "MTD - observed, never created", "ObserveOnly",
			all(is("Ready", "False", "DriftDetected"), notTrue("Reconciling"), notTrue("Stalled")), "degraded_drift_observe_only", degraded},
	} {
		if err := r.apply(policyManifest(p.name, p.connector, p.displayName, p.management)); err != nil {
			return err
		}
		u, err := r.waitFor(kindPolicy, p.name, p.file, p.until)
		if err != nil {
			return err
		}
		r.record(u, p.file, p.status, readyMessage(u))
		if err := r.delete(kindPolicy, p.name); err != nil {
			return err
		}
	}
	return nil
}

// remediationStates: a detection opens a remediation (Progressing) that resolves once
// the user removes the threat (Healthy); a remediation for a device Intune does not
// manage fails; the sample remediation's plan edited after a step ran stalls.
func (r *recorder) remediationStates() error {
	if err := r.detectAndResolve("alice-Android-1", "maliciousApplication", "com.flashlight.free (Trojan)"); err != nil {
		return err
	}
	if err := r.apply(`apiVersion: mtd.operator.dev/v1alpha1
kind: ThreatRemediation
metadata: {name: unknown-device}
spec:
  connectorRef: {name: ` + connector + `}
  device: {entraDeviceID: d3b07384-d9a0-4c9b-8a3f-5c1e2b7a9f00}
  steps:
  - action: notify
    message: "Your device is not managed by Intune."
`); err != nil {
		return err
	}
	u, err := r.waitFor(kindRemediation, "unknown-device", "phase Failed", all(phase("Failed"), observed))
	if err != nil {
		return err
	}
	r.record(u, "degraded_failed_device_not_found", degraded, readyMessage(u))
	// The plan as the sample writes it, less its last step: the notify step has run.
	if err := r.patch(kindRemediation, lostPhone, `{"spec":{"steps":[{"action":"notify","message":"Your phone was reported lost and will be locked."},{"action":"remoteLock"}]}}`); err != nil {
		return err
	}
	if u, err = r.waitFor(kindRemediation, lostPhone, "Stalled (PlanChanged)", is("Stalled", "True", "PlanChanged")); err != nil {
		return err
	}
	r.record(u, "degraded_plan_changed", degraded, condition(u, "Stalled").message)
	return nil
}

func (r *recorder) detectAndResolve(deviceName, detection, detail string) error {
	dev, err := r.device(deviceName)
	if err != nil {
		return err
	}
	if _, err := r.st.Admin.Detect(r.ctx, r.tenant(), dev.EntraID, adminapi.Detection{Type: detection, Detail: detail}); err != nil {
		return err
	}
	name, err := r.remediationOf(dev)
	if err != nil {
		return err
	}
	// Open once Intune has UES's report too and blocks the device: what the remediation
	// looks like for as long as the user has not removed the threat.
	u, err := r.waitFor(kindRemediation, name, "an open phase, Reconciling, the device non-compliant",
		all(phase("Pending", "Blocked", "AwaitingUser", "Escalated"), is("Reconciling", "True", ""), nonCompliant))
	if err != nil {
		return err
	}
	r.record(u, "progressing_open", progressing, readyMessage(u))
	if _, err := r.st.Admin.Remediate(r.ctx, r.tenant(), dev.EntraID, detection); err != nil {
		return err
	}
	if u, err = r.waitFor(kindRemediation, name, "phase Resolved", all(phase("Resolved"), is("Ready", "True", ""))); err != nil {
		return err
	}
	r.record(u, "healthy_resolved", healthy, readyMessage(u))
	return nil
}

func nonCompliant(u *unstructured.Unstructured) bool {
	c, _, _ := unstructured.NestedString(u.Object, "status", "complianceState")
	return c == "noncompliant"
}

// device finds a device of the twin's demo tenant by name.
func (r *recorder) device(name string) (adminapi.DeviceView, error) {
	snap, err := r.st.Admin.Snapshot(r.ctx)
	if err != nil {
		return adminapi.DeviceView{}, err
	}
	for _, t := range snap.Tenants {
		for _, d := range t.Devices {
			if d.DeviceName == name {
				return d, nil
			}
		}
	}
	return adminapi.DeviceView{}, fmt.Errorf("the twin has no device %s", name)
}

// remediationOf waits for the intake to open the device's remediation.
func (r *recorder) remediationOf(dev adminapi.DeviceView) (string, error) {
	var name string
	err := r.poll(func() bool {
		out, _ := r.kubectl("get", "threatremediations", "-n", stack.SamplesNamespace,
			"-l", "mtd.operator.dev/intune-device="+strings.ToLower(dev.IntuneID), "-o", "jsonpath={.items[*].metadata.name}")
		name = strings.TrimSpace(out)
		return name != "" && !strings.Contains(name, " ")
	})
	if err != nil {
		return "", fmt.Errorf("no ThreatRemediation for %s: %w", dev.DeviceName, err)
	}
	return name, nil
}

// suspended suspends the connector (its policy then waits for it) and the policy, one
// at a time, and resumes them.
func (r *recorder) suspended() error {
	if err := r.patch(kindConnector, connector, `{"spec":{"suspend":true}}`); err != nil {
		return err
	}
	u, err := r.waitFor(kindConnector, connector, "Ready=False (Suspended)", is("Ready", "False", "Suspended"))
	if err != nil {
		return err
	}
	r.record(u, "suspended", suspended, readyMessage(u))
	if u, err = r.waitFor(kindPolicy, policy, "Reconciling=True (ConnectorNotReady)", is("Reconciling", "True", "ConnectorNotReady")); err != nil {
		return err
	}
	r.record(u, "progressing_connector_not_ready", progressing, condition(u, "Reconciling").message)
	if err := r.patch(kindConnector, connector, `{"spec":{"suspend":false}}`); err != nil {
		return err
	}
	if _, err := r.waitFor(kindPolicy, policy, "Ready again", is("Ready", "True", "")); err != nil {
		return err
	}
	if err := r.patch(kindPolicy, policy, `{"spec":{"suspend":true}}`); err != nil {
		return err
	}
	if u, err = r.waitFor(kindPolicy, policy, "Ready=False (Suspended)", is("Ready", "False", "Suspended")); err != nil {
		return err
	}
	r.record(u, "suspended", suspended, readyMessage(u))
	if err := r.patch(kindPolicy, policy, `{"spec":{"suspend":false}}`); err != nil {
		return err
	}
	_, err = r.waitFor(kindPolicy, policy, "Ready again", is("Ready", "True", ""))
	return err
}

// unobserved stops the operator, then changes specs and creates objects: what Argo CD
// sees between its sync and the operator's next pass. An ended remediation stays what
// it ended as, edited or not: the operator never visits it again.
func (r *recorder) unobserved() error {
	r.operator.Stop()
	edits := []struct{ kind, name, patch string }{
		{kindConnector, connector, `{"spec":{"resyncInterval":"4m"}}`},
		{kindPolicy, policy, `{"spec":{"description":"Managed by mtd-operator; edited while the operator was stopped."}}`},
		{kindRemediation, "unknown-device", `{"spec":{"expireAfter":"48h"}}`},
	}
	for _, e := range edits {
		if err := r.patch(e.kind, e.name, e.patch); err != nil {
			return err
		}
		u, err := r.get(e.kind, e.name)
		if err != nil {
			return err
		}
		if observed(u) {
			return fmt.Errorf("%s/%s: the edit did not change the generation", e.kind, e.name)
		}
		if e.kind == kindRemediation {
			r.record(u, "degraded_failed_edited_after", degraded, readyMessage(u))
			continue
		}
		r.record(u, "progressing_unobserved", progressing, unobservedMessage(u))
	}
	fresh := []struct{ kind, manifest string }{
		{kindConnector, r.connectorManifest("not-yet-reconciled", "22222222-3333-4444-5555-666666666666", "intune-app-credentials")},
		{kindPolicy, policyManifest("not-yet-reconciled", connector, "MTD - not yet reconciled", "Manage")},
		{kindRemediation, `apiVersion: mtd.operator.dev/v1alpha1
kind: ThreatRemediation
metadata: {name: not-yet-reconciled}
spec:
  connectorRef: {name: ` + connector + `}
  device: {entraDeviceID: ` + sim.DemoLostPhone + `}
  steps:
  - action: notify
    message: "Open BlackBerry Protect and follow its guidance."
`},
	}
	for _, f := range fresh {
		if err := r.apply(f.manifest); err != nil {
			return err
		}
		u, err := r.get(f.kind, "not-yet-reconciled")
		if err != nil {
			return err
		}
		if _, has := u.Object["status"]; has {
			return fmt.Errorf("%s/not-yet-reconciled has a status with the operator stopped", f.kind)
		}
		r.record(u, "progressing_no_status", progressing, firstStatus)
	}
	return nil
}
