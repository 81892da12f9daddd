package stack

import (
	"context"
	"fmt"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtls"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// ApplySamples applies config/samples with real `kubectl apply -k`, through an overlay
// that changes only what must differ on the twin: the credentials in the Secrets, the
// endpoints and CA of the connector (and its modelledMobileAPI opt-in when the stack
// runs the modelled routes), and the Conditional Access state (enabled rather than the
// sample's cautious reportOnly, so that blocking shows). Without the modelled API the
// sample policy's riskAssessment cannot be written by the operator, so the stack does
// what an administrator does in the UES console first: it sets the same assessment
// through the twin's admin API.
func (s *Stack) ApplySamples(ctx context.Context) error {
	if !s.ModelledUES {
		if err := s.setRiskAssessmentInConsole(ctx); err != nil {
			return err
		}
	}
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
				op{"op": "add", "path": "/spec/ues/caBundle", "value": caRef},
				op{"op": "add", "path": "/spec/ues/modelledMobileAPI", "value": s.ModelledUES},
				op{"op": "replace", "path": "/spec/threatSync/syslog/port", "value": s.SyslogPort}),
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
	pki, err := s.syslogCertificate(ctx, dir)
	if err != nil {
		return err
	}
	// The chart's admission policies resolve the ThreatRemediation schema, which the API
	// server publishes a moment after the CRD is created: until then it answers 503.
	var applyErr error
	if err := poll(ctx, time.Minute, func() bool {
		_, applyErr = s.Kubectl(ctx, "apply", "-k", dir)
		return applyErr == nil || !strings.Contains(applyErr.Error(), "ServiceUnavailable")
	}); err != nil {
		return fmt.Errorf("kubectl apply of the samples: %w", applyErr)
	}
	if applyErr != nil {
		return applyErr
	}
	return s.sendSyslogFromUES(ctx, pki)
}

// syslogCertificate makes the listener's certificate, as cert-manager or a person
// would, into the kubernetes.io/tls Secret the sample connector names.
func (s *Stack) syslogCertificate(ctx context.Context, dir string) (*simtls.PKI, error) {
	pki, err := simtls.New("127.0.0.1")
	if err != nil {
		return nil, err
	}
	crt, key := filepath.Join(dir, "syslog.crt"), filepath.Join(dir, "syslog.key")
	if err := os.WriteFile(crt, pki.ServerCertPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(key, pki.ServerKeyPEM, 0o600); err != nil {
		return nil, err
	}
	s.step("kubectl create secret tls syslog-tls: the certificate of the connector's syslog listener")
	_, err = s.Kubectl(ctx, "create", "secret", "tls", "syslog-tls", "-n", SamplesNamespace, "--cert", crt, "--key", key)
	return pki, err
}

// sendSyslogFromUES turns on the twin's UES Syslog/SIEM integration, as an administrator
// does in the console: Mobile Alerts, TCP with TLS, to the listener's address.
func (s *Stack) sendSyslogFromUES(ctx context.Context, pki *simtls.PKI) error {
	dest := "127.0.0.1:" + strconv.Itoa(s.SyslogPort)
	s.step("in the UES console (the twin's admin API), Syslog/SIEM: Mobile Alerts over TCP + TLS to %s", dest)
	_, err := s.Admin.SetSyslog(ctx, s.Sim[sim.EnvTenantID], adminapi.SyslogConfig{Enabled: true, Destination: dest, TLS: true,
		CAPEM: string(pki.CAPEM), Framing: adminapi.SyslogOctetCounting})
	return err
}

// setRiskAssessmentInConsole puts the sample policy's riskAssessment into the twin's UES
// tenant, as an administrator does in the console (Policies > User policy > Protect
// Mobile > Risk assessment).
func (s *Stack) setRiskAssessmentInConsole(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(s.Root, "config", "samples", "mtd_v1alpha1_deviceriskpolicy.yaml"))
	if err != nil {
		return err
	}
	var pol v1.DeviceRiskPolicy
	if err := yaml.Unmarshal(data, &pol); err != nil {
		return err
	}
	if pol.Spec.RiskAssessment == nil {
		return nil
	}
	ra := map[string]world.Risk{}
	for _, d := range pol.Spec.RiskAssessment.Detections {
		ra[string(d.Type)] = world.Risk(d.Risk)
	}
	s.step("in the UES console (the twin's admin API), an administrator sets the risk assessment the sample declares: BlackBerry publishes no API for it")
	return s.Admin.SetRiskAssessment(ctx, s.Sim[sim.EnvTenantID], ra)
}
