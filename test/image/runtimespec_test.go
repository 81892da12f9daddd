package image

// The part of the OCI runtime specification (config.json) that these tests write,
// declared here rather than adding a module for it. Field names and meanings are the
// specification's (runtime-spec 1.0, config.md and config-linux.md).

type spec struct {
	OCIVersion string  `json:"ociVersion"`
	Process    process `json:"process"`
	Root       root    `json:"root"`
	Hostname   string  `json:"hostname,omitempty"`
	Mounts     []mount `json:"mounts"`
	Linux      linux   `json:"linux"`
}

type process struct {
	Terminal        bool          `json:"terminal"`
	User            user          `json:"user"`
	Args            []string      `json:"args"`
	Env             []string      `json:"env"`
	Cwd             string        `json:"cwd"`
	Capabilities    *capabilities `json:"capabilities,omitempty"`
	NoNewPrivileges bool          `json:"noNewPrivileges"`
}

type user struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
}

type capabilities struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Ambient     []string `json:"ambient"`
}

type root struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type linux struct {
	CgroupsPath   string      `json:"cgroupsPath,omitempty"`
	Resources     *resources  `json:"resources,omitempty"`
	Namespaces    []namespace `json:"namespaces"`
	Seccomp       *seccomp    `json:"seccomp,omitempty"`
	MaskedPaths   []string    `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string    `json:"readonlyPaths,omitempty"`
}

type namespace struct {
	Type string `json:"type"`
}

type resources struct {
	Devices []deviceRule `json:"devices,omitempty"`
	Memory  *memory      `json:"memory,omitempty"`
	CPU     *cpu         `json:"cpu,omitempty"`
}

type deviceRule struct {
	Allow  bool   `json:"allow"`
	Access string `json:"access,omitempty"`
}

type memory struct {
	Limit *int64 `json:"limit,omitempty"`
}

type cpu struct {
	Shares *uint64 `json:"shares,omitempty"`
	Quota  *int64  `json:"quota,omitempty"`
	Period *uint64 `json:"period,omitempty"`
}

type seccomp struct {
	DefaultAction   string           `json:"defaultAction"`
	DefaultErrnoRet *uint            `json:"defaultErrnoRet,omitempty"`
	Architectures   []string         `json:"architectures"`
	Syscalls        []seccompSyscall `json:"syscalls"`
}

type seccompSyscall struct {
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet,omitempty"`
	Args     []seccompArg `json:"args,omitempty"`
}

type seccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}
