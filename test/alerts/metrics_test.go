package alerts_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The operator's exported metrics, read from the source of every package the manager
// binary links (this module's and controller-runtime's): each prometheus.*Opts literal
// with its Namespace, Subsystem and Name, and each prometheus.NewDesc name (a custom
// Collector), constants resolved. Histograms and summaries
// are exported with their _bucket, _sum and _count series.
var (
	exportedOnce sync.Once
	exported     map[string]bool
	exportedErr  string
)

// metricModules are the modules whose metrics the operator's registry serves.
var metricModules = []string{"github.com/mtd-operator/mtd-operator", "sigs.k8s.io/controller-runtime"}

func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	exportedOnce.Do(func() { exported, exportedErr = scanExportedMetrics() })
	if exportedErr != "" {
		t.Fatal(exportedErr)
	}
	return exported
}

func scanExportedMetrics() (map[string]bool, string) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}\t{{.Dir}}{{end}}", "./cmd/manager")
	cmd.Dir = repoRoot()
	out, err := cmd.Output()
	if err != nil {
		return nil, "go list -deps ./cmd/manager: " + err.Error()
	}
	fset := token.NewFileSet()
	var files []pkgFile
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		path, dir, ok := strings.Cut(line, "\t")
		if !ok || !slices.ContainsFunc(metricModules, func(m string) bool { return path == m || strings.HasPrefix(path, m+"/") }) {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err.Error()
		}
		for _, e := range entries {
			if n := e.Name(); !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err.Error()
			}
			files = append(files, pkgFile{path: path, file: f})
		}
	}
	consts := stringConsts(files)
	names := map[string]bool{}
	for _, pf := range files {
		ast.Inspect(pf.file, func(n ast.Node) bool {
			if name := descName(pf, n, consts); name != "" {
				names[name] = true // a custom Collector's metric
				return true
			}
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			kind := optsKind(lit.Type)
			if kind == "" {
				return true
			}
			var parts []string
			for _, field := range []string{"Namespace", "Subsystem", "Name"} {
				if v := fieldString(pf, lit, field, consts); v != "" {
					parts = append(parts, v)
				}
			}
			name := strings.Join(parts, "_")
			if name == "" {
				return true
			}
			names[name] = true
			if kind == "Histogram" || kind == "Summary" {
				for _, s := range []string{"_sum", "_count"} {
					names[name+s] = true
				}
				if kind == "Histogram" {
					names[name+"_bucket"] = true
				}
			}
			return true
		})
	}
	return names, ""
}

// pkgFile is a parsed file with its package's import path.
type pkgFile struct {
	path string
	file *ast.File
}

// qualify names what an identifier or a pkg.Name selector refers to, as
// "<import path>.<name>".
func (pf pkgFile) qualify(e ast.Expr) (string, bool) {
	switch v := e.(type) {
	case *ast.Ident:
		return pf.path + "." + v.Name, true
	case *ast.SelectorExpr:
		x, ok := v.X.(*ast.Ident)
		if !ok {
			return "", false
		}
		for _, imp := range pf.file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			if name == x.Name {
				return p + "." + v.Sel.Name, true
			}
		}
	}
	return "", false
}

// descName returns the name of a prometheus.NewDesc("name", ...) call, or "". Its kind
// is not known, so no histogram series are added for it.
func descName(pf pkgFile, n ast.Node, consts map[string]string) string {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "NewDesc" {
		return ""
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
		return ""
	}
	if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
		s, _ := strconv.Unquote(lit.Value)
		return s
	}
	if key, ok := pf.qualify(call.Args[0]); ok {
		return consts[key]
	}
	return ""
}

// optsKind says which prometheus.<Kind>Opts a literal's type is, or "".
func optsKind(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
		return ""
	}
	switch sel.Sel.Name {
	case "CounterOpts", "GaugeOpts", "HistogramOpts", "SummaryOpts":
		return strings.TrimSuffix(sel.Sel.Name, "Opts")
	}
	return ""
}

