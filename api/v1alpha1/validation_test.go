package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	os.Exit(code)
}

// namespace makes a fresh namespace so tests never see each other's objects.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crd-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func readSamples(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
	}
	return objs
}

func TestSamplesAreAccepted(t *testing.T) {
	ns := namespace(t)
	objs := readSamples(t)
	kinds := map[string]bool{}
	for _, u := range objs {
		u.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), u); err != nil {
			t.Errorf("sample %s/%s refused: %v", u.GetKind(), u.GetName(), err)
		}
		kinds[u.GetKind()] = true
	}
	for _, k := range []string{"MTDConnector", "DeviceRiskPolicy", "ThreatRemediation", "Secret"} {
		if !kinds[k] {
			t.Errorf("config/samples has no %s", k)
		}
	}
}

func validConnector() *v1.MTDConnector {
	return &v1.MTDConnector{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "MTDConnector"},
		ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec: v1.MTDConnectorSpec{
			Intune: v1.IntuneSpec{
				TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
				ClientID: "3c1f7a9e-5b2d-4e8f-9a61-0d4b8c2e7f10",
				Credentials: v1.IntuneCredentials{
					ClientSecret: &v1.SecretKeyReference{Name: "intune"},
				},
			},
			UES: v1.UESSpec{
				Region:      v1.UESRegionEurope,
				TenantID:    "5d0c8a2b-7e41-4f3a-b6c9-2e8d1f4a7b90",
				Credentials: v1.UESCredentials{SecretName: "ues"},
			},
		},
	}
}

func validPolicy() *v1.DeviceRiskPolicy {
	return &v1.DeviceRiskPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "DeviceRiskPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: v1.DeviceRiskPolicySpec{
			ConnectorRef:   v1.LocalObjectReference{Name: "c"},
			DisplayName:    "MTD",
			Platforms:      []v1.Platform{v1.PlatformAndroid, v1.PlatformIOS},
			MaxAllowedRisk: v1.RiskLow,
			Assignments:    v1.Assignments{AllUsers: true},
			ConditionalAccess: &v1.ConditionalAccessSpec{
				Applications: v1.ConditionalAccessApplications{ExchangeOnline: true},
				AllUsers:     true,
			},
		},
	}
}

func validRemediation() *v1.ThreatRemediation {
	return &v1.ThreatRemediation{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "ThreatRemediation"},
		ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: v1.ThreatRemediationSpec{
			ConnectorRef: v1.LocalObjectReference{Name: "c"},
			Device:       v1.DeviceReference{EntraDeviceID: "8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4a"},
			Steps:        []v1.RemediationStep{{Action: v1.StepNotify}},
		},
	}
}

