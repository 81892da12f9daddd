package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mtd-operator/mtd-operator/internal/stack"
)

// The three kinds, in the order their files are written.
const (
	kindConnector   = "MTDConnector"
	kindPolicy      = "DeviceRiskPolicy"
	kindRemediation = "ThreatRemediation"
)

// resource is the kubectl name of each kind.
var resource = map[string]string{
	kindConnector:   "mtdconnector",
	kindPolicy:      "deviceriskpolicy",
	kindRemediation: "threatremediation",
}

// fixture is one recorded object and the health Argo CD should give it.
type fixture struct {
	file    string // testdata/<file>.yaml
	status  string
	message string
	obj     *unstructured.Unstructured
}

type recorder struct {
	ctx      context.Context
	st       *stack.Stack
	operator *stack.Operator
	fixtures map[string][]fixture
}

// record keeps u as testdata/<file>.yaml of its kind, expecting status and message.
func (r *recorder) record(u *unstructured.Unstructured, file, status, message string) {
	if r.fixtures == nil {
		r.fixtures = map[string][]fixture{}
	}
	kind := u.GetKind()
	r.fixtures[kind] = append(r.fixtures[kind], fixture{file: file, status: status, message: message, obj: clean(u)})
	fmt.Fprintf(os.Stderr, "==> recorded %s/%s as %s: %s (%s)\n", kind, u.GetName(), file, status, message)
}

// clean drops what differs on every run and says nothing about health: the field
// managers, the ids, the resource version and kubectl's copy of the applied object.
func clean(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	u.SetManagedFields(nil)
	u.SetUID("")
	u.SetResourceVersion("")
	ann := u.GetAnnotations()
	delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
	if len(ann) == 0 {
		ann = nil
	}
	u.SetAnnotations(ann)
	refs := u.GetOwnerReferences()
	for i := range refs {
		refs[i].UID = ""
	}
	u.SetOwnerReferences(refs)
	return u
}

// kubectl runs the real kubectl as cluster admin.
func (r *recorder) kubectl(args ...string) (string, error) { return r.st.Kubectl(r.ctx, args...) }

// apply applies a manifest into the samples' namespace.
func (r *recorder) apply(manifest string) error {
	f, err := os.CreateTemp(r.st.Dir, "record-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(manifest); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = r.kubectl("apply", "-n", stack.SamplesNamespace, "-f", f.Name())
	return err
}

func (r *recorder) delete(kind, name string) error {
	_, err := r.kubectl("delete", resource[kind], name, "-n", stack.SamplesNamespace, "--wait=true")
	return err
}

// patch merges a JSON patch into the object's spec (or metadata).
func (r *recorder) patch(kind, name, merge string) error {
	_, err := r.kubectl("patch", resource[kind], name, "-n", stack.SamplesNamespace, "--type=merge", "-p", merge)
	return err
}

func (r *recorder) get(kind, name string) (*unstructured.Unstructured, error) {
	out, err := r.kubectl("get", resource[kind], name, "-n", stack.SamplesNamespace, "-o", "json")
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, u.UnmarshalJSON([]byte(out))
}

// waitFor polls the object until cond holds.
func (r *recorder) waitFor(kind, name, what string, cond func(*unstructured.Unstructured) bool) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	var lastErr error
	err := r.poll(func() bool {
		last, lastErr = r.get(kind, name)
		return lastErr == nil && cond(last)
	})
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w waiting for %s; last seen: %s %v", kind, name, err, what, describe(last), lastErr)
	}
	return last, nil
}

// poll looks at cond every 250ms for up to three minutes (the operator shares two
// cores with the control plane and the twin).
func (r *recorder) poll(cond func() bool) error {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Minute)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// describe is the object's generations and conditions, for a timeout's message.
func describe(u *unstructured.Unstructured) string {
	if u == nil {
		return "nothing"
	}
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		parts = append(parts, fmt.Sprintf("%v=%v(%v)", m["type"], m["status"], m["reason"]))
	}
	return fmt.Sprintf("generation %d, observed %d, phase %q, %s", u.GetGeneration(), observed, phase, strings.Join(parts, " "))
}

// cond is one condition of the object: its status, reason and message ("" when absent).
type cond struct{ status, reason, message string }

func condition(u *unstructured.Unstructured, typ string) cond {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			reason, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return cond{s, reason, msg}
		}
	}
	return cond{}
}

// observed says whether the status describes the object's current generation.
func observed(u *unstructured.Unstructured) bool {
	g, ok, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	return ok && g == u.GetGeneration()
}

// is returns a condition: the status describes this generation and typ has status
// (and reason, when given).
func is(typ, status, reason string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		c := condition(u, typ)
		return observed(u) && c.status == status && (reason == "" || c.reason == reason)
	}
}

func all(conds ...func(*unstructured.Unstructured) bool) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		for _, c := range conds {
			if !c(u) {
				return false
			}
		}
		return true
	}
}

// testFile is a kind's health_test.yaml, in the shape Argo CD's runner reads.
type testFile struct {
	Tests []testCase `json:"tests"`
}

type testCase struct {
	HealthStatus healthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// write replaces each kind's testdata/ and health_test.yaml with what was recorded.
func (r *recorder) write(dir string) error {
	kinds := make([]string, 0, len(r.fixtures))
	for k := range r.fixtures {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		if err := writeKind(filepath.Join(dir, kind), r.fixtures[kind]); err != nil {
			return err
		}
	}
	if len(kinds) != 3 {
		return errors.New("not every kind was recorded")
	}
	return nil
}

func writeKind(dir string, fixtures []fixture) error {
	data := filepath.Join(dir, "testdata")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	var tf testFile
	for _, f := range fixtures {
		b, err := yaml.Marshal(f.obj.Object)
		if err != nil {
			return err
		}
		path := "testdata/" + f.file + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, path), b, 0o644); err != nil {
			return err
		}
		tf.Tests = append(tf.Tests, testCase{HealthStatus: healthStatus{Status: f.status, Message: f.message}, InputPath: path})
	}
	b, err := yaml.Marshal(tf)
	if err != nil {
		return err
	}
	header := "# Recorded by `go run ./hack/record-health` (see ../../../README.md): each input is an object\n" +
		"# as the API server returned it in a run of the local stack; the expected health is the\n" +
		"# recorder's statement of what that state means, not health.lua's output.\n"
	return os.WriteFile(filepath.Join(dir, "health_test.yaml"), append([]byte(header), b...), 0o644)
}
