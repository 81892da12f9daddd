package chart_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	release   = "mtd"
	namespace = "mtd-system"
	fullname  = "mtd-mtd-operator"
	keepAnno  = "helm.sh/resource-policy"
)

// repoRoot is the repository's top directory, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir() string { return filepath.Join(repoRoot(), "charts", "mtd-operator") }

// tool is bin/<name> (built by hack/tools.sh when missing).
func tool(t *testing.T, name string) string { return testkit.Tool(t, name) }

// run runs a tool in the repository and returns its stdout; the error carries stderr.
func run(t *testing.T, bin string, args ...string) (string, error) {
	return testkit.RunTool(t, bin, args...)
}

// obj is one rendered manifest.
type obj map[string]any

func (o obj) kind() string { s, _ := o["kind"].(string); return s }
func (o obj) meta() map[string]any {
	m, _ := o["metadata"].(map[string]any)
	return m
}
func (o obj) name() string      { s, _ := o.meta()["name"].(string); return s }
func (o obj) namespace() string { s, _ := o.meta()["namespace"].(string); return s }
func (o obj) stringMap(field string) map[string]string {
	out := map[string]string{}
	m, _ := o.meta()[field].(map[string]any)
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// into converts the object into a typed API object, rejecting fields the type does not
// have (a misspelt or misplaced field in a template fails here, not in a cluster).
func (o obj) into(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s %s: %v", o.kind(), o.name(), err)
	}
}

// view decodes the parts of the object that v declares, ignoring the rest.
func (o obj) view(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v", o.kind(), o.name(), err)
	}
}

// typed are the built-in kinds the chart and the overlays render, decoded strictly by
// assertStrict.
var typed = map[string]func() any{
	"Namespace":           func() any { return &corev1.Namespace{} },
	"ServiceAccount":      func() any { return &corev1.ServiceAccount{} },
	"Service":             func() any { return &corev1.Service{} },
	"Deployment":          func() any { return &appsv1.Deployment{} },
	"PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"NetworkPolicy":       func() any { return &networkingv1.NetworkPolicy{} },
	"ClusterRole":         func() any { return &rbacv1.ClusterRole{} },
	"ClusterRoleBinding":  func() any { return &rbacv1.ClusterRoleBinding{} },
	"Role":                func() any { return &rbacv1.Role{} },
	"RoleBinding":         func() any { return &rbacv1.RoleBinding{} },

	"ValidatingAdmissionPolicy":        func() any { return &admissionv1.ValidatingAdmissionPolicy{} },
	"ValidatingAdmissionPolicyBinding": func() any { return &admissionv1.ValidatingAdmissionPolicyBinding{} },
	"MutatingAdmissionPolicy":          func() any { return &admissionv1.MutatingAdmissionPolicy{} },
	"MutatingAdmissionPolicyBinding":   func() any { return &admissionv1.MutatingAdmissionPolicyBinding{} },
}

// assertStrict decodes every object of a built-in kind strictly and checks that nothing
// of another kind but CRDs and ServiceMonitors is rendered.
func assertStrict(t *testing.T, m manifests) {
	t.Helper()
	for _, o := range m {
		if newT, ok := typed[o.kind()]; ok {
			o.into(t, newT())
			continue
		}
		switch o.kind() {
		case "CustomResourceDefinition", "ServiceMonitor":
		default:
			t.Errorf("unexpected kind %s (%s)", o.kind(), o.name())
		}
	}
}

// parse splits a multi-document YAML stream into objects, skipping empty documents.
func parse(t *testing.T, stream string) []obj {
	t.Helper()
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var out []obj
	for {
		var o obj
		err := d.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests do not parse: %v", err)
		}
		if len(o) == 0 {
			continue
		}
		if o.kind() == "" || o.name() == "" {
			t.Fatalf("a rendered object lacks kind or name: %v", o)
		}
		out = append(out, o)
	}
	return out
}

type manifests []obj

