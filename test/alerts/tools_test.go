package alerts_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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

var toolMu sync.Mutex

// tool returns bin/<name>. A missing tool is built with hack/tools.sh, which caches it by
// version outside the repository, so a second run only links it.
func tool(t *testing.T, name string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	p := repoPath("bin/" + name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Logf("%s is not in bin/: building it with hack/tools.sh %s", name, name)
	cmd := exec.Command(repoPath("hack/tools.sh"), name)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/tools.sh %s: %v\n%s", name, err, out)
	}
	return p
}

// run runs a tool in the repository and returns its stdout; the error carries both
// outputs. helm gets private, empty home directories.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot()
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
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
