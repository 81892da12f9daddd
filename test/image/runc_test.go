package image

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mtd-operator/mtd-operator/internal/stack"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// podName is the pod the kubelet would have made; it is the container's hostname and
// so the start of the operator's leader election identity.
const podName = "mtd-operator-runc-0"

// TestImageRunsAsTheChartRunsIt runs the image under runc with the chart's own pod
// settings and asserts that the operator in it drives the samples to Current:
//
//   - the stack (internal/stack) starts kube-apiserver and etcd, the twin, and installs
//     the chart, but runs no operator on the host;
//   - the chart is upgraded with the values an installation pointed at the twin sets,
//     and the Deployment is read back from the API server, as a kubelet reads its pod;
//   - the image's layout is unpacked into a bundle, and config.json is written from
//     that pod template (pod.runtimeSpec);
//   - a token of the chart's ServiceAccount from the TokenRequest API, the API
//     server's CA and the namespace are mounted where the kubelet mounts them, and
//     KUBERNETES_SERVICE_HOST/PORT name the API server: in-cluster config, no kubeconfig.
//
// The container shares the host's network namespace (nothing here can give it one of
// its own), so "from inside" means the pod's own ports, reached on loopback.
func TestImageRunsAsTheChartRunsIt(t *testing.T) {
	runc := requireRunc(t)
	_, img := built(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	st, err := stack.Start(ctx, stack.Options{Log: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cs, err := kubernetes.NewForConfig(st.Plane.Config)
	if err != nil {
		t.Fatal(err)
	}
	apiHost, apiPort := apiServerAddress(t, st)
	checkServingCert(t, apiHost, apiPort, st.Plane.Config.CAData)

	health, metrics := freePort(t), freePort(t)
	dep := upgradeChart(ctx, t, st, health, metrics)
	tpl := dep.Spec.Template
	saDir := serviceAccountFiles(ctx, t, cs, tpl.Spec.ServiceAccountName, st.Plane.Config.CAData)

	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := unpack(img, rootfs); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	p := pod{
		Spec: tpl.Spec, Container: "manager", Image: cf.Config, Name: podName, Namespace: stack.OperatorNamespace,
		Rootfs: rootfs, ServiceAccount: saDir, Etc: kubeletEtc(t, dir),
		ServiceEnv: serviceEnv(apiHost, apiPort), Rewrite: loopbackBinds,
	}
	s, err := p.runtimeSpec()
	if err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(bundle, "config.json"), s)

	c := startContainer(t, runc, dir, bundle)
	pid := c.pid(t)
	checkProcess(t, pid, s)
	checkMounts(t, pid)
	checkMemoryLimit(t, pid, s)

	container := containerOf(tpl.Spec, "manager")
	probe(t, "liveness", container.LivenessProbe, container.Ports)
	probe(t, "readiness", container.ReadinessProbe, container.Ports)
	checkLeader(ctx, t, st)
	if err := st.ApplySamples(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{"mtdconnector", "blackberry"}, {"deviceriskpolicy", "mobile-threat-level"}} {
		waitCurrent(ctx, t, st, o[0], o[1])
	}
	checkTwinCalled(ctx, t, st)
	checkInClusterIdentity(t, c.log, tpl.Spec.ServiceAccountName)
	checkMetrics(ctx, t, cs, st, metrics)
	c.stop(t)
	checkNothingRefused(t, c.log)
}

// checkNothingRefused: no call of the operator's was refused by the sandbox. A system
// call the seccomp profile lacks, or a write outside /tmp, would show as EPERM or
// EROFS in the log.
func checkNothingRefused(t *testing.T, logFile string) {
	t.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, refusal := range []string{"operation not permitted", "read-only file system", "permission denied"} {
		if strings.Contains(string(data), refusal) {
			t.Errorf("the operator's log says %q:\n%s", refusal, tail(string(data), 20))
		}
	}
}

// requireRunc finds runc and checks that the test can use it.
func requireRunc(t *testing.T) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not on PATH: install it with `apt-get install -y runc` (Debian's package; .ci/run does this)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("running the image under runc needs root here: the container's user (65532), its namespaces and cgroups are set up by root (CI runs as root)")
	}
	return runc
}

// logWriter sends the stack's steps to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func apiServerAddress(t *testing.T, st *stack.Stack) (string, int) {
	t.Helper()
	u, err := url.Parse(st.Plane.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("API server at %s: want https://127.0.0.1:<port>", st.Plane.Config.Host)
	}
	return u.Hostname(), port
}