func (m manifests) all(kind string) []obj {
	var out []obj
	for _, o := range m {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (m manifests) find(kind, ns, name string) obj {
	for _, o := range m {
		if o.kind() == kind && o.namespace() == ns && o.name() == name {
			return o
		}
	}
	return nil
}

func (m manifests) must(t *testing.T, kind, ns, name string) obj {
	t.Helper()
	o := m.find(kind, ns, name)
	if o == nil {
		var have []string
		for _, o := range m {
			have = append(have, o.kind()+" "+o.namespace()+"/"+o.name())
		}
		t.Fatalf("no %s %s/%s rendered; have:\n  %s", kind, ns, name, strings.Join(have, "\n  "))
	}
	return o
}

// template renders the chart with helm template and the given values.
func template(t *testing.T, values string, extra ...string) (manifests, error) {
	t.Helper()
	args := []string{"template", release, chartDir(), "--namespace", namespace}
	if values != "" {
		f := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", f)
	}
	out, err := run(t, tool(t, "helm"), append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	return parse(t, out), nil
}

func mustTemplate(t *testing.T, values string, extra ...string) manifests {
	t.Helper()
	m, err := template(t, values, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readObjects parses one YAML file of the repository.
func readObjects(t *testing.T, rel string) []obj {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, string(b))
}

// generatedRules are the rules `make manifests` generates from the markers.
func generatedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	objs := readObjects(t, "config/rbac/role.yaml")
	if len(objs) != 1 || objs[0].kind() != "ClusterRole" {
		t.Fatalf("config/rbac/role.yaml: want one ClusterRole, got %d objects", len(objs))
	}
	var role rbacv1.ClusterRole
	objs[0].into(t, &role)
	if len(role.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	return role.Rules
}

func rulesOf(t *testing.T, o obj) []rbacv1.PolicyRule {
	t.Helper()
	var r struct {
		Rules []rbacv1.PolicyRule `json:"rules"`
	}
	o.view(t, &r)
	return r.Rules
}

func assertRules(t *testing.T, what string, got, want []rbacv1.PolicyRule) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s rules differ from config/rbac/role.yaml\n got: %s\nwant: %s", what, g, w)
	}
}

// hasRule reports whether rules grant every verb on group/resource.
func hasRule(rules []rbacv1.PolicyRule, group, resource string, verbs ...string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) {
			ok := true
			for _, v := range verbs {
				ok = ok && slices.Contains(r.Verbs, v)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func deployment(t *testing.T, m manifests, ns, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	m.must(t, "Deployment", ns, name).into(t, &d)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("deployment %s: %d containers, want 1", name, n)
	}
	return &d
}

// assertHardened checks the security settings the chart and the kustomize install share.
func assertHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatalf("deployment %s: pod or container securityContext missing", d.Name)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("deployment %s: %s", d.Name, what)
		}
	}
	check("pod runAsNonRoot is not true", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	check("pod runAsUser is not 65532", psc.RunAsUser != nil && *psc.RunAsUser == 65532)
	check("pod seccompProfile is not RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault)
	check("container runAsNonRoot is not true", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot)
	check("container runAsUser is not 65532", sc.RunAsUser != nil && *sc.RunAsUser == 65532)
	check("readOnlyRootFilesystem is not true", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem)
	check("allowPrivilegeEscalation is not false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation)
	check("capabilities do not drop ALL", sc.Capabilities != nil && reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0)
	check("container seccompProfile is not RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault)
	check("privileged is set", sc.Privileged == nil || !*sc.Privileged)
	check("automountServiceAccountToken is not true", pod.AutomountServiceAccountToken != nil && *pod.AutomountServiceAccountToken)
	check("command is not /manager", reflect.DeepEqual(c.Command, []string{"/manager"}))

	// Probes: /healthz and /readyz on the port --health-probe-bind-address names.
	healthPort := int32(0)
	for _, p := range c.Ports {
		if p.Name == "health" {
			healthPort = p.ContainerPort
		}
	}
	check("no container port named health", healthPort != 0)
	check("--health-probe-bind-address does not match the health port", slices.Contains(c.Args, fmt.Sprintf("--health-probe-bind-address=:%d", healthPort)))
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("deployment %s: no HTTP %s", d.Name, p.name)
			continue
		}
		check(p.name+" path is not "+p.path, p.probe.HTTPGet.Path == p.path)
		port := p.probe.HTTPGet.Port
		check(p.name+" is not on the health port", port.StrVal == "health" || port.IntVal == healthPort)
	}
	check("no cpu and memory requests", !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero())
	check("no memory limit", !c.Resources.Limits.Memory().IsZero())

	// Leader election on, the lease namespace from the downward API.
	check("--leader-elect missing", slices.Contains(c.Args, "--leader-elect"))
	check("--leader-election-id missing", slices.Contains(c.Args, "--leader-election-id=mtd-operator.mtd.operator.dev"))
	podNS := false
	for _, e := range c.Env {
		if e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
			podNS = true
		}
	}
	check("POD_NAMESPACE is not set from metadata.namespace", podNS)

	// Secure metrics on :8443 (the manager's default for --metrics-secure is true).
	check("--metrics-bind-address=:8443 missing", slices.Contains(c.Args, "--metrics-bind-address=:8443"))
	check("--metrics-secure=false", !slices.Contains(c.Args, "--metrics-secure=false"))
}

// assertCRDs checks that the rendered CRDs are exactly config/crd/bases plus, in the
// chart, labels and (when keep) the keep annotation.
func assertCRDs(t *testing.T, m manifests, chart, keep bool) {
	t.Helper()
	bases, err := filepath.Glob(filepath.Join(repoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	rendered := m.all("CustomResourceDefinition")
	if len(rendered) != len(bases) {
		t.Errorf("%d CRDs rendered, %d in config/crd/bases", len(rendered), len(bases))
	}
	for _, b := range bases {
		want := readObjects(t, must(filepath.Rel(repoRoot(), b)))[0]
		got := m.find("CustomResourceDefinition", "", want.name())
		if got == nil {
			t.Errorf("CRD %s not rendered", want.name())
			continue
		}
		got = deepCopy(t, got)
		annotations := got.stringMap("annotations")
		if chart {
			if keep && annotations[keepAnno] != "keep" {
				t.Errorf("CRD %s: annotation %s=%q, want keep", got.name(), keepAnno, annotations[keepAnno])
			}
			if !keep && annotations[keepAnno] != "" {
				t.Errorf("CRD %s: annotation %s present with crds.keep=false", got.name(), keepAnno)
			}
			if got.stringMap("labels")["app.kubernetes.io/managed-by"] != "Helm" {
				t.Errorf("CRD %s: no chart labels", got.name())
			}
			delete(got.meta()["annotations"].(map[string]any), keepAnno)
			delete(got.meta(), "labels")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("CRD %s differs from %s", got.name(), b)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func deepCopy(t *testing.T, o obj) obj {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c obj
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHelmLintStrict(t *testing.T) {
	out, err := run(t, tool(t, "helm"), "lint", "--strict", chartDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"[WARNING]", "[ERROR]"} {
		if strings.Contains(out, bad) {
			t.Errorf("helm lint --strict reports %s:\n%s", bad, out)
		}
	}
	// The namespaced mode and every optional object lint clean too.
	if out, err := run(t, tool(t, "helm"), "lint", "--strict", chartDir(),
		"--set", "watchNamespaces={a,b}", "--set", "replicaCount=2",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "networkPolicy.enabled=true"); err != nil {
		t.Fatal(err)
	} else if strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
		t.Errorf("helm lint --strict with options:\n%s", out)
	}
}

func TestChartDefaults(t *testing.T) {
	m := mustTemplate(t, "")
	assertStrict(t, m)

	d := deployment(t, m, namespace, fullname)
	assertHardened(t, d)
	c := d.Spec.Template.Spec.Containers[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if c.Image != "ghcr.io/mtd-operator/mtd-operator:0.1.0" {
		t.Errorf("image = %q, want the appVersion tag", c.Image)
	}
	if d.Spec.Template.Spec.ServiceAccountName != fullname {
		t.Errorf("serviceAccountName = %q", d.Spec.Template.Spec.ServiceAccountName)
	}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--watch-namespaces") {
			t.Errorf("cluster-wide install passes %s", a)
		}
	}
	if !reflect.DeepEqual(d.Spec.Selector.MatchLabels, map[string]string{"app.kubernetes.io/name": "mtd-operator", "app.kubernetes.io/instance": release}) {
		t.Errorf("selector = %v", d.Spec.Selector.MatchLabels)
	}

	// Recommended labels on everything.
	for _, o := range m {
		l := o.stringMap("labels")
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if l[k] == "" {
				t.Errorf("%s %s: no label %s", o.kind(), o.name(), k)
			}
		}
	}

	// The manager's rules are exactly the generated ones, cluster-wide, bound to the SA.
	assertRules(t, "ClusterRole "+fullname+"-manager", rulesOf(t, m.must(t, "ClusterRole", "", fullname+"-manager")), generatedRules(t))
	var crb rbacv1.ClusterRoleBinding
	m.must(t, "ClusterRoleBinding", "", fullname+"-manager").into(t, &crb)
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}}
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != fullname+"-manager" || !reflect.DeepEqual(crb.Subjects, wantSubject) {
		t.Errorf("manager ClusterRoleBinding = %+v %+v", crb.RoleRef, crb.Subjects)
	}
	if n := len(m.all("Role")); n != 1 {
		t.Errorf("%d Roles rendered in a cluster-wide install, want only the leader election one", n)
	}
	m.must(t, "ServiceAccount", namespace, fullname)

	// Leader election: leases and events in the release namespace.
	le := rulesOf(t, m.must(t, "Role", namespace, fullname+"-leader-election"))
	if !hasRule(le, "coordination.k8s.io", "leases", "get", "list", "watch", "create", "update", "patch", "delete") || !hasRule(le, "", "events", "create", "patch") {
		t.Errorf("leader election Role rules = %+v", le)
	}
	var rb rbacv1.RoleBinding
	m.must(t, "RoleBinding", namespace, fullname+"-leader-election").into(t, &rb)
	if rb.RoleRef.Name != fullname+"-leader-election" || !reflect.DeepEqual(rb.Subjects, wantSubject) {
		t.Errorf("leader election RoleBinding = %+v %+v", rb.RoleRef, rb.Subjects)
	}

	// Secure metrics: TokenReviews and SubjectAccessReviews, a reader role, a Service.
	ma := rulesOf(t, m.must(t, "ClusterRole", "", fullname+"-metrics-auth"))
	if !hasRule(ma, "authentication.k8s.io", "tokenreviews", "create") || !hasRule(ma, "authorization.k8s.io", "subjectaccessreviews", "create") {
		t.Errorf("metrics-auth ClusterRole rules = %+v", ma)
	}
	m.must(t, "ClusterRoleBinding", "", fullname+"-metrics-auth")
	m.must(t, "ClusterRole", "", fullname+"-metrics-reader")
	var svc corev1.Service
	m.must(t, "Service", namespace, fullname+"-metrics").into(t, &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "https" || svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Errorf("metrics Service ports = %+v", svc.Spec.Ports)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, d.Spec.Selector.MatchLabels) {
		t.Errorf("metrics Service selector %v does not match the Deployment's %v", svc.Spec.Selector, d.Spec.Selector.MatchLabels)
	}

	// CRDs: the generated ones, kept on uninstall.
	assertCRDs(t, m, true, true)

	// Off by default.
	for _, k := range []string{"PodDisruptionBudget", "ServiceMonitor", "NetworkPolicy"} {
		if n := len(m.all(k)); n != 0 {
			t.Errorf("%d %s rendered by default", n, k)
		}
	}
}

func TestChartCRDOptions(t *testing.T) {
	assertCRDs(t, mustTemplate(t, "crds:\n  keep: false\n"), true, false)
	if n := len(mustTemplate(t, "crds:\n  install: false\n").all("CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.install=false renders %d CRDs", n)
	}
}

func TestChartNamespaced(t *testing.T) {
	m := mustTemplate(t, "watchNamespaces: [a, b]\n")
	assertStrict(t, m)
	want := generatedRules(t)
	for _, ns := range []string{"a", "b"} {
		assertRules(t, "Role "+ns+"/"+fullname+"-manager", rulesOf(t, m.must(t, "Role", ns, fullname+"-manager")), want)
		var rb rbacv1.RoleBinding
		m.must(t, "RoleBinding", ns, fullname+"-manager").into(t, &rb)
		if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != fullname+"-manager" ||
			!reflect.DeepEqual(rb.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}}) {
			t.Errorf("RoleBinding %s/%s = %+v %+v", ns, rb.Name, rb.RoleRef, rb.Subjects)
		}
	}
	if n := len(m.all("Role")); n != 3 {
		t.Errorf("%d Roles, want 3 (a, b and leader election)", n)
	}
	for _, k := range []string{"ClusterRole", "ClusterRoleBinding"} {
		if o := m.find(k, "", fullname+"-manager"); o != nil {
			t.Errorf("namespaced install renders %s %s", k, o.name())
		}
		for _, o := range m.all(k) {
			// Besides the metrics reviews, only the roles for people, which grant the
			// operator nothing (they are bound by RoleBindings in the teams' namespaces).
			people := k == "ClusterRole" && (strings.HasSuffix(o.name(), "-viewer") || strings.HasSuffix(o.name(), "-editor") || strings.HasSuffix(o.name(), "-approver"))
			if !people && !strings.HasSuffix(o.name(), "-metrics-auth") && !strings.HasSuffix(o.name(), "-metrics-reader") {
				t.Errorf("namespaced install renders %s %s", k, o.name())
			}
		}
	}
	// Secure metrics still need cluster-scoped reviews; leader election stays in the release namespace.
	m.must(t, "ClusterRole", "", fullname+"-metrics-auth")
	m.must(t, "Role", namespace, fullname+"-leader-election")
	d := deployment(t, m, namespace, fullname)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--watch-namespaces=a,b") {
		t.Errorf("args = %v, want --watch-namespaces=a,b", d.Spec.Template.Spec.Containers[0].Args)
	}
	assertHardened(t, d)
}