func toUnstructured(t *testing.T, obj runtime.Object) map[string]any {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// set writes value at a dotted path, creating maps on the way; a nil value deletes.
func set(m map[string]any, path string, value any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	if value == nil {
		delete(m, parts[len(parts)-1])
		return
	}
	m[parts[len(parts)-1]] = value
}

type edit struct {
	path  string
	value any
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ns := namespace(t)
	const guidA, guidB = "0f6e2b3c-9d41-4a7e-8c52-1b3a4d5e6f70", "2a8f4c6e-1b3d-4e5f-8a7b-9c0d1e2f3a4b"
	connector, policy, remediation := validConnector(), validPolicy(), validRemediation()
	cases := []struct {
		name  string
		base  runtime.Object
		edits []edit
		want  string
	}{
		{"two credential kinds", connector, []edit{{"spec.intune.credentials.workloadIdentity", map[string]any{}}}, "exactly one of clientSecret, clientCertificate or workloadIdentity must be set"},
		{"no credential kind", connector, []edit{{"spec.intune.credentials", map[string]any{}}}, "exactly one of clientSecret, clientCertificate or workloadIdentity must be set"},
		{"intune tenant id not a GUID", connector, []edit{{"spec.intune.tenantID", "contoso.onmicrosoft.com"}}, "spec.intune.tenantID: Invalid value: \"contoso.onmicrosoft.com\": must be a GUID"},
		{"client id not a GUID", connector, []edit{{"spec.intune.clientID", "my-app"}}, "spec.intune.clientID: Invalid value: \"my-app\": must be a GUID"},
		{"ues tenant id not a GUID", connector, []edit{{"spec.ues.tenantID", "12345"}}, "spec.ues.tenantID: Invalid value: \"12345\": must be a GUID"},
		{"unresponsiveness threshold 0", connector, []edit{{"spec.intune.connectorSettings.partnerUnresponsivenessThresholdInDays", int64(0)}}, "should be greater than or equal to 1"},
		{"unresponsiveness threshold 400", connector, []edit{{"spec.intune.connectorSettings.partnerUnresponsivenessThresholdInDays", int64(400)}}, "should be less than or equal to 365"},
		{"windows enabled for BlackBerry", connector, []edit{{"spec.intune.connectorSettings.windowsEnabled", true}}, "BlackBerry Protect Mobile supports Android and iOS only"},
		{"Defender attach for BlackBerry", connector, []edit{{"spec.intune.connectorSettings.microsoftDefenderForEndpointAttachEnabled", true}}, "BlackBerry Protect Mobile supports Android and iOS only"},
		{"unknown cloud", connector, []edit{{"spec.intune.cloud", "Germany"}}, "spec.intune.cloud: Unsupported value: \"Germany\""},
		{"unknown partner", connector, []edit{{"spec.partner", "Lookout"}}, "spec.partner: Unsupported value: \"Lookout\""},
		{"secret in another namespace", connector, []edit{{"spec.intune.credentials.clientSecret.name", "vault/intune"}}, "namespace/name references are not allowed"},
		{"ues secret in another namespace", connector, []edit{{"spec.ues.credentials.secretName", "vault/ues"}}, "namespace/name references are not allowed"},
		{"ues region and base URL", connector, []edit{{"spec.ues.baseURL", "https://ues.example.com"}}, "exactly one of region or baseURL must be set"},
		{"ues neither region nor base URL", connector, []edit{{"spec.ues.region", nil}}, "exactly one of region or baseURL must be set"},
		{"plain http graph endpoint", connector, []edit{{"spec.intune.endpoints.graphURL", "http://graph.example.com/v1.0"}}, "must be an absolute https URL"},
		{"threat sync interval too short", connector, []edit{{"spec.threatSync.interval", "1s"}}, "interval must be between 10s and 24h"},
		{"threat sync minimum risk secured", connector, []edit{{"spec.threatSync.minimumRisk", "secured"}}, "spec.threatSync.minimumRisk: Unsupported value: \"secured\""},
		{"duplicate protected group", connector, []edit{{"spec.guardrails.protectedGroupIDs", []any{guidA, guidA}}}, "spec.guardrails.protectedGroupIDs[1]: Duplicate value"},
		{"resync too often", connector, []edit{{"spec.resyncInterval", "5s"}}, "resyncInterval must be between 30s and 24h"},
		{"protect app for no platform", connector, []edit{{"spec.protectApp", map[string]any{}}}, "protectApp needs ios, androidEnterprise or both"},
		{"protect app not on the App Store", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://example.com/protect.ipa", "bundleID": "com.example.protect"}}}}, "appStoreURL must be an App Store page"},
		{"protect app bundle id with a space", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://apps.apple.com/app/id1", "bundleID": "com.example protect"}}}}, "spec.protectApp.ios.bundleID"},
		{"protect app iOS 7", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://apps.apple.com/app/id1", "bundleID": "com.example.protect", "minimumOSVersion": "7.0"}}}}, "Unsupported value: \"7.0\""},
		{"android package not a package", connector, []edit{{"spec.protectApp", map[string]any{"androidEnterprise": map[string]any{"packageID": "protect"}}}}, "spec.protectApp.androidEnterprise.packageID"},
		{"app configuration integer not a number", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://apps.apple.com/app/id1", "bundleID": "com.example.protect",
			"configuration": map[string]any{"settings": []any{map[string]any{"key": "port", "type": "Integer", "value": "443a"}}}}}}}, "an Integer value must be a whole number"},
		{"app configuration token not a token", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://apps.apple.com/app/id1", "bundleID": "com.example.protect",
			"configuration": map[string]any{"settings": []any{map[string]any{"key": "u", "type": "Token", "value": "upn"}}}}}}}, "a Token value must be one Intune token"},
		{"app configuration key twice", connector, []edit{{"spec.protectApp", map[string]any{"ios": map[string]any{
			"appStoreURL": "https://apps.apple.com/app/id1", "bundleID": "com.example.protect",
			"configuration": map[string]any{"settings": []any{map[string]any{"key": "u", "value": "a"}, map[string]any{"key": "u", "value": "b"}}}}}}}, "Duplicate value"},
		{"app assigned to a group included and excluded", connector, []edit{{"spec.protectApp", map[string]any{"androidEnterprise": map[string]any{"packageID": "com.example.protect"},
			"assignments": map[string]any{"includeGroupIDs": []any{guidA}, "excludeGroupIDs": []any{guidA}}}}}, "a group cannot be both included and excluded"},

		{"no platform", policy, []edit{{"spec.platforms", []any{}}}, "spec.platforms: Invalid value: 0: spec.platforms in body should have at least 1 items"},
		{"duplicate platform", policy, []edit{{"spec.platforms", []any{"iOS", "iOS"}}}, "spec.platforms[1]: Duplicate value: \"iOS\""},
		{"unknown platform", policy, []edit{{"spec.platforms", []any{"Windows"}}}, "spec.platforms[0]: Unsupported value: \"Windows\""},
		{"unknown risk level", policy, []edit{{"spec.maxAllowedRisk", "critical"}}, "spec.maxAllowedRisk: Unsupported value: \"critical\""},
		{"group included and excluded", policy, []edit{{"spec.assignments.includeGroupIDs", []any{guidA}}, {"spec.assignments.excludeGroupIDs", []any{guidA}}}, "a group cannot be both included and excluded"},
		{"duplicate include group", policy, []edit{{"spec.assignments.includeGroupIDs", []any{guidB, guidB}}}, "spec.assignments.includeGroupIDs[1]: Duplicate value"},
		{"conditional access without apps", policy, []edit{{"spec.conditionalAccess.applications", map[string]any{}}}, "conditionalAccess.applications must select at least one application"},
		{"conditional access without users", policy, []edit{{"spec.conditionalAccess.allUsers", nil}}, "conditionalAccess must target allUsers or at least one group"},
		{"conditional access unknown state", policy, []edit{{"spec.conditionalAccess.state", "on"}}, "spec.conditionalAccess.state: Unsupported value: \"on\""},
		{"connector in another namespace", policy, []edit{{"spec.connectorRef.name", "other/c"}}, "namespace/name references are not allowed"},
		{"duplicate detection type", policy, []edit{{"spec.riskAssessment.detections", []any{
			map[string]any{"type": "maliciousApplication", "risk": "high"},
			map[string]any{"type": "maliciousApplication", "risk": "low"}}}}, "spec.riskAssessment.detections[1]: Duplicate value"},
		{"unknown detection type", policy, []edit{{"spec.riskAssessment.detections", []any{
			map[string]any{"type": "cosmicRay", "risk": "high"}}}}, "Unsupported value: \"cosmicRay\""},
		{"empty display name", policy, []edit{{"spec.displayName", ""}}, "spec.displayName: Invalid value: \"\": spec.displayName in body should be at least 1 chars long"},

		{"unknown step action", remediation, []edit{{"spec.steps", []any{map[string]any{"action": "reboot"}}}}, "spec.steps[0].action: Unsupported value: \"reboot\""},
		{"no steps", remediation, []edit{{"spec.steps", []any{}}}, "spec.steps in body should have at least 1 items"},
		{"device without ids", remediation, []edit{{"spec.device", map[string]any{}}}, "device needs at least one of intuneDeviceID, entraDeviceID or uesDeviceID"},
		{"device id not a GUID", remediation, []edit{{"spec.device.entraDeviceID", "pixel-7"}}, "spec.device.entraDeviceID: Invalid value: \"pixel-7\": must be a GUID"},
		{"ignoreAlert without a threat", remediation, []edit{{"spec.steps", []any{map[string]any{"action": "ignoreAlert"}}}}, "an ignoreAlert step needs spec.threat"},
		{"a token file chosen by the spec", connector, []edit{{"spec.intune.credentials", map[string]any{"workloadIdentity": map[string]any{"tokenFilePath": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}}}, "tokenFilePath is not supported"},
		{"an alert id that escapes its path", remediation, []edit{{"spec.threat", map[string]any{"alertID": "../../tenants"}}}, "spec.threat.alertID"},
		{"wipe options on a lock step", remediation, []edit{{"spec.steps", []any{map[string]any{"action": "remoteLock", "wipe": map[string]any{"keepUserData": true}}}}}, "wipe options are only allowed on a wipe step"},
		{"negative step delay", remediation, []edit{{"spec.steps", []any{map[string]any{"action": "notify", "after": "-5m"}}}}, "after must be between 0s and 8760h"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d invalid cases", len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: toUnstructured(t, tc.base)}
			u.SetNamespace(ns)
			u.SetName(fmt.Sprintf("invalid-%d", i))
			for _, e := range tc.edits {
				set(u.Object, e.path, e.value)
			}
			err := env.Client.Create(context.Background(), u)
			if err == nil {
				t.Fatalf("accepted; want refusal with %q", tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	// Each base object is valid as it stands, so every refusal above is the edit's doing.
	for _, base := range []client.Object{connector, policy, remediation} {
		b := base.DeepCopyObject().(client.Object)
		b.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), b); err != nil {
			t.Errorf("valid base %T refused: %v", base, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()

	c := validConnector()
	c.Namespace = ns
	if err := env.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := c.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"partner", s.Partner, v1.PartnerBlackBerryProtectMobile},
		{"cloud", s.Intune.Cloud, v1.CloudPublic},
		{"managementPolicy", s.ManagementPolicy, v1.ManagementPolicyManage},
		{"deletionPolicy", s.DeletionPolicy, v1.DeletionPolicyOrphan},
		{"resyncInterval (none: the installation's --default-resync applies)", s.ResyncInterval, (*metav1.Duration)(nil)},
		{"clientSecret.key", s.Intune.Credentials.ClientSecret.Key, v1.SecretKeyName("client-secret")},
		{"ues appIDKey", s.UES.Credentials.AppIDKey, v1.SecretKeyName("app-id")},
		{"ues appSecretKey", s.UES.Credentials.AppSecretKey, v1.SecretKeyName("app-secret")},
		{"threatSync.enabled", s.ThreatSync.Enabled, ptr(true)},
		{"threatSync.interval", s.ThreatSync.Interval, &metav1.Duration{Duration: time.Minute}},
		{"threatSync.minimumRisk", s.ThreatSync.MinimumRisk, v1.ThreatRiskLevel("high")},
		{"guardrails.maxDestructiveActionsPerHour", s.Guardrails.MaxDestructiveActionsPerHour, ptr(int32(5))},
		{"healthPolicy.maxHeartbeatAge", s.HealthPolicy.MaxHeartbeatAge, &metav1.Duration{Duration: 24 * time.Hour}},
	}

	p := validPolicy()
	p.Namespace = ns
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"adoption", p.Spec.Adoption, v1.AdoptionAdoptOrCreate},
		{"policy managementPolicy", p.Spec.ManagementPolicy, v1.ManagementPolicyManage},
		{"policy deletionPolicy", p.Spec.DeletionPolicy, v1.DeletionPolicyDelete},
		{"conditionalAccess.state", p.Spec.ConditionalAccess.State, v1.CAStateReportOnly},
	}...)

	r := validRemediation()
	r.Namespace = ns
	if err := env.Client.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"step after", r.Spec.Steps[0].After, &metav1.Duration{}},
		{"expireAfter", r.Spec.ExpireAfter, &metav1.Duration{Duration: 720 * time.Hour}},
	}...)

	for _, ch := range checks {
		if fmt.Sprint(deref(ch.got)) != fmt.Sprint(deref(ch.want)) {
			t.Errorf("%s defaulted to %v, want %v", ch.name, deref(ch.got), deref(ch.want))
		}
	}
}