// checkServingCert: what the container will trust (ca.crt) verifies the API server's
// serving certificate for the address the container dials (127.0.0.1, as client-go's
// in-cluster config dials KUBERNETES_SERVICE_HOST), and it is a CA.
func checkServingCert(t *testing.T, host string, port int, caPEM []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the control plane's CA data holds no certificate")
	}
	conn, err := tls.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)), &tls.Config{RootCAs: pool, ServerName: host})
	if err != nil {
		t.Fatalf("the API server's certificate does not verify for %s against its CA: %v", host, err)
	}
	defer conn.Close()
	chain := conn.ConnectionState().VerifiedChains[0]
	if ca := chain[len(chain)-1]; !ca.IsCA {
		t.Fatalf("the chain ends in %s, which is not a CA", ca.Subject)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// upgradeChart sets what an installation pointed at the twin sets (the twin as the
// one allowed endpoint, its syslog port, short resyncs for a test) and free ports for
// the probes and metrics, then reads the Deployment back from the API server.
func upgradeChart(ctx context.Context, t *testing.T, st *stack.Stack, health, metrics int) *appsv1.Deployment {
	t.Helper()
	extra, _ := json.Marshal([]string{"--max-resync=3s", "--max-threat-sync-interval=2s", "--syslog-bind-address=127.0.0.1"})
	cmd := exec.CommandContext(ctx, filepath.Join(st.Root, "bin", "helm"), "upgrade", stack.Release,
		filepath.Join(st.Root, "charts", "mtd-operator"), "--namespace", stack.OperatorNamespace,
		"--kubeconfig", st.AdminKubeconfig, "--wait=false",
		"--set-json", fmt.Sprintf(`operator.allowedEndpointHosts=[%q]`, st.TwinHost()),
		"--set-json", fmt.Sprintf(`syslog.ports=[%d]`, st.SyslogPort),
		"--set", fmt.Sprintf("health.port=%d", health), "--set", fmt.Sprintf("metrics.port=%d", metrics),
		"--set-json", "extraArgs="+string(extra))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	var deps appsv1.DeploymentList
	if err := st.Plane.Client.List(ctx, &deps, client.InNamespace(stack.OperatorNamespace),
		client.MatchingLabels{"app.kubernetes.io/instance": stack.Release}); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 {
		t.Fatalf("the chart made %d Deployments, want 1", len(deps.Items))
	}
	return &deps.Items[0]
}

// serviceAccountFiles writes token, ca.crt and namespace as the kubelet projects them
// (files 0644 in a directory the container mounts read-only). The token comes from the
// TokenRequest API for the chart's ServiceAccount, with the API server's audience.
func serviceAccountFiles(ctx context.Context, t *testing.T, cs kubernetes.Interface, sa string, ca []byte) string {
	t.Helper()
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(stack.OperatorNamespace).CreateToken(ctx, sa,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for ServiceAccount %s: %v", sa, err)
	}
	dir := filepath.Join(t.TempDir(), "serviceaccount")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"token": []byte(tr.Status.Token), "ca.crt": ca, "namespace": []byte(stack.OperatorNamespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// kubeletEtc writes the /etc/hosts and /etc/hostname the kubelet gives a pod.
func kubeletEtc(t *testing.T, dir string) string {
	t.Helper()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t" + podName + "\n"
	for name, data := range map[string]string{"hosts": hosts, "hostname": podName + "\n"} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return etc
}

// serviceEnv is what the kubelet sets for the default namespace's kubernetes Service.
func serviceEnv(host string, port int) []string {
	p := strconv.Itoa(port)
	addr := "tcp://" + net.JoinHostPort(host, p)
	return []string{"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + p, "KUBERNETES_SERVICE_PORT_HTTPS=" + p,
		"KUBERNETES_PORT=" + addr, "KUBERNETES_PORT_" + p + "_TCP=" + addr}
}

// loopbackBinds narrows the chart's ":port" listeners to 127.0.0.1: in a pod they bind
// the pod's own network namespace, here they would bind every address of the host,
// and this project's tests listen on loopback alone. The ports stay the chart's.
func loopbackBinds(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasSuffix(k, "-bind-address") && strings.HasPrefix(v, ":") {
			out[i] = k + "=127.0.0.1" + v
		}
	}
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func containerOf(spec corev1.PodSpec, name string) corev1.Container {
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

// probe runs the chart's HTTP probe as the kubelet would, against the pod's port.
func probe(t *testing.T, what string, p *corev1.Probe, ports []corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Fatalf("the chart's %s probe is not an HTTP GET", what)
	}
	port := p.HTTPGet.Port.IntValue()
	for _, cp := range ports {
		if cp.Name == p.HTTPGet.Port.String() {
			port = int(cp.ContainerPort)
		}
	}
	u := fmt.Sprintf("http://127.0.0.1:%d%s", port, p.HTTPGet.Path)
	hc := &http.Client{Timeout: time.Duration(max(p.TimeoutSeconds, 1)) * time.Second}
	testkit.EventuallyEvery(t, time.Minute, 200*time.Millisecond, what+" probe "+u, func() (bool, string) {
		resp, err := hc.Get(u)
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status + " " + string(body)
	})
	t.Logf("%s probe GET %s: 200", what, u)
}

// checkLeader: the operator in the container holds the leader lease; its identity
// starts with the container's hostname, the pod name.
func checkLeader(ctx context.Context, t *testing.T, st *stack.Stack) {
	t.Helper()
	testkit.EventuallyEvery(t, time.Minute, 200*time.Millisecond, "the container's operator to lead", func() (bool, string) {
		var l coordinationv1.Lease
		err := st.Plane.Client.Get(ctx, client.ObjectKey{Namespace: stack.OperatorNamespace, Name: "mtd-operator.mtd.operator.dev"}, &l)
		if err != nil {
			return false, err.Error()
		}
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return strings.HasPrefix(holder, podName+"_"), "holder " + holder
	})
}

// waitCurrent waits for kstatus Current (what Flux and Argo CD's kstatus users see)
// with the Ready condition True.
func waitCurrent(ctx context.Context, t *testing.T, st *stack.Stack, kind, name string) {
	t.Helper()
	testkit.EventuallyEvery(t, 2*time.Minute, 250*time.Millisecond, kind+"/"+name+" Current", func() (bool, string) {
		out, err := st.Kubectl(ctx, "get", kind, name, "-n", stack.SamplesNamespace, "-o", "json")
		if err != nil {
			return false, err.Error()
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(out)); err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(u)
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		ready := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			ready = ready || m["type"] == "Ready" && m["status"] == "True"
		}
		return res.Status == status.CurrentStatus && ready, fmt.Sprintf("%s: %s (Ready=True: %v)", res.Status, res.Message, ready)
	})
	t.Logf("%s/%s is Current and Ready", kind, name)
}

// checkTwinCalled: the connector reached the twin's Graph and UES from the container.
func checkTwinCalled(ctx context.Context, t *testing.T, st *stack.Stack) {
	t.Helper()
	calls, err := st.Admin.Calls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"GET /ues/devices/v2", "GET /v1.0/deviceManagement/managedDevices"} {
		if calls[route].Calls == 0 {
			t.Errorf("the twin saw no %s", route)
		}
	}
}

// checkInClusterIdentity: the operator found its credentials in the mounted token
// (it logs the username the API server gave it, from a SelfSubjectReview).
func checkInClusterIdentity(t *testing.T, logFile, sa string) {
	t.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	want := `"username":"system:serviceaccount:` + stack.OperatorNamespace + `:` + sa + `"`
	if !strings.Contains(string(data), want) {
		t.Errorf("the operator's log lacks %s:\n%s", want, tail(string(data), 20))
	}
}

// checkMetrics scrapes the secure metrics endpoint as Prometheus would, with a token
// of a ServiceAccount bound to the chart's metrics-reader ClusterRole; the operator
// checks it with a TokenReview and a SubjectAccessReview under the chart's RBAC. An
// anonymous scrape is refused.
func checkMetrics(ctx context.Context, t *testing.T, cs kubernetes.Interface, st *stack.Stack, port int) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: stack.OperatorNamespace}}
	if _, err := cs.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-mtd-operator-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: stack.Release + "-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: sa.Namespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint's certificate is self-signed, as the chart's ServiceMonitor says.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	u := fmt.Sprintf("https://127.0.0.1:%d/metrics", port)
	scrape := func(token string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	testkit.EventuallyEvery(t, time.Minute, 250*time.Millisecond, "a scrape of "+u, func() (bool, string) {
		code, body, err := scrape(tr.Status.Token)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK && strings.Contains(body, `controller_runtime_reconcile_total{controller="mtdconnector"`),
			fmt.Sprintf("%d %s", code, tail(body, 5))
	})
	if code, _, err := scrape(""); err != nil || code != http.StatusUnauthorized {
		t.Errorf("an anonymous scrape got %d (%v), want 401", code, err)
	}
	t.Logf("metrics GET %s with the metrics-reader token: 200", u)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkProcess reads the container's process from the host: the chart's user and
// group with fsGroup as the one supplementary group, no capability in any set,
// no_new_privs, a seccomp filter, the rendered arguments and no kubeconfig.
func checkProcess(t *testing.T, pid int, s *spec) {
	t.Helper()
	st := procStatus(t, pid)
	want := map[string]string{
		"Uid": "65532\t65532\t65532\t65532", "Gid": "65532\t65532\t65532\t65532", "Groups": "65532",
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("container process %s: %q, want %q", k, st[k], v)
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); !slices.Equal(got, s.Process.Args) {
		t.Errorf("the container runs %q, want %q", got, s.Process.Args)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(environ), "KUBECONFIG") || !strings.Contains(string(environ), "KUBERNETES_SERVICE_HOST=127.0.0.1") {
		t.Errorf("environment %q: want KUBERNETES_SERVICE_HOST and no KUBECONFIG", environ)
	}
	t.Logf("container pid %d: uid/gid 65532, no capabilities, no_new_privs, seccomp filter; %q", pid, s.Process.Args)
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// checkMounts reads the container's mount table: the root file system read-only, /tmp
// a writable tmpfs, the token directory read-only, and nothing else writable but the
// kernel's /proc, the root-owned /dev that holds the device nodes, and the paths
// masked with /dev/null.
func checkMounts(t *testing.T, pid int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{} // mount point -> "rw|ro fstype"
	var writable []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 0 || sep+1 >= len(f) {
			t.Fatalf("mountinfo line %q", line)
		}
		point, mode := f[4], strings.Split(f[5], ",")[0]
		mounts[point] = mode + " " + f[sep+1]
		if mode == "rw" {
			writable = append(writable, point)
		}
	}
	for point, want := range map[string]string{"/": "ro", "/tmp": "rw tmpfs", ServiceAccountDir: "ro", "/etc/hosts": "ro", "/sys": "ro sysfs"} {
		if !strings.HasPrefix(mounts[point], want) {
			t.Errorf("mount %s is %q, want %q", point, mounts[point], want)
		}
	}
	for _, point := range writable {
		if point != "/tmp" && point != "/proc" && point != "/dev" && !strings.HasPrefix(point, "/proc/") {
			t.Errorf("%s is writable (%s): only /tmp should be", point, mounts[point])
		}
	}
	t.Logf("container mounts: %v", mounts)
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/root/dev", pid))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the container's /dev: %v %v, want root's, mode 0755", fi, err)
	}
}