func TestChartTwoReplicas(t *testing.T) {
	m := mustTemplate(t, "replicaCount: 2\n")
	assertStrict(t, m)
	d := deployment(t, m, namespace, fullname)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--leader-elect") {
		t.Error("two replicas without --leader-elect")
	}
	var pdb policyv1.PodDisruptionBudget
	m.must(t, "PodDisruptionBudget", namespace, fullname).into(t, &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntVal != 1 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PDB minAvailable = %v maxUnavailable = %v, want 1 and unset", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
	if pdb.Spec.Selector == nil || !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v does not match the Deployment's %v", pdb.Spec.Selector, d.Spec.Selector.MatchLabels)
	}
	// Explicitly enabled with one replica, and with maxUnavailable.
	m = mustTemplate(t, "podDisruptionBudget:\n  enabled: true\n  maxUnavailable: 1\n")
	pdb = policyv1.PodDisruptionBudget{}
	m.must(t, "PodDisruptionBudget", namespace, fullname).into(t, &pdb)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntVal != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB = %+v, want maxUnavailable 1 only", pdb.Spec)
	}
}

// TestChartPeopleRoles: requesting and approving are separate roles, and approving is
// never handed out by Kubernetes' default roles.
func TestChartPeopleRoles(t *testing.T) {
	m := mustTemplate(t, "")
	editor := rulesOf(t, m.must(t, "ClusterRole", "", fullname+"-editor"))
	approver := rulesOf(t, m.must(t, "ClusterRole", "", fullname+"-approver"))
	viewer := rulesOf(t, m.must(t, "ClusterRole", "", fullname+"-viewer"))
	const g = "mtd.operator.dev"
	if !hasRule(editor, g, "threatremediations", "create", "update", "patch", "delete") || !hasRule(editor, g, "mtdconnectors", "create") {
		t.Errorf("editor rules = %+v", editor)
	}
	for _, r := range editor {
		for _, res := range r.Resources {
			if strings.HasSuffix(res, "/status") || slices.Contains(r.Verbs, "approve") || slices.Contains(r.Verbs, "*") {
				t.Errorf("the editor can approve: %+v", r)
			}
		}
	}
	if !hasRule(approver, g, "threatremediations", "approve") || !hasRule(approver, g, "threatremediations/status", "update", "patch") {
		t.Errorf("approver rules = %+v", approver)
	}
	for _, r := range approver {
		for _, v := range []string{"create", "update", "patch", "delete", "*"} {
			if slices.Contains(r.Resources, "threatremediations") && slices.Contains(r.Verbs, v) {
				t.Errorf("the approver can %s plans: %+v", v, r)
			}
		}
	}
	if !hasRule(viewer, g, "threatremediations", "get", "list", "watch") {
		t.Errorf("viewer rules = %+v", viewer)
	}
	labels := m.must(t, "ClusterRole", "", fullname+"-approver").stringMap("labels")
	for k := range labels {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			t.Errorf("the approver role is aggregated (%s)", k)
		}
	}
	if m.must(t, "ClusterRole", "", fullname+"-editor").stringMap("labels")["rbac.authorization.k8s.io/aggregate-to-edit"] != "true" {
		t.Error("the editor role is not aggregated into edit")
	}
	off := mustTemplate(t, "rbac:\n  userRoles:\n    aggregateToDefaultRoles: false\n")
	for k := range off.must(t, "ClusterRole", "", fullname+"-viewer").stringMap("labels") {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			t.Errorf("aggregateToDefaultRoles=false still aggregates the viewer (%s)", k)
		}
	}
	none := mustTemplate(t, "rbac:\n  userRoles:\n    create: false\napprovals:\n  admissionPolicies: false\n")
	for _, k := range []string{"ValidatingAdmissionPolicy", "MutatingAdmissionPolicy"} {
		if n := len(none.all(k)); n != 0 {
			t.Errorf("%d %s with approvals.admissionPolicies=false", n, k)
		}
	}
	if none.find("ClusterRole", "", fullname+"-approver") != nil {
		t.Error("the approver role with rbac.userRoles.create=false")
	}
	exempt := deployment(t, mustTemplate(t, "operator:\n  approvalExemptActions: [remoteLock]\n"), namespace, fullname)
	if !slices.Contains(exempt.Spec.Template.Spec.Containers[0].Args, "--approval-exempt-actions=remoteLock") {
		t.Errorf("args = %v", exempt.Spec.Template.Spec.Containers[0].Args)
	}
}

