package v1alpha1_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// TestDefaultsMatchTheCRDs keeps each default in one place: the Go constant is what the
// controllers apply, the CRD marker is a copy controller-gen needs; this compares them
// with the generated CRDs, and checks that resyncInterval has none (the installation's
// --default-resync applies).
func TestDefaultsMatchTheCRDs(t *testing.T) {
	conn := schema(t, "mtd.operator.dev_mtdconnectors.yaml")
	rem := schema(t, "mtd.operator.dev_threatremediations.yaml")
	duration := func(d time.Duration) func(string) bool {
		return func(s string) bool {
			got, err := time.ParseDuration(s)
			return err == nil && got == d
		}
	}
	for _, tc := range []struct {
		schema *apiextensionsv1.JSONSchemaProps
		path   string
		ok     func(string) bool
		want   any
	}{
		{conn, "spec.threatSync.enabled", func(s string) bool { return s == "true" }, v1.DefaultThreatSyncEnabled},
		{conn, "spec.threatSync.interval", duration(v1.DefaultThreatSyncInterval), v1.DefaultThreatSyncInterval},
		{conn, "spec.threatSync.minimumRisk", func(s string) bool { return s == string(v1.DefaultMinimumRisk) }, v1.DefaultMinimumRisk},
		{conn, "spec.guardrails.maxDestructiveActionsPerHour", func(s string) bool { return s == "5" && v1.DefaultMaxDestructiveActionsPerHour == 5 }, v1.DefaultMaxDestructiveActionsPerHour},
		{conn, "spec.healthPolicy.maxHeartbeatAge", duration(v1.DefaultMaxHeartbeatAge), v1.DefaultMaxHeartbeatAge},
		{rem, "spec.expireAfter", duration(v1.DefaultExpireAfter), v1.DefaultExpireAfter},
	} {
		got := defaultAt(t, tc.schema, tc.path)
		if got == "" || !tc.ok(got) {
			t.Errorf("%s: the CRD defaults to %q, the API package to %v", tc.path, got, tc.want)
		}
	}
	if got := defaultAt(t, conn, "spec.resyncInterval"); got != "" {
		t.Errorf("spec.resyncInterval has the CRD default %q: --default-resync could never apply", got)
	}
}

func schema(t *testing.T, file string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// defaultAt is the default of the field at a dotted path, as its JSON text unquoted, or "".
func defaultAt(t *testing.T, s *apiextensionsv1.JSONSchemaProps, path string) string {
	t.Helper()
	for _, name := range strings.Split(path, ".") {
		next, ok := s.Properties[name]
		if !ok {
			t.Fatalf("no field %s in the schema (path %s)", name, path)
		}
		s = &next
	}
	if s.Default == nil {
		return ""
	}
	var v any
	if err := json.Unmarshal(s.Default.Raw, &v); err != nil {
		t.Fatal(err)
	}
	if str, ok := v.(string); ok {
		return str
	}
	return string(s.Default.Raw)
}