func TestTenantIDsAreImmutable(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c := validConnector()
	c.Namespace = ns
	if err := env.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*v1.MTDConnector)
		want   string
	}{
		{"intune", func(c *v1.MTDConnector) { c.Spec.Intune.TenantID = "11111111-2222-3333-4444-555555555555" }, "tenantID is immutable"},
		{"ues", func(c *v1.MTDConnector) { c.Spec.UES.TenantID = "11111111-2222-3333-4444-555555555555" }, "ues.tenantID is immutable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := c.DeepCopy()
			tc.change(changed)
			err := env.Client.Update(ctx, changed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update = %v, want refusal %q", err, tc.want)
			}
		})
	}
	// Other fields stay editable, so the refusal is about the tenant id alone.
	changed := c.DeepCopy()
	changed.Spec.Suspend = true
	if err := env.Client.Update(ctx, changed); err != nil {
		t.Fatalf("updating suspend: %v", err)
	}
}

// TestARemediationsTenantIsFixed: an approval is given for a plan in one tenant, so a
// remediation cannot be moved to another connector.
func TestARemediationsTenantIsFixed(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	r := validRemediation()
	r.Namespace = ns
	if err := env.Client.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	moved := r.DeepCopy()
	moved.Spec.ConnectorRef.Name = "another-teams-connector"
	if err := env.Client.Update(ctx, moved); err == nil || !strings.Contains(err.Error(), "connectorRef is immutable") {
		t.Fatalf("update = %v, want refusal \"connectorRef is immutable\"", err)
	}
	dry := r.DeepCopy()
	dry.Spec.DryRun = true
	if err := env.Client.Update(ctx, dry); err != nil {
		t.Fatalf("updating dryRun: %v", err)
	}
}

