package stack

import (
	"context"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/mtd-operator/mtd-operator/internal/sim"
)

// ApplySamples applies config/samples with real `kubectl apply -k`, through an overlay
// that changes only what must differ on the twin: the credentials in the Secrets, the
// endpoints and CA of the connector, and the Conditional Access state (enabled rather
// than the sample's cautious reportOnly, so that blocking shows).
func (s *Stack) ApplySamples(ctx context.Context) error {
	s.step("kubectl apply -k: config/samples, pointed at the twin, into namespace %s", SamplesNamespace)
	dir := filepath.Join(s.Dir, "samples-overlay")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ca, err := os.ReadFile(s.Sim[sim.EnvCAFile])
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644); err != nil {
		return err
	}
	base, err := filepath.Rel(dir, filepath.Join(s.Root, "config", "samples"))
	if err != nil {
		return err
	}
	caRef := map[string]any{"kind": "ConfigMap", "name": "twin-ca"}
	type op = map[string]any
	patch := func(kind, name string, ops ...op) map[string]any {
		b, _ := yaml.Marshal(ops)
		return map[string]any{"target": map[string]any{"kind": kind, "name": name}, "patch": string(b)}
	}
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"namespace":  SamplesNamespace,
		"resources":  []string{base},
		"configMapGenerator": []any{map[string]any{
			"name": "twin-ca", "files": []string{"ca.crt"}, "options": map[string]any{"disableNameSuffixHash": true},
		}},
		"patches": []any{
			patch("Secret", "intune-app-credentials",
				op{"op": "replace", "path": "/stringData/client-secret", "value": s.Sim[sim.EnvClientSecret]}),
			patch("Secret", "ues-api-credentials",
				op{"op": "replace", "path": "/stringData/app-id", "value": s.Sim[sim.EnvUESAppID]},
				op{"op": "replace", "path": "/stringData/app-secret", "value": s.Sim[sim.EnvUESAppSecret]}),
			patch("MTDConnector", "blackberry",
				op{"op": "add", "path": "/spec/intune/endpoints", "value": map[string]any{
					"authorityURL": s.Sim[sim.EnvAuthorityURL], "graphURL": s.Sim[sim.EnvGraphURL]}},
				op{"op": "add", "path": "/spec/intune/caBundle", "value": caRef},
				op{"op": "remove", "path": "/spec/ues/region"},
				op{"op": "add", "path": "/spec/ues/baseURL", "value": s.Sim[sim.EnvUESURL]},
				op{"op": "add", "path": "/spec/ues/caBundle", "value": caRef}),
			patch("DeviceRiskPolicy", "mobile-threat-level",
				op{"op": "replace", "path": "/spec/conditionalAccess/state", "value": "enabled"}),
		},
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), data, 0o644); err != nil {
		return err
	}
	if _, err := s.Kubectl(ctx, "create", "namespace", SamplesNamespace); err != nil {
		return err
	}
	_, err = s.Kubectl(ctx, "apply", "-k", dir)
	return err
}