// checkMemoryLimit: the container's cgroup carries the chart's memory limit (cgroup v1
// memory.limit_in_bytes, or v2 memory.max).
func checkMemoryLimit(t *testing.T, pid int, s *spec) {
	t.Helper()
	if s.Linux.Resources == nil || s.Linux.Resources.Memory == nil {
		t.Fatal("the chart's container has no memory limit")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var file string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory"):
			file = filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes")
		case len(f) == 3 && f[0] == "0" && f[1] == "" && file == "":
			file = filepath.Join("/sys/fs/cgroup", f[2], "memory.max")
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the container's memory cgroup (%s): %v", file, err)
	}
	if want := strconv.FormatInt(*s.Linux.Resources.Memory.Limit, 10); strings.TrimSpace(string(got)) != want {
		t.Errorf("%s = %s, want the chart's limit %s", file, got, want)
	}
}

// container is a runc container running in the foreground of a runc process.
type container struct {
	runc, state, id, log string
	done                 chan error
}

// startContainer runs the bundle with `runc run` under a state directory of the test
// (so nothing else's containers are touched), its output to a log file.
func startContainer(t *testing.T, runc, dir, bundle string) *container {
	t.Helper()
	c := &container{runc: runc, state: filepath.Join(dir, "runc"), id: fmt.Sprintf("mtd-operator-%d", os.Getpid()),
		log: filepath.Join(dir, "manager.log"), done: make(chan error, 1)}
	f, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runc, "--root", c.state, "run", "--bundle", bundle, c.id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		c.kill("KILL")
		_ = exec.Command(runc, "--root", c.state, "delete", "--force", c.id).Run()
		if t.Failed() || testing.Verbose() {
			data, _ := os.ReadFile(c.log)
			t.Logf("---- the container's output (last 40 lines)\n%s", tail(string(data), 40))
		}
	})
	return c
}

