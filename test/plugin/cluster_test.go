package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// The plugin is tested as a user meets it: built into a directory on PATH and run by the
// real kubectl (`kubectl mtd ...`), against a real API server with the chart installed
// by helm (its CRDs, its roles for people and its admission policies), as real users
// (--as, which the admin kubeconfig may impersonate). No operator runs: the objects get
// the statuses the operator writes, written as the chart's ServiceAccount, as
// test/chart does.

const (
	release   = "mtd"
	namespace = "mtd-system"
	fullname  = "mtd-mtd-operator"
	operator  = "system:serviceaccount:" + namespace + ":" + fullname
	team      = "team-a"
	otherTeam = "team-b"
	// alice and carol request, bob and carol approve, dave only reads, mallory is nobody.
	alice, bob, carol, dave, mallory = "alice@contoso.example", "bob@contoso.example", "carol@contoso.example", "dave@contoso.example", "mallory@contoso.example"
)

type cluster struct {
	env        *testenv.Env
	kubeconfig string
	pluginDir  string // holds kubectl-mtd; put first on PATH
	now        time.Time
}

var (
	setupOnce sync.Once
	shared    *cluster
	setupErr  error
	// cleanups stop what the fixtures started, last first, after every test.
	cleanups []func()
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // envtest logs through controller-runtime
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// buildPlugin builds kubectl-mtd as a user builds it, into a directory of its own that
// kubectl finds on PATH.
func buildPlugin() (string, error) {
	dir, err := os.MkdirTemp("", "kubectl-mtd-bin-")
	if err != nil {
		return "", err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-mtd"), "./cmd/kubectl-mtd")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kubectl-mtd: %v\n%s", err, out)
	}
	return dir, nil
}

// fixture starts the cluster and seeds it once for every test of the package; a
// failed setup fails each test that needs it.
func fixture(t *testing.T) *cluster {
	t.Helper()
	setupOnce.Do(func() {
		ok := false
		defer func() {
			if !ok && setupErr == nil {
				setupErr = errors.New("the setup failed in an earlier test")
			}
		}()
		shared, setupErr = start(t)
		if setupErr == nil {
			seed(t, shared)
			ok = true
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return shared
}

func start(t *testing.T) (*cluster, error) {
	root := testenv.RepoRoot()
	bin := pluginDir(t)
	dir, err := os.MkdirTemp("", "kubectl-mtd-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	env, err := testenv.StartBare()
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = env.Stop() })
	kc, err := env.KubeConfig()
	if err != nil {
		return nil, err
	}
	c := &cluster{env: env, kubeconfig: filepath.Join(dir, "kubeconfig"), pluginDir: bin}
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	// Without the mutating policies the API server does not fill in status.approval.user:
	// the validating policy then checks that the plugin wrote the caller's own name.
	helm := exec.Command(filepath.Join(root, "bin", "helm"), "install", release, filepath.Join(root, "charts", "mtd-operator"),
		"--namespace", namespace, "--create-namespace", "--wait=false", "--set", "approvals.mutatingPolicy=false", "--kubeconfig", c.kubeconfig)
	helm.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "helm-cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "helm-config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "helm-data"))
	if out, err := helm.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("helm install: %v\n%s", err, out)
	}
	testkit.Eventually(t, 30*time.Second, "the CRDs served", func() (bool, string) {
		var l v1.ThreatRemediationList
		err := env.Client.List(context.Background(), &l)
		return err == nil, errText(err)
	})
	for _, ns := range []string{team, otherTeam} {
		c.admin(t, "create", "namespace", ns)
	}
	c.admin(t, "create", "rolebinding", "requesters", "-n", team, "--clusterrole="+fullname+"-editor", "--user="+alice, "--user="+carol)
	c.admin(t, "create", "rolebinding", "approvers", "-n", team, "--clusterrole="+fullname+"-approver", "--user="+bob, "--user="+carol)
	c.admin(t, "create", "rolebinding", "viewers", "-n", team, "--clusterrole="+fullname+"-viewer", "--user="+dave)
	c.waitForPolicies(t)
	return c, nil
}

// waitForPolicies waits until the API server enforces the validating policy, which it
// picks up asynchronously: a plan naming someone else as its requester is refused.
func (c *cluster) waitForPolicies(t *testing.T) {
	ctx := context.Background()
	testkit.Eventually(t, 30*time.Second, "the admission policies enforced", func() (bool, string) {
		probe := &v1.ThreatRemediation{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: team, Annotations: map[string]string{v1.AnnotationRequestedBy: mallory}},
			Spec: v1.ThreatRemediationSpec{ConnectorRef: v1.LocalObjectReference{Name: "blackberry"},
				Device: v1.DeviceReference{EntraDeviceID: "00000000-0000-4000-8000-000000000001"}, Steps: []v1.RemediationStep{{Action: v1.StepNotify}}},
		}
		err := c.as(t, alice).Create(ctx, probe)
		if err == nil {
			_ = c.env.Client.Delete(ctx, probe)
			return false, "a plan naming another requester was admitted"
		}
		return strings.Contains(err.Error(), "must be "+alice), err.Error()
	})
}

// as is a client that impersonates user, through the admin's credentials.
func (c *cluster) as(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(c.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cl, err := client.New(cfg, client.Options{Scheme: c.env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func (c *cluster) admin(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := c.env.Kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// result is one run of the plugin.
type result struct {
	stdout, stderr string
	code           int
}

// mtd runs `kubectl mtd args...` with the real kubectl, which finds the plugin on PATH.
func (c *cluster) mtd(t *testing.T, args ...string) result {
	t.Helper()
	kubectl := filepath.Join(testenv.RepoRoot(), "bin", "kubectl")
	// The test's kubeconfig first, so that a --kubeconfig in args wins (the last flag does).
	cmd := exec.Command(kubectl, append([]string{"mtd", "--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+c.pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl mtd %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// ok runs the plugin and fails the test unless it succeeds.
func (c *cluster) ok(t *testing.T, args ...string) string {
	t.Helper()
	res := c.mtd(t, args...)
	if res.code != 0 {
		t.Fatalf("kubectl mtd %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

func (c *cluster) remediation(t *testing.T, name string) *v1.ThreatRemediation {
	t.Helper()
	var tr v1.ThreatRemediation
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: team, Name: name}, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// mustCreate creates obj as user, then writes its status as the operator would.
func mustCreate(t *testing.T, c *cluster, user string, obj client.Object, status func()) {
	t.Helper()
	ctx := context.Background()
	if err := c.as(t, user).Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s as %s: %v", obj, obj.GetName(), user, err)
	}
	if status == nil {
		return
	}
	status()
	if err := c.as(t, operator).Status().Update(ctx, obj); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			t.Fatalf("the operator writing the status of %s: %v", obj.GetName(), err)
		}
		t.Fatal(err)
	}
}
