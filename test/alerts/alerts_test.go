package alerts_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAlertRules runs promtool's own checks and unit tests on the rule file the chart
// ships: rules_test.yaml feeds input series and states, for every alert, when it fires
// (with its labels and rendered annotations) and when it must not.
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool")
	if out, err := run(t, promtool, "check", "rules", ruleFileRel); err != nil {
		t.Fatalf("promtool check rules: %v", err)
	} else {
		t.Log(strings.TrimSpace(out))
	}
	out, err := run(t, promtool, "test", "rules", rulesTestRel)
	if err != nil {
		t.Fatalf("promtool test rules: %v", err)
	}
	t.Log(strings.TrimSpace(out))
}

// promtoolTests is the part of a promtool test file the coverage check reads.
type promtoolTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name      string `json:"name"`
		AlertTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func readPromtoolTests(t *testing.T, rel string) promtoolTests {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	var pt promtoolTests
	if err := yaml.Unmarshal(b, &pt); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return pt
}

// TestEveryAlertIsTested: promtool passes an alert nobody tests, and a test of a
// misspelt alert name that expects nothing. So every alert of the file must have a case
// where it fires and one where it stays quiet, and every tested name must exist.
func TestEveryAlertIsTested(t *testing.T) {
	pt := readPromtoolTests(t, rulesTestRel)
	if !slices.Equal(pt.RuleFiles, []string{"../../" + ruleFileRel}) {
		t.Fatalf("%s tests %v, want the chart's rule file", rulesTestRel, pt.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range pt.Tests {
		for _, at := range tc.AlertTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			} else {
				quiet[at.Alertname] = true
			}
		}
	}
	known := map[string]bool{}
	for _, a := range readRuleFile(t, repoPath(ruleFileRel)).alerts() {
		known[a.Alert] = true
		if !fires[a.Alert] {
			t.Errorf("%s: no test case where it fires", a.Alert)
		}
		if !quiet[a.Alert] {
			t.Errorf("%s: no test case where it must not fire", a.Alert)
		}
	}
	for name := range fires {
		if !known[name] {
			t.Errorf("%s tests %s, which the rule file does not have", rulesTestRel, name)
		}
	}
	for name := range quiet {
		if !known[name] {
			t.Errorf("%s tests %s, which the rule file does not have", rulesTestRel, name)
		}
	}
}

// TestAlertRulesUseExportedMetrics: an alert on a metric nobody exports never fires,
// and promtool cannot tell (its tests make up their input series).
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	for _, a := range readRuleFile(t, repoPath(ruleFileRel)).alerts() {
		assertExported(t, a.Alert, a.Expr)
	}
}

// thresholdMark is the number the chart's prometheusRule.alerts.<alert>.threshold
// replaces (templates/prometheusrule.yaml uses the same pattern).
var thresholdMark = regexp.MustCompile(`([0-9][0-9.eE+-]*)([ \t]*#[ \t]*threshold)`)

// TestAlertConventions checks what the chart and the runbook rely on: at most one
// marked threshold per alert, a severity, a summary and description, and a runbook_url
// whose anchor is a heading of docs/observability.md.
func TestAlertConventions(t *testing.T) {
	doc, err := os.ReadFile(repoPath("docs/observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		if strings.HasPrefix(line, "#") {
			headings[strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))] = true
		}
	}
	const runbook = "https://github.com/mtd-operator/mtd-operator/blob/main/docs/observability.md#"
	for _, a := range readRuleFile(t, repoPath(ruleFileRel)).alerts() {
		if n := len(thresholdMark.FindAllString(a.Expr, -1)); n > 1 {
			t.Errorf("%s marks %d thresholds; the chart can override one", a.Alert, n)
		}
		if a.Labels["severity"] == "" {
			t.Errorf("%s has no severity", a.Alert)
		}
		for _, k := range []string{"summary", "description"} {
			if a.Annotations[k] == "" {
				t.Errorf("%s has no %s", a.Alert, k)
			}
		}
		if a.Annotations["runbook_url"] != runbook+strings.ToLower(a.Alert) {
			t.Errorf("%s: runbook_url %q, want %s", a.Alert, a.Annotations["runbook_url"], runbook+strings.ToLower(a.Alert))
		}
		if !headings[strings.ToLower(a.Alert)] {
			t.Errorf("docs/observability.md has no heading %s (its runbook)", a.Alert)
		}
	}
}

// TestAlertTableMatchesRules keeps the table of docs/observability.md (alert, severity,
// for, threshold) equal to the rule file, which is where the defaults live.
func TestAlertTableMatchesRules(t *testing.T) {
	doc, err := os.ReadFile(repoPath("docs/observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| \\[`(MTD[A-Za-z]+)`\\]\\(#[a-z]+\\) \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\|")
	table := map[string]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			// The threshold cell may explain the number after it: its first word is the number.
			threshold, _, _ := strings.Cut(strings.TrimSpace(m[4]), " ")
			table[m[1]] = strings.Join([]string{strings.TrimSpace(m[2]), strings.TrimSpace(m[3]), threshold}, " | ")
		}
	}
	f := readRuleFile(t, repoPath(ruleFileRel))
	for _, a := range f.alerts() {
		forText, threshold := "—", "—"
		if a.For != "" {
			forText = a.For
		}
		if m := thresholdMark.FindStringSubmatch(a.Expr); m != nil {
			threshold = m[1]
		}
		want := strings.Join([]string{a.Labels["severity"], forText, threshold}, " | ")
		got, ok := table[a.Alert]
		switch {
		case !ok:
			t.Errorf("docs/observability.md's alert table has no row for %s (want `%s`)", a.Alert, want)
		case got != want:
			t.Errorf("docs/observability.md's row for %s says %q, the rule file %q", a.Alert, got, want)
		}
		delete(table, a.Alert)
	}
	for name := range table {
		t.Errorf("docs/observability.md's alert table lists %s, which the rule file does not have", name)
	}
}