// stringConsts maps constants ("<import path>.<name>") to their string values,
// following constants defined as other constants, in any scanned package.
func stringConsts(files []pkgFile) map[string]string {
	type ref struct {
		pf   pkgFile
		expr ast.Expr
	}
	refs := map[string]ref{}
	for _, pf := range files {
		for _, d := range pf.file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						refs[pf.path+"."+n.Name] = ref{pf, vs.Values[i]}
					}
				}
			}
		}
	}
	var resolve func(r ref, depth int) (string, bool)
	resolve = func(r ref, depth int) (string, bool) {
		if lit, ok := r.expr.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		key, ok := r.pf.qualify(r.expr)
		if next, found := refs[key]; ok && found && depth < 8 {
			return resolve(next, depth+1)
		}
		return "", false
	}
	out := map[string]string{}
	for k, r := range refs {
		if s, ok := resolve(r, 0); ok {
			out[k] = s
		}
	}
	return out
}

func fieldString(pf pkgFile, lit *ast.CompositeLit, field string, consts map[string]string) string {
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != field {
			continue
		}
		if v, ok := kv.Value.(*ast.BasicLit); ok {
			s, _ := strconv.Unquote(v.Value)
			return s
		}
		if key, ok := pf.qualify(kv.Value); ok {
			return consts[key]
		}
	}
	return ""
}

// PromQL words that are not metric names where an identifier may stand.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
	"atan2": true,
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'` + "|`[^`]*`")
	promqlComment  = regexp.MustCompile(`#[^\n]*`)
	promqlMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames returns the metric names a PromQL expression selects. It is a small
// lexer, not a parser (the main module does not import Prometheus): strings, comments,
// label matchers, ranges and grouping labels are removed; of the identifiers left,
// those called as functions, keywords, and letters inside numbers are not names.
// promtool parses the same expressions, so what it accepts is also well formed here.
func metricNames(expr string) []string {
	s := promqlString.ReplaceAllString(expr, `""`)
	s = promqlComment.ReplaceAllString(s, "")
	s = promqlMatchers.ReplaceAllString(s, "{}")
	s = promqlRanges.ReplaceAllString(s, "[]")
	s = promqlGrouping.ReplaceAllString(s, "")
	var out []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(s[loc[0]-1:loc[0]], "0123456789.") {
			continue // the exponent or unit of a number: 1e3, 5m
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or an aggregation
		}
		if promqlKeywords[strings.ToLower(word)] || slices.Contains(out, word) {
			continue
		}
		out = append(out, word)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (service) (rate(a_total{code="429", x=~"by|on"}[5m])) / on (service) group_left b > 0.05 # threshold c`: {"a_total", "b"},
		`time() - min by (namespace) (c_seconds offset 1h) > 1e+06`:                                                     {"c_seconds"},
		`histogram_quantile(0.9, sum by (le) (increase(d_bucket[1d]))) or vector(0)`:                                    {"d_bucket"},
		`(x or y) unless on (namespace, name) z{reason="or"}`:                                                           {"x", "y", "z"},
		`max_over_time(e[1h:5m]) and bool f`:                                                                            {"e", "f"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestExportedMetricsScan guards the scan itself: it must find the operator's own
// metrics and controller-runtime's, or every check against it would be vacuous.
func TestExportedMetricsScan(t *testing.T) {
	m := exportedMetrics(t)
	for _, name := range []string{
		"mtd_operator_outbound_requests_total", "mtd_operator_partner_heartbeat_age_seconds",
		"mtd_operator_threat_time_to_resolve_seconds_bucket", "controller_runtime_reconcile_total",
		"controller_runtime_reconcile_errors_total", "workqueue_depth",
	} {
		if !m[name] {
			t.Errorf("the scan of the manager's packages did not find %s", name)
		}
	}
	if m["mtd_operator_outbound_requests_total_bucket"] {
		t.Error("a counter got histogram series")
	}
}

// assertExported fails for every metric an expression uses that the operator does not
// export.
func assertExported(t *testing.T, where, expr string) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	m := exportedMetrics(t)
	for _, n := range names {
		if !m[n] {
			t.Errorf("%s uses %s, which the operator does not export", where, n)
		}
	}
}
