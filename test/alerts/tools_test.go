package alerts_test

import (
	"github.com/mtd-operator/mtd-operator/internal/testkit"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository's top directory, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func repoPath(rel string) string { return filepath.Join(repoRoot(), filepath.FromSlash(rel)) }

const (
	ruleFileRel  = "charts/mtd-operator/files/prometheus-rules.yaml"
	dashboardRel = "charts/mtd-operator/files/dashboard.json"
	rulesTestRel = "test/alerts/rules_test.yaml"
)

// tool is bin/<name> (built by hack/tools.sh when missing).
func tool(t *testing.T, name string) string { return testkit.Tool(t, name) }

// run runs a tool in the repository and returns its stdout; the error carries both outputs.
func run(t *testing.T, bin string, args ...string) (string, error) {
	return testkit.RunTool(t, bin, args...)
}

// ruleFile is a Prometheus rule file, reduced to what the tests read.
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func (f ruleFile) alerts() []rule {
	var out []rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

func (f ruleFile) alert(t *testing.T, name string) rule {
	t.Helper()
	for _, r := range f.alerts() {
		if r.Alert == name {
			return r
		}
	}
	t.Fatalf("no alert %s", name)
	return rule{}
}

func readRuleFile(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.alerts()) == 0 {
		t.Fatalf("%s has no alerts", path)
	}
	return f
}

// writeRules writes groups as a rule file in a temporary directory and returns its path.
func writeRules(t *testing.T, groups any) string {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