func TestChartRejectsBadValues(t *testing.T) {
	for _, c := range []struct {
		name, values string
		extra        []string
		wantErr      string
	}{
		{"replicaCount as a word", "", []string{"--set-string", "replicaCount=two"}, "replicaCount"},
		{"replicaCount as a YAML string", "replicaCount: \"two\"\n", nil, "replicaCount"},
		{"unknown top-level value", "replicas: 2\n", nil, "replicas"},
		{"unknown nested value", "metrics:\n  tls: true\n", nil, "tls"},
		{"log level", "operator:\n  logLevel: verbose\n", nil, "logLevel"},
		{"namespace name", "watchNamespaces: [Bad_NS]\n", nil, "watchNamespaces"},
		{"duration", "operator:\n  defaultResync: five minutes\n", nil, "defaultResync"},
		{"client id", "azureWorkloadIdentity:\n  enabled: true\n  clientId: not-a-guid\n", nil, "clientId"},
		{"two active replicas", "replicaCount: 2\nleaderElection:\n  enabled: false\n", nil, "leaderElection.enabled"},
		{"workload identity without a client id", "azureWorkloadIdentity:\n  enabled: true\n", nil, "clientId"},
		{"a wipe without approval", "operator:\n  approvalExemptActions: [remoteLock, wipe]\n", nil, "approvalExemptActions"},
		{"a mutating policy of sorts", "approvals:\n  mutatingPolicy: sometimes\n", nil, "mutatingPolicy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := template(t, c.values, c.extra...)
			if err == nil {
				t.Fatal("helm template accepted the values")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error does not mention %q:\n%v", c.wantErr, err)
			}
		})
	}
}

