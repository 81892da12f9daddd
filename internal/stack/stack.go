// Package stack runs the whole product locally, as a user would meet it: a real
// kube-apiserver and etcd (built from source), the Helm chart installed into them, the
// twin of Entra, Graph/Intune and UES as its own process, and the operator binary run
// out of cluster with a kubeconfig holding the chart's own ServiceAccount token, so the
// chart's RBAC is all it has. The end-to-end suite and the demo both use it.
package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

// Namespaces of the operator's release and of the applied samples.
const (
	OperatorNamespace = "mtd-system"
	SamplesNamespace  = "mtd-demo"
	Release           = "mtd-operator"
)

// The ids config/samples uses; the twin is started with them so that the samples
// apply unchanged but for credentials and endpoints.
const (
	SampleTenantID    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	SampleClientID    = "3c1f7a9e-5b2d-4e8f-9a61-0d4b8c2e7f10"
	SampleUESTenantID = "5d0c8a2b-7e41-4f3a-b6c9-2e8d1f4a7b90"
)

// Options configure a stack.
type Options struct {
	// Dir keeps binaries, logs and kubeconfigs; empty makes a temporary one.
	Dir string
	// Log receives one line per step (nil: discarded).
	Log io.Writer
	// SimArgs are extra flags of the twin.
	SimArgs []string
	// ModelledUES serves the twin's modelled UES mobile routes and has the sample
	// connector opt into them (spec.ues.modelledMobileAPI). Off, the default, the twin
	// answers them as a real UES tenant does (unknown route) and the product runs on
	// documented surfaces alone.
	ModelledUES bool
	// ReportDelay is how long the twin's UES takes to report a device's risk to Intune
	// (the real integration reports periodically). Zero means DefaultReportDelay; use a
	// negative value for immediate reports.
	ReportDelay time.Duration
}

// DefaultReportDelay keeps the demo honest about timing without making it slow.
const DefaultReportDelay = 5 * time.Second

// Stack is a running local installation.
type Stack struct {
	Root, Dir          string
	Plane              *testenv.Env
	AdminKubeconfig    string
	OperatorKubeconfig string
	// Sim holds the twin's MTD_SIM_* settings; Admin drives it.
	Sim        map[string]string
	Admin      *simclient.Client
	ManagerBin string
	SimBin     string

	// ModelledUES and ReportDelay are as started (see Options).
	ModelledUES bool
	ReportDelay time.Duration
	// SyslogPort is the one port the installation allows syslog listeners
	// (--syslog-ports), on 127.0.0.1: the sample connector's, which the twin's UES
	// sends its Mobile Alerts to over TLS.
	SyslogPort int

	log       io.Writer
	tempDir   bool
	simCmd    *exec.Cmd
	operators []*Operator
}

// Start builds the binaries and brings everything up but the operator (StartOperator).
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	s = &Stack{Root: testenv.RepoRoot(), Dir: o.Dir, log: o.Log, ModelledUES: o.ModelledUES, ReportDelay: o.ReportDelay}
	switch {
	case s.ReportDelay == 0:
		s.ReportDelay = DefaultReportDelay
	case s.ReportDelay < 0:
		s.ReportDelay = 0
	}
	if s.log == nil {
		s.log = io.Discard
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "mtd-stack-"); err != nil {
			return nil, err
		}
		s.tempDir = true
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err = s.build(ctx); err != nil {
		return s, err
	}
	s.step("starting kube-apiserver and etcd (built from source)")
	if s.Plane, err = testenv.StartBare(); err != nil {
		return s, err
	}
	kc, err := s.Plane.KubeConfig()
	if err != nil {
		return s, err
	}
	s.AdminKubeconfig = filepath.Join(s.Dir, "admin.kubeconfig")
	if err = os.WriteFile(s.AdminKubeconfig, kc, 0o600); err != nil {
		return s, err
	}
	if s.SyslogPort, err = freePort(); err != nil {
		return s, err
	}
	if err = s.startSim(ctx, o.SimArgs); err != nil {
		return s, err
	}
	if err = s.installChart(ctx); err != nil {
		return s, err
	}
	return s, s.operatorKubeconfig(ctx)
}

func (s *Stack) step(format string, args ...any) {
	fmt.Fprintf(s.log, "==> "+format+"\n", args...)
}

