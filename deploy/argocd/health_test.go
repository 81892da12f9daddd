package argocd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// groupDir holds one directory per kind, as Argo CD's resource_customizations does.
var groupDir = filepath.Join("resource_customizations", v1.GroupVersion.Group)

// healthTests is a kind's health_test.yaml, in the shape Argo CD's own runner reads.
type healthTests struct {
	Tests []struct {
		HealthStatus health `json:"healthStatus"`
		InputPath    string `json:"inputPath"`
	} `json:"tests"`
}

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// validStatuses are the health statuses Argo CD accepts from a script; anything else it
// turns into Unknown.
var validStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// kinds are the API's resource kinds, from the scheme the operator registers: those
// with a list kind (the scheme also holds the group's options and WatchEvent).
func kinds(t *testing.T) []string {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	known := s.KnownTypes(v1.GroupVersion)
	var out []string
	for kind := range known {
		if _, listed := known[kind+"List"]; listed {
			out = append(out, kind)
		}
	}
	sort.Strings(out)
	return out
}

func readTests(t *testing.T, kind string) healthTests {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(groupDir, kind, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ht healthTests
	if err := yaml.UnmarshalStrict(data, &ht); err != nil {
		t.Fatalf("%s/health_test.yaml: %v", kind, err)
	}
	return ht
}

func readScript(t *testing.T, kind string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(groupDir, kind, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readObject reads a fixture as Argo CD holds a live object: unstructured, decoded from
// JSON, so that integers are int64 as they are in the controller.
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// runHealth runs script on obj the way Argo CD runs a health check configured in
// argocd-cm: the standard libraries skipped (only package, base and table are opened;
// Argo CD adds a reduced os that these scripts do not use), obj as the global `obj`, a
// one-second deadline, and the returned table read as {status, message}.
func runHealth(obj *unstructured.Unstructured, script string) (health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return health{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return health{}, err
	}
	tbl, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	var h health
	for key, dst := range map[string]*string{"status": &h.Status, "message": &h.Message} {
		switch v := tbl.RawGetString(key).(type) {
		case lua.LString:
			*dst = string(v)
		case *lua.LNilType:
		default:
			return health{}, fmt.Errorf("%s is a %s, not a string", key, v.Type())
		}
	}
	if !slices.Contains(validStatuses, h.Status) {
		return health{}, fmt.Errorf("status %q is not one Argo CD accepts (it would show Unknown)", h.Status)
	}
	return h, nil
}

// toLua converts a decoded JSON value into Lua values as Argo CD does: objects and
// arrays become tables, numbers LNumber.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// TestHealthChecks runs every kind's health.lua on each recorded object of its
// health_test.yaml and compares the status and message, as Argo CD's own test of its
// resource_customizations does.
func TestHealthChecks(t *testing.T) {
	for _, kind := range kinds(t) {
		script := readScript(t, kind)
		for _, tc := range readTests(t, kind).Tests {
			t.Run(kind+"/"+tc.InputPath, func(t *testing.T) {
				obj := readObject(t, filepath.Join(groupDir, kind, tc.InputPath))
				if obj.GetKind() != kind || obj.GroupVersionKind().Group != v1.GroupVersion.Group {
					t.Fatalf("the fixture is a %s, not a %s/%s", obj.GroupVersionKind(), v1.GroupVersion.Group, kind)
				}
				got, err := runHealth(obj, script)
				if err != nil {
					t.Fatalf("health.lua: %v", err)
				}
				if got != tc.HealthStatus {
					t.Errorf("health.lua says\n  %s: %q\nwant\n  %s: %q", got.Status, got.Message, tc.HealthStatus.Status, tc.HealthStatus.Message)
				}
			})
		}
	}
}

// TestEveryKindHasAHealthCheck: each kind of the API has a health.lua and recorded
// objects for Healthy, Progressing, Degraded and Suspended; every fixture is tested and
// every test has its fixture.
func TestEveryKindHasAHealthCheck(t *testing.T) {
	for _, kind := range kinds(t) {
		t.Run(kind, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(groupDir, kind, "health.lua")); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			tested := map[string]bool{}
			for _, tc := range readTests(t, kind).Tests {
				seen[tc.HealthStatus.Status] = true
				tested[filepath.Clean(tc.InputPath)] = true
			}
			for _, want := range []string{"Healthy", "Progressing", "Degraded", "Suspended"} {
				if !seen[want] {
					t.Errorf("no recorded object is expected to be %s", want)
				}
			}
			files, err := filepath.Glob(filepath.Join(groupDir, kind, "testdata", "*"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				rel, _ := filepath.Rel(filepath.Join(groupDir, kind), f)
				if !tested[rel] {
					t.Errorf("%s is in no test of health_test.yaml", rel)
				}
				delete(tested, rel)
			}
			for missing := range tested {
				t.Errorf("health_test.yaml names %s, which does not exist", missing)
			}
		})
	}
	entries, err := os.ReadDir(groupDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(kinds(t), e.Name()) {
			t.Errorf("%s/%s is not a kind of %s", groupDir, e.Name(), v1.GroupVersion)
		}
	}
}

// TestFixturesAreObjectsOfTheAPI decodes every fixture strictly into its Go type, so a
// change of the API that the recorded objects no longer fit shows here (record them
// again: go run ./hack/record-health).
func TestFixturesAreObjectsOfTheAPI(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds(t) {
		for _, tc := range readTests(t, kind).Tests {
			obj, err := s.New(v1.GroupVersion.WithKind(kind))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(groupDir, kind, tc.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(data, obj); err != nil {
				t.Errorf("%s/%s: %v", kind, tc.InputPath, err)
			}
		}
	}
}

// libraryUse finds what Argo CD's default sandbox lacks: the string, math, os, io and
// other standard libraries, and method calls on strings (their metatable comes with the
// string library). A path the fixtures do not take would otherwise fail only in Argo CD.
var libraryUse = regexp.MustCompile(`\b(string|math|os|io|debug|coroutine|utf8)\s*\.|[\w\)\]"]\s*:\s*[A-Za-z_]\w*\s*\(`)

func TestScriptsNeedNoStandardLibrary(t *testing.T) {
	comment := regexp.MustCompile(`--.*`)
	for _, kind := range kinds(t) {
		code := comment.ReplaceAllString(readScript(t, kind), "")
		if m := libraryUse.FindString(code); m != "" {
			t.Errorf("%s/health.lua uses %q, which Argo CD's sandbox does not open unless resource.customizations.useOpenLibs is set", kind, m)
		}
	}
}

// TestDocsHaveTheScripts: the argocd-cm snippet in docs/gitops.md carries each
// health.lua exactly, under the key Argo CD reads.
func TestDocsHaveTheScripts(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "gitops.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind     string            `json:"kind"`
		Metadata map[string]any    `json:"metadata"`
		Data     map[string]string `json:"data"`
	}
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(block[1], "name: argocd-cm") {
			if err := yaml.Unmarshal([]byte(block[1]), &cm); err != nil {
				t.Fatalf("the argocd-cm snippet: %v", err)
			}
			break
		}
	}
	if cm.Kind != "ConfigMap" {
		t.Fatal("docs/gitops.md has no argocd-cm ConfigMap in a yaml block")
	}
	for _, kind := range kinds(t) {
		key := "resource.customizations.health." + v1.GroupVersion.Group + "_" + kind
		if got, ok := cm.Data[key]; !ok {
			t.Errorf("the argocd-cm snippet lacks %s", key)
		} else if got != readScript(t, kind) {
			t.Errorf("the argocd-cm snippet's %s differs from %s/%s/health.lua", key, groupDir, kind)
		}
		delete(cm.Data, key)
	}
	for key := range cm.Data {
		t.Errorf("the argocd-cm snippet has %s, which no health check provides", key)
	}
}

// TestArgoCDAgreesWithKstatus: on every recorded object, what Argo CD says does not
// contradict kstatus (Flux, `kubectl wait`, the e2e suite), which reads the same
// conditions: Healthy is Current, a Stalled status of this generation is Failed and
// Degraded, and progress on an observed generation is InProgress. Where the two differ
// on purpose (docs/gitops.md) Argo CD has a status kstatus lacks (Suspended) or is the
// stricter one.
func TestArgoCDAgreesWithKstatus(t *testing.T) {
	for _, kind := range kinds(t) {
		for _, tc := range readTests(t, kind).Tests {
			obj := readObject(t, filepath.Join(groupDir, kind, tc.InputPath))
			res, err := kstatus.Compute(obj)
			if err != nil {
				t.Fatalf("%s/%s: %v", kind, tc.InputPath, err)
			}
			observed, found, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
			current := found && observed == obj.GetGeneration()
			stalled := conditionStatus(obj, "Stalled") == "True"
			argo := tc.HealthStatus.Status
			switch {
			case argo == "Healthy" && res.Status != kstatus.CurrentStatus,
				current && stalled && (argo != "Degraded" || res.Status != kstatus.FailedStatus),
				current && argo == "Progressing" && res.Status != kstatus.InProgressStatus:
				t.Errorf("%s/%s: Argo CD %s, kstatus %s (%s)", kind, tc.InputPath, argo, res.Status, res.Message)
			}
		}
	}
}

func conditionStatus(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
