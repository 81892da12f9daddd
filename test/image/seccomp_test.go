package image

import (
	"fmt"
	"runtime"
	"syscall"
)

// runtimeDefault is what these tests run for seccompProfile type RuntimeDefault: like
// the container runtimes' default profiles, a default-deny filter (EPERM) that allows
// the system calls ordinary programs make and leaves out those that reconfigure the
// kernel, other processes or the container itself (mount, namespaces, modules, BPF,
// ptrace, keyrings, clocks, reboot, ...). It is this project's own list, written for
// a static Go server; a call it lacks fails with EPERM, which the run would show.
func runtimeDefault() (*seccomp, error) {
	arches, ok := map[string][]string{
		"amd64": {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		"arm64": {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"},
	}[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no seccomp architectures for GOARCH %s", runtime.GOARCH)
	}
	eperm, enosys := uint(syscall.EPERM), uint(syscall.ENOSYS)
	var allowed []string
	for _, group := range allowedSyscalls {
		allowed = append(allowed, group...)
	}
	return &seccomp{
		DefaultAction:   "SCMP_ACT_ERRNO",
		DefaultErrnoRet: &eperm,
		Architectures:   arches,
		Syscalls: []seccompSyscall{
			{Names: allowed, Action: "SCMP_ACT_ALLOW"},
			// clone may make threads and children but no new namespace: its flags are
			// its first argument.
			{Names: []string{"clone"}, Action: "SCMP_ACT_ALLOW",
				Args: []seccompArg{{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: "SCMP_CMP_MASKED_EQ"}}},
			// clone3 passes its flags in memory, which a filter cannot read: ENOSYS
			// makes libraries fall back to clone, as the runtimes' profiles do.
			{Names: []string{"clone3"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &enosys},
		},
	}, nil
}

// cloneNamespaceFlags are CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
// CLONE_NEWUSER, CLONE_NEWPID and CLONE_NEWNET.
const cloneNamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

// allowedSyscalls by purpose. Names an architecture lacks are ignored by runc.
var allowedSyscalls = [][]string{
	// Files and descriptors.
	{"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
		"open", "openat", "openat2", "creat", "close", "close_range", "lseek", "_llseek", "dup", "dup2", "dup3",
		"fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "ftruncate",
		"ftruncate64", "truncate", "truncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead",
		"sendfile", "sendfile64", "copy_file_range", "splice", "tee", "vmsplice", "ioctl"},
	// Paths and metadata.
	{"stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx", "statfs",
		"statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
		"getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
		"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
		"fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "umask", "utime",
		"utimes", "utimensat", "futimesat", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
		"flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch"},
	// Memory.
	{"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
		"munlock", "mlockall", "munlockall", "membarrier", "memfd_create", "get_mempolicy", "pkey_alloc",
		"pkey_free", "pkey_mprotect", "remap_file_pages"},
	// Processes, threads and identity (within what the process already holds).
	{"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid", "kill", "tkill",
		"tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "getuid",
		"getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32", "getresuid",
		"getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid",
		"setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid", "setresuid32", "setresgid",
		"setresgid32", "setgroups", "setgroups32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "capget",
		"capset", "prctl", "arch_prctl", "set_tid_address", "set_thread_area", "get_thread_area",
		"set_robust_list", "get_robust_list", "rseq", "futex", "futex_time64", "futex_waitv", "sched_yield",
		"sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
		"sched_setscheduler", "sched_getattr", "sched_setattr", "sched_get_priority_max",
		"sched_get_priority_min", "sched_rr_get_interval", "getpriority", "setpriority", "ioprio_get",
		"ioprio_set", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo",
		"uname", "getcpu", "pidfd_open", "pidfd_send_signal", "seccomp", "restart_syscall",
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"},
	// Signals.
	{"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
		"rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd", "signalfd4", "pause", "alarm",
		"sigreturn", "sigaction", "sigprocmask", "sigsuspend"},
	// Time and timers (reading clocks, not setting them).
	{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime", "clock_gettime64",
		"clock_getres", "clock_getres_time64", "gettimeofday", "time", "timer_create", "timer_settime",
		"timer_settime64", "timer_gettime", "timer_gettime64", "timer_getoverrun", "timer_delete",
		"timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64",
		"getitimer", "setitimer"},
	// Waiting on descriptors.
	{"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
		"ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64", "eventfd", "eventfd2", "pipe",
		"pipe2", "io_setup", "io_destroy", "io_getevents", "io_pgetevents", "io_submit", "io_cancel"},
	// Sockets.
	{"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
		"getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
		"recvmmsg_time64", "shutdown", "send", "recv", "socketcall"},
	// System V IPC and message queues, private to the container's IPC namespace.
	{"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "msgget", "msgsnd",
		"msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"},
	// Randomness.
	{"getrandom"},
}
