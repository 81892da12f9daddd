package image

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
)

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token, CA and
// namespace (and where client-go's in-cluster config reads them).
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// pod is what a kubelet would be given to run one container of a pod template: the
// pod spec, the container's name, the image's config, and what the kubelet itself
// provides (the token directory, the downward API values, the API server's address).
type pod struct {
	Spec      corev1.PodSpec
	Container string
	Image     v1.Config
	// Name and Namespace are the pod's, for the downward API (metadata.name and
	// metadata.namespace) and the hostname.
	Name, Namespace string
	// Rootfs is the unpacked image; ServiceAccount the host directory with token,
	// ca.crt and namespace; Etc holds the hosts and hostname files the kubelet writes.
	Rootfs, ServiceAccount, Etc string
	// ServiceEnv is the kubernetes Service's environment (KUBERNETES_SERVICE_HOST...).
	ServiceEnv []string
	// Rewrite changes the container's arguments after the chart rendered them (see
	// loopbackBinds); nil leaves them.
	Rewrite func([]string) []string
}

// runtimeSpec turns the pod into a runc config.json the way a kubelet and containerd
// would for this container, for the settings the chart uses; any setting it does not
// handle is an error rather than silently dropped. The container joins the host's
// network namespace (this machine cannot give it a network of its own); it gets its
// own mount, PID, IPC and UTS namespaces and a cgroup under runc's default path.
func (p pod) runtimeSpec() (*spec, error) {
	c, err := p.container()
	if err != nil {
		return nil, err
	}
	sc, err := mergeSecurity(p.Spec.SecurityContext, c.SecurityContext)
	if err != nil {
		return nil, err
	}
	proc, err := p.process(c, sc)
	if err != nil {
		return nil, err
	}
	mounts, err := p.mounts(c)
	if err != nil {
		return nil, err
	}
	s := &spec{
		OCIVersion: "1.0.2-dev",
		Process:    *proc,
		Root:       root{Path: p.Rootfs, Readonly: sc.readOnlyRoot},
		Hostname:   p.Name,
		Mounts:     mounts,
		Linux: linux{
			Resources:  limits(c.Resources),
			Namespaces: []namespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			// As containerd's defaults: hide what leaks host detail, freeze the rest.
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	switch sc.seccomp {
	case corev1.SeccompProfileTypeRuntimeDefault:
		if s.Linux.Seccomp, err = runtimeDefault(); err != nil {
			return nil, err
		}
	case corev1.SeccompProfileTypeUnconfined, "":
	default:
		return nil, fmt.Errorf("seccomp profile %s is not supported here", sc.seccomp)
	}
	return s, nil
}

func (p pod) container() (*corev1.Container, error) {
	if p.Spec.HostNetwork || p.Spec.HostPID || p.Spec.HostIPC || len(p.Spec.InitContainers) > 0 {
		return nil, fmt.Errorf("the pod uses host namespaces or init containers, which this runner does not model")
	}
	for i := range p.Spec.Containers {
		if c := &p.Spec.Containers[i]; c.Name == p.Container {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no container %q in the pod", p.Container)
}

// security is the container's effective security context.
type security struct {
	uid, gid     int64
	fsGroup      *int64
	nonRoot      bool
	readOnlyRoot bool
	noNewPrivs   bool
	caps         []string
	seccomp      corev1.SeccompProfileType
}

// defaultCapabilities are the capabilities containerd grants a container that
// drops none.
var defaultCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
	"SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

// mergeSecurity applies the container's securityContext over the pod's, as the
// kubelet does.
func mergeSecurity(ps *corev1.PodSecurityContext, cs *corev1.SecurityContext) (*security, error) {
	s := &security{uid: -1, gid: -1, noNewPrivs: false, caps: defaultCapabilities}
	if ps != nil {
		s.uid, s.gid = deref(ps.RunAsUser, -1), deref(ps.RunAsGroup, -1)
		s.nonRoot, s.fsGroup = deref(ps.RunAsNonRoot, false), ps.FSGroup
		if ps.SeccompProfile != nil {
			s.seccomp = ps.SeccompProfile.Type
		}
		if len(ps.SupplementalGroups) > 0 || len(ps.Sysctls) > 0 || ps.SELinuxOptions != nil || ps.AppArmorProfile != nil {
			return nil, fmt.Errorf("pod securityContext uses settings this runner does not model: %+v", ps)
		}
	}
	if cs == nil {
		return s, nil
	}
	if cs.Privileged != nil && *cs.Privileged {
		return nil, fmt.Errorf("a privileged container is not what the chart ships")
	}
	s.uid, s.gid = deref(cs.RunAsUser, s.uid), deref(cs.RunAsGroup, s.gid)
	s.nonRoot = deref(cs.RunAsNonRoot, s.nonRoot)
	s.readOnlyRoot = deref(cs.ReadOnlyRootFilesystem, false)
	// allowPrivilegeEscalation defaults to true, which is no_new_privs off.
	s.noNewPrivs = cs.AllowPrivilegeEscalation != nil && !*cs.AllowPrivilegeEscalation
	if cs.SeccompProfile != nil {
		s.seccomp = cs.SeccompProfile.Type
	}
	if cs.Capabilities != nil {
		var kept []string
		for _, c := range s.caps {
			if !slices.Contains(cs.Capabilities.Drop, corev1.Capability(c)) && !slices.Contains(cs.Capabilities.Drop, "ALL") {
				kept = append(kept, c)
			}
		}
		for _, c := range cs.Capabilities.Add {
			kept = append(kept, string(c))
		}
		s.caps = kept
	}
	return s, nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (p pod) process(c *corev1.Container, sc *security) (*process, error) {
	u, err := p.user(sc)
	if err != nil {
		return nil, err
	}
	args := append(slices.Clone(p.Image.Entrypoint), p.Image.Cmd...)
	if len(c.Command) > 0 {
		args = append(slices.Clone(c.Command), c.Args...)
	} else if len(c.Args) > 0 {
		args = append(slices.Clone(p.Image.Entrypoint), c.Args...)
	}
	for _, a := range args {
		if strings.Contains(a, "$(") {
			return nil, fmt.Errorf("argument %q needs $(VAR) expansion, which this runner does not do", a)
		}
	}
	if p.Rewrite != nil {
		args = p.Rewrite(args)
	}
	env, err := p.env(c)
	if err != nil {
		return nil, err
	}
	cwd := p.Image.WorkingDir
	if c.WorkingDir != "" {
		cwd = c.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	caps := make([]string, len(sc.caps))
	for i, c := range sc.caps {
		caps[i] = "CAP_" + c
	}
	return &process{
		User: *u, Args: args, Env: env, Cwd: cwd, NoNewPrivileges: sc.noNewPrivs,
		Capabilities: &capabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: []string{}, Ambient: []string{}},
	}, nil
}

// user is the process' identity; runAsNonRoot refuses uid 0 as the kubelet does. The
// image's numeric USER is the fallback (a name would need the image's /etc/passwd,
// which this image does not have).
func (p pod) user(sc *security) (*user, error) {
	uid, gid := sc.uid, sc.gid
	if uid < 0 || gid < 0 {
		var iu, ig int64
		if _, err := fmt.Sscanf(p.Image.User, "%d:%d", &iu, &ig); err != nil {
			return nil, fmt.Errorf("image user %q is not uid:gid: %w", p.Image.User, err)
		}
		if uid < 0 {
			uid = iu
		}
		if gid < 0 {
			gid = ig
		}
	}
	if sc.nonRoot && uid == 0 {
		return nil, fmt.Errorf("runAsNonRoot and the container would run as root")
	}
	u := &user{UID: uint32(uid), GID: uint32(gid)}
	if sc.fsGroup != nil {
		u.AdditionalGids = []uint32{uint32(*sc.fsGroup)}
	}
	return u, nil
}

// env is the image's environment, then the container's (downward API metadata
// only), then what the kubelet adds: HOSTNAME and the kubernetes Service's variables.
func (p pod) env(c *corev1.Container) ([]string, error) {
	env := slices.Clone(p.Image.Env)
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			if e.ValueFrom.FieldRef == nil {
				return nil, fmt.Errorf("env %s: only fieldRef is modelled", e.Name)
			}
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				v = p.Name
			case "metadata.namespace":
				v = p.Namespace
			default:
				return nil, fmt.Errorf("env %s: fieldRef %s is not modelled", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		}
		env = append(env, e.Name+"="+v)
	}
	if len(c.EnvFrom) > 0 {
		return nil, fmt.Errorf("envFrom is not modelled")
	}
	return append(append(env, "HOSTNAME="+p.Name), p.ServiceEnv...), nil
}

// mounts are the runtime's own (proc, a root-owned /dev, read-only sysfs), the
// container's volumes (emptyDir as tmpfs), the ServiceAccount token directory where
// the kubelet puts it, and the kubelet's /etc/hosts and /etc/hostname. /dev/shm,
// /dev/mqueue and /dev/pts are left out: nothing writes there, and every writable
// place but /tmp would weaken what the test shows.
func (p pod) mounts(c *corev1.Container) ([]mount, error) {
	ms := []mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	for _, vm := range c.VolumeMounts {
		m, err := p.volumeMount(vm)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if !deref(p.Spec.AutomountServiceAccountToken, true) {
		return nil, fmt.Errorf("the chart's pod must mount its ServiceAccount token")
	}
	ro := []string{"rbind", "ro", "nosuid", "nodev", "noexec"}
	return append(ms,
		mount{Destination: ServiceAccountDir, Type: "bind", Source: p.ServiceAccount, Options: ro},
		mount{Destination: "/etc/hosts", Type: "bind", Source: p.Etc + "/hosts", Options: ro},
		mount{Destination: "/etc/hostname", Type: "bind", Source: p.Etc + "/hostname", Options: ro},
	), nil
}

func (p pod) volumeMount(vm corev1.VolumeMount) (mount, error) {
	if vm.SubPath != "" || vm.SubPathExpr != "" {
		return mount{}, fmt.Errorf("volumeMount %s: subPath is not modelled", vm.Name)
	}
	for _, v := range p.Spec.Volumes {
		if v.Name != vm.Name {
			continue
		}
		if v.EmptyDir == nil {
			return mount{}, fmt.Errorf("volume %s: only emptyDir volumes are modelled", v.Name)
		}
		size := "65536k"
		if l := v.EmptyDir.SizeLimit; l != nil && !l.IsZero() {
			size = fmt.Sprint(l.Value())
		}
		opts := []string{"nosuid", "nodev", "mode=1777", "size=" + size}
		if vm.ReadOnly {
			opts = append(opts, "ro")
		}
		return mount{Destination: vm.MountPath, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	}
	return mount{}, fmt.Errorf("volumeMount %s names no volume", vm.Name)
}

// limits maps the container's limits to cgroup settings as the kubelet does: memory
// in bytes, CPU as a CFS quota per 100ms period and shares from the request.
func limits(r corev1.ResourceRequirements) *resources {
	res := &resources{Devices: []deviceRule{{Allow: false, Access: "rwm"}}}
	if m, ok := r.Limits[corev1.ResourceMemory]; ok {
		n := m.Value()
		res.Memory = &memory{Limit: &n}
	}
	c := &cpu{}
	if l, ok := r.Limits[corev1.ResourceCPU]; ok {
		period := uint64(100000)
		quota := l.MilliValue() * int64(period) / 1000
		c.Quota, c.Period = &quota, &period
	}
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		shares := uint64(max(2, q.MilliValue()*1024/1000))
		c.Shares = &shares
	}
	if c.Quota != nil || c.Shares != nil {
		res.CPU = c
	}
	return res
}