// TestThreatDetailIsAddedNeverChanged: the intake opens a remediation from Intune's
// device risk with no alert yet, and a later alert fills in its id, type and detail;
// what is set can never be changed or removed.
func TestThreatDetailIsAddedNeverChanged(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	r := validRemediation()
	r.Namespace = ns
	r.Spec.Threat = &v1.ThreatReference{Source: v1.SourceIntuneDeviceRisk, Risk: "high"}
	if err := env.Client.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	enriched := r.DeepCopy()
	enriched.Spec.Threat.AlertID, enriched.Spec.Threat.Type, enriched.Spec.Threat.Detail = "a1", "maliciousApplication", "com.evil"
	if err := env.Client.Update(ctx, enriched); err != nil {
		t.Fatalf("adding the alert's detail: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*v1.ThreatRemediation)
		want   string
	}{
		{"alert id", func(r *v1.ThreatRemediation) { r.Spec.Threat.AlertID = "a2" }, "threat.alertID cannot change once set"},
		{"type", func(r *v1.ThreatRemediation) { r.Spec.Threat.Type = "unsafeWifi" }, "threat.type cannot change once set"},
		{"source", func(r *v1.ThreatRemediation) { r.Spec.Threat.Source = v1.SourceUESModelledAPI }, "threat.source cannot change once set"},
		{"removed", func(r *v1.ThreatRemediation) { r.Spec.Threat = nil }, "spec.threat cannot be removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := enriched.DeepCopy()
			tc.change(changed)
			err := env.Client.Update(ctx, changed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update = %v, want refusal %q", err, tc.want)
			}
		})
	}
}