func TestChartWorkloadIdentity(t *testing.T) {
	m := mustTemplate(t, `azureWorkloadIdentity:
  enabled: true
  clientId: 11111111-2222-3333-4444-555555555555
  tenantId: 66666666-7777-8888-9999-000000000000
serviceAccount:
  annotations:
    example.com/owner: platform
  labels:
    team: mobile
podLabels:
  tier: security
podAnnotations:
  example.com/scrape: "false"
`)
	sa := m.must(t, "ServiceAccount", namespace, fullname)
	a := sa.stringMap("annotations")
	if a["azure.workload.identity/client-id"] != "11111111-2222-3333-4444-555555555555" ||
		a["azure.workload.identity/tenant-id"] != "66666666-7777-8888-9999-000000000000" ||
		a["example.com/owner"] != "platform" {
		t.Errorf("ServiceAccount annotations = %v", a)
	}
	if sa.stringMap("labels")["team"] != "mobile" {
		t.Errorf("ServiceAccount labels = %v", sa.stringMap("labels"))
	}
	d := deployment(t, m, namespace, fullname)
	l := d.Spec.Template.Labels
	if l["azure.workload.identity/use"] != "true" || l["tier"] != "security" {
		t.Errorf("pod labels = %v", l)
	}
	if d.Spec.Template.Annotations["example.com/scrape"] != "false" {
		t.Errorf("pod annotations = %v", d.Spec.Template.Annotations)
	}
	// Off by default: no label, no annotation.
	m = mustTemplate(t, "")
	if _, ok := deployment(t, m, namespace, fullname).Spec.Template.Labels["azure.workload.identity/use"]; ok {
		t.Error("azure.workload.identity/use set by default")
	}
	if _, ok := m.must(t, "ServiceAccount", namespace, fullname).stringMap("annotations")["azure.workload.identity/client-id"]; ok {
		t.Error("client-id annotation set by default")
	}
}

