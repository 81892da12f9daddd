package stack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
)

// Operator is one running operator process.
type Operator struct {
	Name, LogFile string
	cmd           *exec.Cmd
	done          chan struct{}
}

// StartOperator runs the operator binary out of cluster as the chart's ServiceAccount,
// with leader election in the release namespace and short intervals for a live demo.
func (s *Stack) StartOperator(ctx context.Context, name string, extra ...string) (*Operator, error) {
	log := filepath.Join(s.Dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--leader-elect", "--leader-election-namespace", OperatorNamespace,
		"--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
		"--max-resync", "3s", "--max-threat-sync-interval", "2s", "--remediation-poll-interval", "2s",
		"--log-format", "console",
		// The twin is the one endpoint override this installation allows.
		"--allowed-endpoint-hosts", s.TwinHost(),
		// The sample connector's syslog listener, which only the leader opens.
		"--syslog-ports", strconv.Itoa(s.SyslogPort), "--syslog-bind-address", "127.0.0.1",
		// UES reports to Intune after the twin's report delay: give it four.
		"--unreported-threat-window", (4 * max(s.ReportDelay, time.Second)).String(),
	}, extra...)
	cmd := exec.Command(s.ManagerBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.OperatorKubeconfig, "POD_NAMESPACE="+OperatorNamespace)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	o := &Operator{Name: name, LogFile: log, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(o.done) }()
	s.operators = append(s.operators, o)
	s.step("started operator %s (pid %d, log %s)", name, cmd.Process.Pid, log)
	return o, nil
}

// Stop ends the operator gracefully (SIGTERM) and waits for it.
func (o *Operator) Stop() {
	if o.Running() {
		_ = o.cmd.Process.Signal(syscall.SIGTERM)
	}
	<-o.done
}

// Kill ends the operator abruptly, as a crashed pod would.
func (o *Operator) Kill() {
	if o.Running() {
		_ = o.cmd.Process.Kill()
	}
	<-o.done
}

// Running reports whether the process is alive.
func (o *Operator) Running() bool {
	select {
	case <-o.done:
		return false
	default:
		return true
	}
}

// Pid is the process id.
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Leader names the operator process holding the leader lease ("" when none).
func (s *Stack) Leader(ctx context.Context) (string, error) {
	out, err := s.Kubectl(ctx, "get", "lease", "mtd-operator.mtd.operator.dev", "-n", OperatorNamespace, "-o", "jsonpath={.spec.holderIdentity}")
	if err != nil {
		return "", err
	}
	return out, nil
}

// String describes the operator.
func (o *Operator) String() string { return fmt.Sprintf("%s(pid %d)", o.Name, o.Pid()) }

// TwinHost is the twin's host:port, the endpoint override the stack's operator allows.
func (s *Stack) TwinHost() string {
	u, err := url.Parse(s.Sim[sim.EnvGraphURL])
	if err != nil {
		return ""
	}
	return u.Host
}
