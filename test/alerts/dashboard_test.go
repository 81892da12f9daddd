package alerts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The dashboard's JSON, reduced to what the lint reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
}

// The data source every query names: the dashboard's variable, so that it works with
// whichever Prometheus Grafana has, never a uid of ours.
var wantDatasource = datasource{Type: "prometheus", UID: "${datasource}"}

func readDashboard(t *testing.T) (dashboard, []panel) {
	t.Helper()
	b, err := os.ReadFile(repoPath(dashboardRel))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardRel)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardRel, err)
	}
	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return d, all
}

// TestDashboardLint checks the dashboard's structure: an id and a title, a Prometheus
// data source variable that every query uses, unique panel ids, panels on the grid,
// and queries with a refId and an expression.
func TestDashboardLint(t *testing.T) {
	d, panels := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q", d.UID, d.Title)
	}
	var hasDatasourceVar bool
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasDatasourceVar = true
		}
		if v.Type == "query" && (v.Datasource == nil || *v.Datasource != wantDatasource) {
			t.Errorf("variable %s: datasource %v, want %v", v.Name, v.Datasource, wantDatasource)
		}
	}
	if !hasDatasourceVar {
		t.Error("no datasource variable of type datasource over prometheus")
	}
	ids := map[int]string{}
	for _, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: no id", where)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %q", where, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("%s: no title", where)
		}
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("%s: gridPos %+v is not on Grafana's 24-column grid", where, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != wantDatasource {
			t.Errorf("%s: datasource %v, want %v", where, p.Datasource, wantDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("%s: refId %q missing or repeated", where, q.RefID)
			}
			refs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s %s: no expr", where, q.RefID)
			}
			if q.Datasource == nil || *q.Datasource != wantDatasource {
				t.Errorf("%s %s: datasource %v, want %v", where, q.RefID, q.Datasource, wantDatasource)
			}
		}
	}
}

// query is one PromQL expression of the dashboard, with where it is.
type query struct{ where, expr string }

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// queries returns the panels' expressions and the metric selectors of the query
// variables (label_values(selector, label)).
func queries(t *testing.T) []query {
	t.Helper()
	d, panels := readDashboard(t)
	var out []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
		}
		out = append(out, query{"variable " + v.Name, m[1]})
	}
	for _, p := range panels {
		for _, q := range p.Targets {
			out = append(out, query{fmt.Sprintf("panel %d %q %s", p.ID, p.Title, q.RefID), q.Expr})
		}
	}
	return out
}

// grafanaVars are the dashboard variables Grafana substitutes before Prometheus sees a
// query, with values of the right shape.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "${__rate_interval}", "5m",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1d", "${__range}", "1d",
	"$datasource", "", "${job}", ".*", "$job", ".*",
	"${namespace}", ".*", "$namespace", ".*",
	"${connector}", ".*", "$connector", ".*",
)

// checkQueries has promtool parse each query, as one recording rule per query in a
// temporary rule file.
func checkQueries(t *testing.T, qs []query) error {
	t.Helper()
	var rules []map[string]string
	for i, q := range qs {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query_%d", i), "expr": grafanaVars.Replace(q.expr)})
	}
	file := writeRules(t, []map[string]any{{"name": "dashboard", "rules": rules}})
	_, err := run(t, tool(t, "promtool"), "check", "rules", "--lint=none", file)
	return err
}

// TestDashboardQueriesParse: every query is PromQL that Prometheus accepts, once
// Grafana has put its variables in. A broken query is shown to fail the same check.
func TestDashboardQueriesParse(t *testing.T) {
	qs := queries(t)
	if len(qs) < 10 {
		t.Fatalf("only %d queries found", len(qs))
	}
	if err := checkQueries(t, qs); err != nil {
		t.Fatalf("the dashboard's queries: %v", err)
	}
	if err := checkQueries(t, []query{{"broken", `sum by (risk) (mtd_operator_devices{name=~"$connector"}`}}); err == nil {
		t.Fatal("promtool accepted an unbalanced query: the check proves nothing")
	}
}

// TestDashboardUsesExportedMetrics: a panel over a metric the operator does not export
// stays empty forever.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	for _, q := range queries(t) {
		assertExported(t, q.where, grafanaVars.Replace(q.expr))
	}
}

// TestDashboardCovers: what the dashboard is for (docs/observability.md): partner
// health, devices by risk, open threats and time to resolve, outbound calls and
// throttling, reconciles and their errors, devices without the Protect app.
func TestDashboardCovers(t *testing.T) {
	used := map[string]bool{}
	for _, q := range queries(t) {
		for _, n := range metricNames(grafanaVars.Replace(q.expr)) {
			used[n] = true
		}
	}
	for _, want := range []string{
		"mtd_operator_partner_heartbeat_age_seconds", "mtd_operator_connector_condition",
		"mtd_operator_devices", "mtd_operator_active_threats", "mtd_operator_threat_time_to_resolve_seconds_bucket",
		"mtd_operator_outbound_requests_total", "mtd_operator_outbound_throttled_total",
		"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
		"mtd_operator_protect_app_devices_without_app",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// TestDashboardHasNoFixedDatasource: no query or panel anywhere in the JSON (rows,
// variables, annotations included) names a data source other than the variable.
func TestDashboardHasNoFixedDatasource(t *testing.T) {
	b, err := os.ReadFile(repoPath(dashboardRel))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if k == "datasource" {
					if m, ok := child.(map[string]any); ok && m["uid"] != wantDatasource.UID {
						t.Errorf("%s.datasource = %v", path, m)
					}
					if s, ok := child.(string); ok {
						t.Errorf("%s.datasource = %q (a name, not the variable)", path, s)
					}
				}
				walk(path+"."+k, child)
			}
		case []any:
			for i, child := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("$", v)
}