func TestChartOptions(t *testing.T) {
	m := mustTemplate(t, `metrics:
  serviceMonitor:
    enabled: true
    labels:
      release: prometheus
networkPolicy:
  enabled: true
  metricsFrom:
    - namespaceSelector:
        matchLabels:
          metrics: enabled
operator:
  logLevel: debug
  logFormat: console
  defaultResync: 10m
  maxConcurrentReconciles: 2
  maxDestructiveActionsPerHour: 0
extraArgs: ["--max-resync=1m"]
extraEnv:
  - name: HTTPS_PROXY
    value: http://proxy:3128
priorityClassName: system-cluster-critical
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: ops
    effect: NoSchedule
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        app.kubernetes.io/name: mtd-operator
imagePullSecrets:
  - name: regcred
image:
  tag: v9.9.9
`)
	assertStrict(t, m)
	sm := m.must(t, "ServiceMonitor", namespace, fullname)
	var smSpec struct {
		Spec struct {
			Endpoints []struct {
				Port, Scheme, Path, BearerTokenFile string
			} `json:"endpoints"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	sm.view(t, &smSpec)
	if sm["apiVersion"] != "monitoring.coreos.com/v1" || len(smSpec.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor = %v", sm)
	}
	ep := smSpec.Spec.Endpoints[0]
	if ep.Port != "https" || ep.Scheme != "https" || ep.Path != "/metrics" || ep.BearerTokenFile == "" {
		t.Errorf("ServiceMonitor endpoint = %+v", ep)
	}
	if sm.stringMap("labels")["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels = %v", sm.stringMap("labels"))
	}

	var np networkingv1.NetworkPolicy
	m.must(t, "NetworkPolicy", namespace, fullname).into(t, &np)
	ports := func(rules []networkingv1.NetworkPolicyPort) []int32 {
		var out []int32
		for _, p := range rules {
			out = append(out, p.Port.IntVal)
		}
		return out
	}
	var egress, ingress []int32
	for _, r := range np.Spec.Egress {
		egress = append(egress, ports(r.Ports)...)
	}
	for _, r := range np.Spec.Ingress {
		ingress = append(ingress, ports(r.Ports)...)
	}
	for _, p := range []int32{53, 443, 6443} {
		if !slices.Contains(egress, p) {
			t.Errorf("NetworkPolicy egress ports %v lack %d", egress, p)
		}
	}
	for _, p := range []int32{8081, 8443} {
		if !slices.Contains(ingress, p) {
			t.Errorf("NetworkPolicy ingress ports %v lack %d", ingress, p)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("NetworkPolicy policyTypes = %v", np.Spec.PolicyTypes)
	}

	d := deployment(t, m, namespace, fullname)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	for _, a := range []string{"--log-level=debug", "--log-format=console", "--default-resync=10m", "--max-concurrent-reconciles=2", "--max-destructive-actions-per-hour=0", "--max-resync=1m"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if c.Image != "ghcr.io/mtd-operator/mtd-operator:v9.9.9" {
		t.Errorf("image = %s", c.Image)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "HTTPS_PROXY" }) {
		t.Errorf("env = %v", c.Env)
	}
	if pod.PriorityClassName != "system-cluster-critical" || pod.NodeSelector["kubernetes.io/os"] != "linux" ||
		len(pod.Tolerations) != 1 || len(pod.TopologySpreadConstraints) != 1 || len(pod.ImagePullSecrets) != 1 {
		t.Errorf("scheduling settings not rendered: %+v", pod)
	}
	assertHardened(t, d)
}

// kustomize renders a kustomization under config/.
func kustomize(t *testing.T, dir string) manifests {
	t.Helper()
	out, err := run(t, tool(t, "kubectl"), "kustomize", filepath.Join(repoRoot(), dir))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, out)
}

func TestKustomizeMatchesChart(t *testing.T) {
	const ns = "mtd-operator-system"
	k := kustomize(t, "config/default")
	assertStrict(t, k)
	chart := mustTemplate(t, "")

	// The same manager rules in both installs, and both equal to the generated role.
	kRules := rulesOf(t, k.must(t, "ClusterRole", "", "mtd-operator-manager-role"))
	assertRules(t, "kustomize ClusterRole", kRules, generatedRules(t))
	assertRules(t, "kustomize ClusterRole vs chart", kRules, rulesOf(t, chart.must(t, "ClusterRole", "", fullname+"-manager")))
	var crb rbacv1.ClusterRoleBinding
	k.must(t, "ClusterRoleBinding", "", "mtd-operator-manager-rolebinding").into(t, &crb)
	sa := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "mtd-operator-controller-manager", Namespace: ns}}
	if crb.RoleRef.Name != "mtd-operator-manager-role" || !reflect.DeepEqual(crb.Subjects, sa) {
		t.Errorf("manager ClusterRoleBinding = %+v %+v", crb.RoleRef, crb.Subjects)
	}

	// Leader election and metrics auth rules: the same as the chart's.
	for _, p := range []struct{ kind, kname, cns, cname string }{
		{"Role", "mtd-operator-leader-election-role", namespace, fullname + "-leader-election"},
		{"ClusterRole", "mtd-operator-metrics-auth-role", "", fullname + "-metrics-auth"},
		{"ClusterRole", "mtd-operator-metrics-reader", "", fullname + "-metrics-reader"},
	} {
		kns := ""
		if p.kind == "Role" {
			kns = ns
		}
		got := rulesOf(t, k.must(t, p.kind, kns, p.kname))
		want := rulesOf(t, chart.must(t, p.kind, p.cns, p.cname))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s rules %+v differ from the chart's %+v", p.kind, p.kname, got, want)
		}
	}
	k.must(t, "RoleBinding", ns, "mtd-operator-leader-election-rolebinding")
	k.must(t, "ClusterRoleBinding", "", "mtd-operator-metrics-auth-rolebinding")
	k.must(t, "ServiceAccount", ns, "mtd-operator-controller-manager")
	k.must(t, "Namespace", "", ns)

	// The Deployment: as hardened as the chart's, with the same probes and flags.
	kd := deployment(t, k, ns, "mtd-operator-controller-manager")
	assertHardened(t, kd)
	cd := deployment(t, chart, namespace, fullname)
	kc, cc := kd.Spec.Template.Spec.Containers[0], cd.Spec.Template.Spec.Containers[0]
	if !reflect.DeepEqual(kc.SecurityContext, cc.SecurityContext) || !reflect.DeepEqual(kd.Spec.Template.Spec.SecurityContext, cd.Spec.Template.Spec.SecurityContext) {
		t.Errorf("security contexts differ:\nkustomize %+v %+v\nchart     %+v %+v", kd.Spec.Template.Spec.SecurityContext, kc.SecurityContext, cd.Spec.Template.Spec.SecurityContext, cc.SecurityContext)
	}
	sortedArgs := func(a []string) []string { a = slices.Clone(a); slices.Sort(a); return a }
	if !reflect.DeepEqual(sortedArgs(kc.Args), sortedArgs(cc.Args)) {
		t.Errorf("args differ:\nkustomize %v\nchart     %v", kc.Args, cc.Args)
	}
	if !reflect.DeepEqual(kc.LivenessProbe.HTTPGet, cc.LivenessProbe.HTTPGet) || !reflect.DeepEqual(kc.ReadinessProbe.HTTPGet, cc.ReadinessProbe.HTTPGet) {
		t.Error("probes differ between kustomize and the chart")
	}
	if kc.Image != cc.Image {
		t.Errorf("image: kustomize %s, chart %s (config/manager/kustomization.yaml's newTag should be the chart's appVersion)", kc.Image, cc.Image)
	}
	if !reflect.DeepEqual(kc.Resources, cc.Resources) {
		t.Errorf("resources differ: kustomize %v, chart %v", kc.Resources, cc.Resources)
	}
	var svc corev1.Service
	k.must(t, "Service", ns, "mtd-operator-controller-manager-metrics-service").into(t, &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 || !reflect.DeepEqual(svc.Spec.Selector, kd.Spec.Selector.MatchLabels) {
		t.Errorf("metrics Service = %+v", svc.Spec)
	}

	// The CRDs, unchanged.
	assertCRDs(t, k, false, false)

	// Everything namespaced lands in the operator's namespace.
	for _, o := range k {
		switch o.kind() {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
		default:
			if o.namespace() != ns {
				t.Errorf("%s %s in namespace %q, want %s", o.kind(), o.name(), o.namespace(), ns)
			}
		}
	}
	// Prometheus and NetworkPolicy are options (commented out in config/default).
	for _, kind := range []string{"ServiceMonitor", "NetworkPolicy"} {
		if n := len(k.all(kind)); n != 0 {
			t.Errorf("config/default renders %d %s", n, kind)
		}
	}
}

func TestKustomizeOptions(t *testing.T) {
	p := kustomize(t, "config/prometheus")
	sm := p.must(t, "ServiceMonitor", "system", "controller-manager-metrics-monitor")
	if sm["apiVersion"] != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion = %v", sm["apiVersion"])
	}
	n := kustomize(t, "config/network-policy")
	assertStrict(t, n)
	if len(n.all("NetworkPolicy")) != 2 {
		t.Errorf("config/network-policy renders %d NetworkPolicies, want 2", len(n.all("NetworkPolicy")))
	}
	// Uncommented in config/default (as its comments suggest), they land in the operator's
	// namespace with the prefix.
	enabled := filepath.Join(t.TempDir(), "config")
	copyDir(t, filepath.Join(repoRoot(), "config"), enabled)
	kf := filepath.Join(enabled, "default", "kustomization.yaml")
	b, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, opt := range []string{"../prometheus", "../network-policy"} {
		if !strings.Contains(text, "\n#- "+opt+"\n") {
			t.Fatalf("config/default/kustomization.yaml lacks the commented option #- %s", opt)
		}
		text = strings.Replace(text, "\n#- "+opt+"\n", "\n- "+opt+"\n", 1)
	}
	if err := os.WriteFile(kf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, tool(t, "kubectl"), "kustomize", filepath.Join(enabled, "default"))
	if err != nil {
		t.Fatal(err)
	}
	all := manifests(parse(t, out))
	assertStrict(t, all)
	all.must(t, "ServiceMonitor", "mtd-operator-system", "mtd-operator-controller-manager-metrics-monitor")
	all.must(t, "NetworkPolicy", "mtd-operator-system", "mtd-operator-allow-metrics-traffic")
	all.must(t, "NetworkPolicy", "mtd-operator-system", "mtd-operator-allow-egress")

	// Both select the manager's pods.
	k := kustomize(t, "config/default")
	podLabels := deployment(t, k, "mtd-operator-system", "mtd-operator-controller-manager").Spec.Template.Labels
	for _, o := range append(n.all("NetworkPolicy"), sm) {
		var sel struct {
			Spec struct {
				PodSelector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"podSelector"`
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
			} `json:"spec"`
		}
		o.view(t, &sel)
		labels := sel.Spec.PodSelector.MatchLabels
		if o.kind() == "ServiceMonitor" {
			// selects the metrics Service, which carries the same labels
			labels = sel.Spec.Selector.MatchLabels
		}
		if len(labels) == 0 {
			t.Errorf("%s %s selects nothing", o.kind(), o.name())
		}
		for key, v := range labels {
			if podLabels[key] != v {
				t.Errorf("%s %s selects %s=%s, which the manager's pods do not carry", o.kind(), o.name(), key, v)
			}
		}
	}
}

