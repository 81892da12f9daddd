// Package testenv starts a real control plane (etcd + kube-apiserver, built from source
// by hack/tools.sh) with this project's CRDs installed, for tests that cross the
// Kubernetes API. It never falls back to a fake client.
package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/mtd-operator/mtd-operator/internal/scheme"
)

// Env is a running control plane.
type Env struct {
	env    *envtest.Environment
	admin  *envtest.AuthenticatedUser
	Config *rest.Config
	Client client.Client
	Scheme *k8sruntime.Scheme
}

// RepoRoot is the repository's top directory, found from this file's location so that
// tests in any package agree on it.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Scheme returns a scheme with the built-in kinds and this project's API.
func Scheme() *k8sruntime.Scheme { return scheme.New() }

// Start starts etcd and kube-apiserver and installs the CRDs from config/crd/bases.
// The binaries come from KUBEBUILDER_ASSETS or, when unset, the repository's bin/
// (which `make tools` fills).
func Start() (*Env, error) { return start(true) }

// StartBare starts the control plane without the CRDs, for installing them as a user
// would (helm install of the chart).
func StartBare() (*Env, error) { return start(false) }

func start(crds bool) (*Env, error) {
	root := RepoRoot()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("control plane binary %s not found in %s: run `make tools` first", b, assets)
		}
	}
	e := &envtest.Environment{BinaryAssetsDirectory: assets}
	if crds {
		e.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
		e.ErrorIfCRDPathMissing = true
	}
	cfg, err := e.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	s := Scheme()
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	admin, err := e.AddUser(envtest.User{Name: "test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("adding the admin user: %w", err)
	}
	return &Env{env: e, admin: admin, Config: cfg, Client: c, Scheme: s}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// Kubectl runs the real kubectl against the control plane as a cluster admin.
func (e *Env) Kubectl(args ...string) (stdout, stderr string, err error) {
	k, err := e.admin.Kubectl()
	if err != nil {
		return "", "", err
	}
	outR, errR, runErr := k.Run(args...)
	return readAll(outR), readAll(errR), runErr
}

// KubeConfig returns a kubeconfig for a cluster admin.
func (e *Env) KubeConfig() ([]byte, error) { return e.admin.KubeConfig() }

func readAll(r io.Reader) string {
	if r == nil {
		return ""
	}
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	return b.String()
}