func (c *container) kill(signal string) {
	_ = exec.Command(c.runc, "--root", c.state, "kill", c.id, signal).Run()
}

// pid waits for the container to run and returns its process, as the host sees it.
func (c *container) pid(t *testing.T) int {
	t.Helper()
	var pid int
	testkit.EventuallyEvery(t, 30*time.Second, 100*time.Millisecond, "the container to run", func() (bool, string) {
		select {
		case err := <-c.done:
			data, _ := os.ReadFile(c.log)
			t.Fatalf("runc run ended: %v\n%s", err, data)
		default:
		}
		out, err := exec.Command(c.runc, "--root", c.state, "state", c.id).Output()
		if err != nil {
			return false, err.Error()
		}
		var s struct {
			Pid    int    `json:"pid"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(out, &s); err != nil {
			return false, err.Error()
		}
		pid = s.Pid
		return s.Status == "running", s.Status
	})
	return pid
}

// stop sends SIGTERM, as the kubelet does, and expects a clean exit within the chart's
// termination grace period.
func (c *container) stop(t *testing.T) {
	t.Helper()
	c.kill("TERM")
	grace := time.NewTimer(40 * time.Second)
	defer grace.Stop()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("the manager did not exit cleanly on SIGTERM: %v", err)
		}
	case <-grace.C:
		t.Error("the manager did not stop within the chart's terminationGracePeriodSeconds (40s)")
	}
}