// copyDir copies a directory tree (regular files only).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestChartMetricsOff(t *testing.T) {
	m := mustTemplate(t, "metrics:\n  enabled: false\nnetworkPolicy:\n  enabled: true\n")
	assertStrict(t, m)
	c := deployment(t, m, namespace, fullname).Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--metrics-bind-address=0") {
		t.Errorf("args %v lack --metrics-bind-address=0", c.Args)
	}
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			t.Error("metrics port declared with metrics off")
		}
	}
	for _, k := range []string{"Service", "ServiceMonitor"} {
		if n := len(m.all(k)); n != 0 {
			t.Errorf("%d %s rendered with metrics off", n, k)
		}
	}
	if m.find("ClusterRole", "", fullname+"-metrics-auth") != nil {
		t.Error("metrics-auth ClusterRole rendered with metrics off")
	}

	// Plain HTTP metrics: no reviews, an http port, and a ServiceMonitor without a token.
	m = mustTemplate(t, "metrics:\n  secure: false\n  serviceMonitor:\n    enabled: true\n")
	if m.find("ClusterRole", "", fullname+"-metrics-auth") != nil {
		t.Error("metrics-auth ClusterRole rendered with metrics.secure=false")
	}
	c = deployment(t, m, namespace, fullname).Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--metrics-secure=false") {
		t.Errorf("args %v lack --metrics-secure=false", c.Args)
	}
	var svc corev1.Service
	m.must(t, "Service", namespace, fullname+"-metrics").into(t, &svc)
	if svc.Spec.Ports[0].Name != "http" {
		t.Errorf("metrics Service port %q, want http", svc.Spec.Ports[0].Name)
	}
	var sm struct {
		Spec struct {
			Endpoints []map[string]any `json:"endpoints"`
		} `json:"spec"`
	}
	m.must(t, "ServiceMonitor", namespace, fullname).view(t, &sm)
	if ep := sm.Spec.Endpoints[0]; ep["scheme"] != "http" || ep["bearerTokenFile"] != nil || ep["tlsConfig"] != nil {
		t.Errorf("ServiceMonitor endpoint = %v", ep)
	}
}

