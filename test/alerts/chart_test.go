package alerts_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	release   = "mtd"
	namespace = "mtd-system"
	fullname  = "mtd-mtd-operator"
)

type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) meta() map[string]any {
	m, _ := o["metadata"].(map[string]any)
	return m
}
func (o object) name() string      { s, _ := o.meta()["name"].(string); return s }
func (o object) namespace() string { s, _ := o.meta()["namespace"].(string); return s }
func (o object) stringMap(field string) map[string]string {
	out := map[string]string{}
	m, _ := o.meta()[field].(map[string]any)
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// render runs helm template on the chart with the given values (YAML).
func render(t *testing.T, values string) ([]object, error) {
	t.Helper()
	args := []string{"template", release, repoPath("charts/mtd-operator"), "--namespace", namespace}
	if values != "" {
		f := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", f)
	}
	out, err := run(t, tool(t, "helm"), args...)
	if err != nil {
		return nil, err
	}
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs []object
	for {
		var o object
		err := d.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			t.Fatalf("rendered manifests do not parse: %v", err)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

func mustRender(t *testing.T, values string) []object {
	t.Helper()
	objs, err := render(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func ofKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// onlyOne returns the one object of the kind named name, failing otherwise.
func onlyOne(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	var found []object
	for _, o := range ofKind(objs, kind) {
		if o.name() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %s, rendered %d", kind, name, len(found))
	}
	return found[0]
}

// asJSON normalises a value through JSON, so that YAML read by different decoders
// compares equal when it says the same.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fileGroups is the rule file's groups, as generic data.
func fileGroups(t *testing.T) any {
	t.Helper()
	b, err := os.ReadFile(repoPath(ruleFileRel))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return asJSON(t, f["groups"])
}

func ruleGroups(t *testing.T, pr object) []ruleGroup {
	t.Helper()
	spec, _ := pr["spec"].(map[string]any)
	b, err := json.Marshal(spec["groups"])
	if err != nil {
		t.Fatal(err)
	}
	var groups []ruleGroup
	if err := json.Unmarshal(b, &groups); err != nil {
		t.Fatal(err)
	}
	return groups
}

// TestChartMonitoringOffByDefault: neither the PrometheusRule nor the dashboard is
// rendered unless asked for (a cluster without the Prometheus Operator's CRDs would
// refuse the first).
func TestChartMonitoringOffByDefault(t *testing.T) {
	objs := mustRender(t, "")
	if n := len(ofKind(objs, "PrometheusRule")); n != 0 {
		t.Errorf("default values render %d PrometheusRules", n)
	}
	for _, cm := range ofKind(objs, "ConfigMap") {
		t.Errorf("default values render ConfigMap %s", cm.name())
	}
}

// TestChartPrometheusRuleIsTheRuleFile: with default overrides the PrometheusRule's
// groups are exactly the file promtool tests.
func TestChartPrometheusRuleIsTheRuleFile(t *testing.T) {
	pr := onlyOne(t, mustRender(t, "prometheusRule:\n  enabled: true\n"), "PrometheusRule", fullname)
	if pr["apiVersion"] != "monitoring.coreos.com/v1" || pr.namespace() != namespace {
		t.Errorf("PrometheusRule %v in namespace %q", pr["apiVersion"], pr.namespace())
	}
	if l := pr.stringMap("labels"); l["app.kubernetes.io/instance"] != release || l["app.kubernetes.io/name"] != "mtd-operator" {
		t.Errorf("PrometheusRule labels %v lack the chart's", l)
	}
	spec, _ := pr["spec"].(map[string]any)
	if got, want := asJSON(t, spec["groups"]), fileGroups(t); !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		wb, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("spec.groups differ from %s:\n%s\nwant\n%s", ruleFileRel, gb, wb)
	}

	pr = onlyOne(t, mustRender(t, `
prometheusRule:
  enabled: true
  namespace: monitoring
  additionalLabels: {release: kube-prometheus-stack}
`), "PrometheusRule", fullname)
	if pr.namespace() != "monitoring" || pr.stringMap("labels")["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule in %q with labels %v", pr.namespace(), pr.stringMap("labels"))
	}
}

// TestChartPrometheusRuleOverrides: an override changes that alert's field and nothing
// else, and the overridden threshold is the one promtool then applies.
func TestChartPrometheusRuleOverrides(t *testing.T) {
	pr := onlyOne(t, mustRender(t, `
prometheusRule:
  enabled: true
  alertLabels: {team: security, severity: ignored}
  alerts:
    MTDThreatOpenPastSLA: {threshold: 3600, severity: critical, for: 1m}
    MTDOutboundThrottled: {threshold: 0.5}
    MTDProtectAppMissing: {enabled: false}
`), "PrometheusRule", fullname)
	got := ruleFile{Groups: ruleGroups(t, pr)}
	want := readRuleFile(t, repoPath(ruleFileRel))
	if g, w := len(got.alerts()), len(want.alerts()); g != w-1 {
		t.Fatalf("%d alerts rendered, want %d (one disabled)", g, w-1)
	}
	for _, w := range want.alerts() {
		if w.Alert == "MTDProtectAppMissing" {
			for _, g := range got.alerts() {
				if g.Alert == w.Alert {
					t.Error("MTDProtectAppMissing is rendered though disabled")
				}
			}
			continue
		}
		g := got.alert(t, w.Alert)
		// Every alert gets the extra label; its own severity wins over alertLabels'.
		if g.Labels["team"] != "security" {
			t.Errorf("%s labels %v lack alertLabels", g.Alert, g.Labels)
		}
		wantSeverity, wantFor, wantExpr := w.Labels["severity"], w.For, w.Expr
		switch w.Alert {
		case "MTDThreatOpenPastSLA":
			wantSeverity, wantFor = "critical", "1m"
			wantExpr = strings.Replace(w.Expr, "> 86400 # threshold", "> 3600 # threshold", 1)
		case "MTDOutboundThrottled":
			wantExpr = strings.Replace(w.Expr, "> 0.05 # threshold", "> 0.5 # threshold", 1)
		}
		if wantExpr == w.Expr && (w.Alert == "MTDThreatOpenPastSLA" || w.Alert == "MTDOutboundThrottled") {
			t.Fatalf("%s: the rule file no longer has the threshold this test overrides", w.Alert)
		}
		if g.Labels["severity"] != wantSeverity || g.For != wantFor || g.Expr != wantExpr || !reflect.DeepEqual(g.Annotations, w.Annotations) {
			t.Errorf("%s rendered as\n  severity %s, for %s, expr %s\nwant\n  severity %s, for %s, expr %s", g.Alert, g.Labels["severity"], g.For, g.Expr, wantSeverity, wantFor, wantExpr)
		}
	}

	// promtool agrees: a threat open 2 hours pages under the 1-hour SLA, as critical.
	dir := t.TempDir()
	rules := writeRules(t, asJSON(t, ruleGroups(t, pr)))
	if err := os.Rename(rules, filepath.Join(dir, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(repoPath("test/alerts/testdata/overrides_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overrides_test.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool := tool(t, "promtool")
	if _, err := run(t, promtool, "check", "rules", filepath.Join(dir, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, promtool, "test", "rules", filepath.Join(dir, "overrides_test.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestChartPrometheusRuleRejectsBadOverrides: a misspelt alert, a threshold for an
// alert that has none, or a malformed duration fails the install instead of being
// ignored.
func TestChartPrometheusRuleRejectsBadOverrides(t *testing.T) {
	for values, want := range map[string]string{
		"alerts: {MTDThreatOpenPastSla: {threshold: 1}}": "prometheusRule.alerts.MTDThreatOpenPastSla: no such alert",
		"alerts: {MTDConnectorNotReady: {threshold: 1}}": `prometheusRule.alerts.MTDConnectorNotReady.threshold: the rule has no single number marked "# threshold"`,
		"alerts: {MTDConnectorNotReady: {for: 15min}}":   "/prometheusRule/alerts/MTDConnectorNotReady/for': '15min' does not match",
		"alerts: {MTDConnectorNotReady: {page: true}}":   "additional properties 'page' not allowed",
	} {
		_, err := render(t, "prometheusRule:\n  enabled: true\n  "+values+"\n")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to name %q", values, err, want)
		}
	}
}

// TestChartDashboardConfigMap: the dashboard ships verbatim, labelled for Grafana's
// sidecar.
func TestChartDashboardConfigMap(t *testing.T) {
	want, err := os.ReadFile(repoPath(dashboardRel))
	if err != nil {
		t.Fatal(err)
	}
	cm := onlyOne(t, mustRender(t, "grafanaDashboard:\n  enabled: true\n"), "ConfigMap", fullname+"-dashboard")
	if cm.namespace() != namespace || cm.stringMap("labels")["grafana_dashboard"] != "1" {
		t.Errorf("ConfigMap in %q with labels %v", cm.namespace(), cm.stringMap("labels"))
	}
	data, _ := cm["data"].(map[string]any)
	if got, _ := data["mtd-operator.json"].(string); got != string(want) {
		t.Errorf("the ConfigMap's mtd-operator.json differs from %s", dashboardRel)
	}
	if len(data) != 1 {
		t.Errorf("ConfigMap data has %d keys", len(data))
	}

	cm = onlyOne(t, mustRender(t, `
grafanaDashboard:
  enabled: true
  namespace: grafana
  label: dashboards
  labelValue: mtd
  additionalLabels: {team: security}
  annotations: {grafana_folder: Security}
`), "ConfigMap", fullname+"-dashboard")
	if l := cm.stringMap("labels"); cm.namespace() != "grafana" || l["dashboards"] != "mtd" || l["team"] != "security" || l["grafana_dashboard"] != "" || cm.stringMap("annotations")["grafana_folder"] != "Security" {
		t.Errorf("ConfigMap in %q with labels %v and annotations %v", cm.namespace(), l, cm.stringMap("annotations"))
	}
}