func TestKubectlExplainReadsWell(t *testing.T) {
	out, stderr, err := env.Kubectl("explain", "mtdconnector.spec.intune")
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"Microsoft Intune side",
		"tenantID\t<string> -required-",
		"Microsoft Entra tenant (directory) id",
		"credentials\t<Object> -required-",
		"exactly one of clientSecret",
		"connectorSettings\t<Object>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain output lacks %q:\n%s", want, out)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// deref prints pointers by value so that table rows compare what users see.
func deref(v any) any {
	switch p := v.(type) {
	case *bool:
		if p != nil {
			return *p
		}
	case *int32:
		if p != nil {
			return *p
		}
	case *metav1.Duration:
		if p != nil {
			return p.Duration
		}
	}
	return v
}

func TestProtectAppDefaults(t *testing.T) {
	c := validConnector()
	c.Namespace = namespace(t)
	c.Spec.ProtectApp = &v1.ProtectAppSpec{IOS: &v1.IOSProtectApp{AppStoreURL: "https://apps.apple.com/app/id1", BundleID: "com.example.protect",
		Configuration: &v1.AppConfigurationSpec{Settings: []v1.AppConfigSetting{{Key: "u", Value: "{{userprincipalname}}"}}}}}
	if err := env.Client.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ios := c.Spec.ProtectApp.IOS
	for _, ch := range []struct{ name, got, want string }{
		{"displayName", ios.DisplayName, "BlackBerry Protect Mobile"},
		{"publisher", ios.Publisher, "BlackBerry"},
		{"minimumOSVersion (the product page's iOS 13.0)", string(ios.MinimumOSVersion), "13.0"},
		{"setting type", string(ios.Configuration.Settings[0].Type), "String"},
	} {
		if ch.got != ch.want {
			t.Errorf("%s defaulted to %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}