// TestChartValuesDocumented checks that README.md documents every value in values.yaml
// (by its dotted key, or a parent key written as `key` or `key.*`).
func TestChartValuesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(chartDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := utilyaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, child := range m {
				walk(strings.TrimPrefix(prefix+"."+k, "."), child)
			}
			return
		}
		parts := strings.Split(prefix, ".")
		for i := len(parts); i > 0; i-- {
			key := strings.Join(parts[:i], ".")
			if bytes.Contains(readme, []byte("`"+key+"`")) || bytes.Contains(readme, []byte("`"+key+".*`")) {
				return
			}
		}
		t.Errorf("value %s is not documented in charts/mtd-operator/README.md", prefix)
	}
	walk("", values)
}

// notes renders templates/NOTES.txt (which helm template does not print) by copying the
// chart and rendering the notes through tpl in an extra template.
func notes(t *testing.T, values string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mtd-operator")
	copyDir(t, chartDir(), dir)
	b, err := os.ReadFile(filepath.Join(dir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.tpl"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	const probe = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get \"notes.tpl\") . | toJson }}\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(probe), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"template", release, dir, "--namespace", namespace, "--show-only", "templates/zz-notes.yaml"}
	if values != "" {
		f := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", f)
	}
	out, err := run(t, tool(t, "helm"), args...)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	parse(t, out)[0].into(t, &cm)
	return cm.Data["notes"]
}

func TestChartNotes(t *testing.T) {
	n := notes(t, "")
	for _, want := range []string{
		"installed in namespace " + namespace,
		"every namespace",
		"kubectl -n " + namespace + " rollout status deployment/" + fullname,
		"get lease mtd-operator.mtd.operator.dev",
		"--clusterrole=" + fullname + "-metrics-reader",
		"keeps them",
		"replicaCount=2",
	} {
		if !strings.Contains(n, want) {
			t.Errorf("NOTES lack %q:\n%s", want, n)
		}
	}
	n = notes(t, "watchNamespaces: [a, b]\nreplicaCount: 2\nazureWorkloadIdentity:\n  enabled: true\n  clientId: 11111111-2222-3333-4444-555555555555\n")
	for _, want := range []string{
		"watches the namespaces a, b",
		"client ID 11111111-2222-3333-4444-555555555555",
		"system:serviceaccount:" + namespace + ":" + fullname,
	} {
		if !strings.Contains(n, want) {
			t.Errorf("NOTES lack %q:\n%s", want, n)
		}
	}
	if strings.Contains(n, "replicaCount=2") {
		t.Errorf("NOTES suggest replicaCount=2 with two replicas:\n%s", n)
	}
}

// TestChartSyslog: the syslog ports reach the operator, its pod, a Service (a load
// balancer for BlackBerry's cloud, if asked) and the NetworkPolicy, from the declared
// sources only; with none, syslog is off and nothing is rendered.
func TestChartSyslog(t *testing.T) {
	off := mustTemplate(t, "")
	if off.find("Service", namespace, fullname+"-syslog") != nil {
		t.Error("a syslog Service without syslog.ports")
	}
	m := mustTemplate(t, "syslog:\n  ports: [6514, 6515]\n  portNamespaces: {\"6515\": team-b, \"6514\": team-a}\n  service:\n    type: LoadBalancer\n    sourceRanges: [203.0.113.0/24]\n    annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: \"false\"}\nnetworkPolicy:\n  enabled: true\n")
	assertStrict(t, m)
	d := deployment(t, m, namespace, fullname)
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--syslog-ports=6514,6515") || !slices.Contains(c.Args, "--syslog-port-namespaces=6514=team-a,6515=team-b") {
		t.Errorf("args = %v", c.Args)
	}
	if _, err := template(t, "syslog:\n  ports: [6514]\n  portNamespaces: {\"6600\": team-a}\n"); err == nil || !strings.Contains(err.Error(), "port 6600 is not one of syslog.ports") {
		t.Errorf("a binding of a port syslog does not use: %v", err)
	}
	var ports []int32
	for _, p := range c.Ports {
		if strings.HasPrefix(p.Name, "syslog-") {
			ports = append(ports, p.ContainerPort)
		}
	}
	if !reflect.DeepEqual(ports, []int32{6514, 6515}) {
		t.Errorf("container syslog ports = %v", ports)
	}
	var svc corev1.Service
	m.must(t, "Service", namespace, fullname+"-syslog").into(t, &svc)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
		!reflect.DeepEqual(svc.Spec.LoadBalancerSourceRanges, []string{"203.0.113.0/24"}) || len(svc.Spec.Ports) != 2 ||
		svc.Annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] != "false" {
		t.Errorf("syslog Service = %+v %v", svc.Spec, svc.Annotations)
	}
	var np networkingv1.NetworkPolicy
	m.must(t, "NetworkPolicy", namespace, fullname).into(t, &np)
	found := false
	for _, in := range np.Spec.Ingress {
		if len(in.Ports) == 2 && in.Ports[0].Port.IntVal == 6514 {
			found = len(in.From) == 1 && in.From[0].IPBlock != nil && in.From[0].IPBlock.CIDR == "203.0.113.0/24"
		}
	}
	if !found {
		t.Errorf("NetworkPolicy ingress = %+v; want the syslog ports from 203.0.113.0/24 only", np.Spec.Ingress)
	}
}