// build compiles the operator and the twin (the build cache makes a rebuild quick).
func (s *Stack) build(ctx context.Context) error {
	s.ManagerBin, s.SimBin = filepath.Join(s.Dir, "manager"), filepath.Join(s.Dir, "mtd-sim")
	for bin, pkg := range map[string]string{s.ManagerBin: "./cmd/manager", s.SimBin: "./cmd/mtd-sim"} {
		s.step("building %s", pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version=local", "-o", bin, pkg)
		cmd.Dir = s.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

func (s *Stack) startSim(ctx context.Context, extra []string) error {
	mode := "documented UES routes only, as a real tenant"
	if s.ModelledUES {
		mode = "with the modelled UES mobile routes"
	}
	s.step("starting the twin (mtd-sim) with the seeded demo tenant: %s; UES reports risk to Intune after %s", mode, s.ReportDelay)
	envFile := filepath.Join(s.Dir, "sim.env")
	if err := os.MkdirAll(filepath.Join(s.Dir, "sim"), 0o755); err != nil {
		return err
	}
	args := append([]string{"--addr", "127.0.0.1:0", "--write-env", envFile, "--seed-demo",
		"--ca-dir", filepath.Join(s.Dir, "sim"), "--tenant-id", SampleTenantID, "--client-id", SampleClientID,
		"--ues-tenant-id", SampleUESTenantID, "--report-delay", s.ReportDelay.String(),
		"--modelled-ues=" + strconv.FormatBool(s.ModelledUES)}, extra...)
	logf, err := os.Create(filepath.Join(s.Dir, "mtd-sim.log"))
	if err != nil {
		return err
	}
	s.simCmd = exec.Command(s.SimBin, args...)
	s.simCmd.Stdout, s.simCmd.Stderr = logf, logf
	if err := s.simCmd.Start(); err != nil {
		return err
	}
	if err := poll(ctx, 30*time.Second, func() bool { _, err := os.Stat(envFile); return err == nil }); err != nil {
		return fmt.Errorf("the twin wrote no %s: %w (see %s)", envFile, err, logf.Name())
	}
	if s.Sim, err = readEnv(envFile); err != nil {
		return err
	}
	s.Admin, err = simclient.FromEnv(s.Sim)
	return err
}

func (s *Stack) installChart(ctx context.Context) error {
	s.step("helm install %s (CRDs, RBAC, ServiceAccount) into namespace %s", Release, OperatorNamespace)
	_, err := s.run(ctx, filepath.Join(s.Root, "bin", "helm"), "install", Release, filepath.Join(s.Root, "charts", "mtd-operator"),
		"--namespace", OperatorNamespace, "--create-namespace", "--kubeconfig", s.AdminKubeconfig, "--wait=false")
	return err
}

// operatorKubeconfig writes a kubeconfig whose only credential is a token of the
// chart's ServiceAccount.
func (s *Stack) operatorKubeconfig(ctx context.Context) error {
	sa, err := s.Kubectl(ctx, "get", "serviceaccounts", "-n", OperatorNamespace, "-l", "app.kubernetes.io/instance="+Release,
		"-o", "jsonpath={.items[0].metadata.name}")
	if err != nil || strings.TrimSpace(sa) == "" {
		return fmt.Errorf("the chart's ServiceAccount was not found: %v", err)
	}
	token, err := s.Kubectl(ctx, "create", "token", strings.TrimSpace(sa), "-n", OperatorNamespace, "--duration", "6h")
	if err != nil {
		return err
	}
	admin, err := clientcmd.LoadFromFile(s.AdminKubeconfig)
	if err != nil {
		return err
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = cluster
	cfg.AuthInfos["operator"] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts["operator"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "operator", Namespace: OperatorNamespace}
	cfg.CurrentContext = "operator"
	s.OperatorKubeconfig = filepath.Join(s.Dir, "operator.kubeconfig")
	s.step("operator kubeconfig: the token of ServiceAccount %s/%s, nothing more", OperatorNamespace, strings.TrimSpace(sa))
	return clientcmd.WriteToFile(*cfg, s.OperatorKubeconfig)
}

// Kubectl runs the real kubectl as cluster admin and returns its standard output.
func (s *Stack) Kubectl(ctx context.Context, args ...string) (string, error) {
	return s.run(ctx, filepath.Join(s.Root, "bin", "kubectl"), append([]string{"--kubeconfig", s.AdminKubeconfig}, args...)...)
}

func (s *Stack) run(ctx context.Context, bin string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Close stops the operators, the twin and the control plane, and removes a
// temporary directory.
func (s *Stack) Close() {
	for _, o := range s.operators {
		o.Stop()
	}
	if s.simCmd != nil && s.simCmd.Process != nil {
		_ = s.simCmd.Process.Signal(os.Interrupt)
		_ = s.simCmd.Wait()
	}
	if s.Plane != nil {
		_ = s.Plane.Stop()
	}
	if s.tempDir {
		_ = os.RemoveAll(s.Dir)
	}
}

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for _, k := range sim.EnvKeys {
		if env[k] == "" {
			return nil, fmt.Errorf("%s lacks %s", path, k)
		}
	}
	return env, nil
}

// poll waits for cond with a deadline.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errors.New("timed out")
		case <-tick.C:
		}
	}
	return nil
}

// freePort is a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
