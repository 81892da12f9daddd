// Package ociimage assembles the operator's OCI image without a container engine: a
// static manager binary built with the local Go toolchain, the CA certificates of the
// Debian ca-certificates package installed on the build machine, and nothing else.
// Every layer is a tar stream written here with fixed times, sorted entries and root
// ownership, so the same source and toolchain give the same image digest.
//
// The Dockerfile builds the same image for people who have Docker; the constants
// below are what test/image compares it with.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image is; the Dockerfile must agree (test/image checks it).
const (
	// BinaryPath is where the manager lives in the image, and the entrypoint.
	BinaryPath = "/manager"
	// Package is the Go package of the manager.
	Package = "./cmd/manager"
	// UID and GID are distroless' "nonroot" user, which the chart runs as.
	UID, GID = 65532, 65532
	// WorkingDir is the process' working directory.
	WorkingDir = "/"
	// CACertPath is the CA bundle in the image: where Debian (and so distroless)
	// puts it, the first place Go's crypto/x509 looks on Linux.
	CACertPath = "/etc/ssl/certs/ca-certificates.crt"
	// HostCACerts is the bundle the Debian ca-certificates package installs on the
	// build machine; it is copied as it is.
	HostCACerts = "/etc/ssl/certs/ca-certificates.crt"
	// Source is the repository the image is built from (label).
	Source = "https://github.com/mtd-operator/mtd-operator"
	// Title and Description are the image's labels, as in the Dockerfile.
	Title       = "mtd-operator"
	Description = "Kubernetes operator for the BlackBerry Protect Mobile <-> Microsoft Intune MTD integration"
)

// User is the config's user, "uid:gid".
var User = strconv.Itoa(UID) + ":" + strconv.Itoa(GID)

// Entrypoint is the config's entrypoint: the manager and no shell.
var Entrypoint = []string{BinaryPath}

// Env is the config's whole environment: Go finds the CAs at CACertPath anyway;
// naming them keeps that true should the search order change, as distroless does.
var Env = []string{"SSL_CERT_FILE=" + CACertPath}

// Label keys (OCI annotations used as image labels).
const (
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelSource      = "org.opencontainers.image.source"
	LabelVersion     = "org.opencontainers.image.version"
	LabelRevision    = "org.opencontainers.image.revision"
)

// LDFlags are the linker flags of the manager: no symbol table, no build id (which
// would differ between machines), the version stamped in.
func LDFlags(version string) string {
	return "-s -w -X main.version=" + version + " -buildid="
}

// BuildEnv is the environment of the manager's go build, on top of the caller's: a
// static binary for linux/goarch.
func BuildEnv(goarch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch}
}

// BuildArgs are go build's arguments writing the manager to out.
func BuildArgs(version, out string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", LDFlags(version), "-o", out, Package}
}

// Options say what to build.
type Options struct {
	// Root is the repository (the main module).
	Root string
	// Version and Revision are stamped into the binary (version) and the labels.
	Version, Revision string
	// Created is the time of every file and of the config: fixed, so that builds of
	// the same source agree (see SourceTime).
	Created time.Time
	// GOARCH of the image; empty: the build machine's.
	GOARCH string
	// CACerts is the CA bundle to copy; empty: HostCACerts.
	CACerts string
}

func (o Options) arch() string {
	if o.GOARCH != "" {
		return o.GOARCH
	}
	if a := os.Getenv("GOARCH"); a != "" {
		return a
	}
	return runtime.GOARCH
}

func (o Options) caCerts() string {
	if o.CACerts != "" {
		return o.CACerts
	}
	return HostCACerts
}

// Defaults fills Version, Revision and Created from git, as `make build` does:
// `git describe --tags --always --dirty`, HEAD, and SOURCE_DATE_EPOCH or else HEAD's
// commit time (0 outside a git work tree).
func Defaults(root string) Options {
	o := Options{Root: root, Version: "dev", Revision: "unknown", Created: time.Unix(0, 0).UTC()}
	if v, err := git(root, "describe", "--tags", "--always", "--dirty"); err == nil {
		o.Version = v
	}
	if r, err := git(root, "rev-parse", "HEAD"); err == nil {
		o.Revision = r
	}
	o.Created = SourceTime(root)
	return o
}

// SourceTime is SOURCE_DATE_EPOCH (the reproducible-builds convention) when set, else
// the commit time of HEAD, else the Unix epoch.
func SourceTime(root string) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	if s, err := git(root, "log", "-1", "--format=%ct", "HEAD"); err == nil {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// BuildBinary compiles the manager, static, into out.
func BuildBinary(ctx context.Context, o Options, out string) error {
	cmd := exec.CommandContext(ctx, "go", BuildArgs(o.Version, out)...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), BuildEnv(o.arch())...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(BuildArgs(o.Version, out), " "), err, b)
	}
	return nil
}

// Build compiles the manager and assembles the image.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "mtd-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "manager")
	if err := BuildBinary(ctx, o, bin); err != nil {
		return nil, err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(o.caCerts())
	if err != nil {
		return nil, fmt.Errorf("the CA certificates of Debian's ca-certificates package (apt-get install -y ca-certificates): %w", err)
	}
	return Assemble(o, binary, ca)
}

// File is one entry of a layer.
type File struct {
	Path string // absolute, in the image
	Mode int64  // permission bits (and sticky), as tar stores them
	Dir  bool
	Data []byte
}

// caPackage names the Debian package, and its version, that installed the bundle.
func caPackage(file string) string {
	if file != HostCACerts {
		return file
	}
	v, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "ca-certificates").Output()
	if err != nil || len(v) == 0 {
		return "Debian's ca-certificates package"
	}
	return "Debian's ca-certificates " + string(v)
}

// Layers are the image's file systems, bottom first: the CA certificates (which change
// with Debian's package, rarely) and then the binary (which changes with every commit),
// so a registry keeps the first across releases. /tmp is there, empty and sticky, for
// engines that run the image without the chart's emptyDir.
func Layers(binary, ca []byte) [][]File {
	return [][]File{
		{
			{Path: "/etc", Mode: 0o755, Dir: true},
			{Path: "/etc/ssl", Mode: 0o755, Dir: true},
			{Path: "/etc/ssl/certs", Mode: 0o755, Dir: true},
			{Path: CACertPath, Mode: 0o644, Data: ca},
			{Path: "/tmp", Mode: 0o1777, Dir: true},
		},
		{
			{Path: BinaryPath, Mode: 0o755, Data: binary},
		},
	}
}

// Assemble makes the image from the binary and the CA bundle.
func Assemble(o Options, binary, ca []byte) (v1.Image, error) {
	created := v1.Time{Time: o.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	history := []string{
		"CA certificates: " + CACertPath + " from " + caPackage(o.caCerts()),
		"go " + strings.Join(BuildArgs(o.Version, BinaryPath), " ") + " (" + strings.Join(BuildEnv(o.arch()), " ") + ")",
	}
	for i, files := range Layers(binary, ca) {
		layer, err := Layer(files, o.Created)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: created, CreatedBy: history[i], Comment: "hack/image"}})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = o.arch(), "linux", created
	cf.Config = v1.Config{
		User:       User,
		WorkingDir: WorkingDir,
		Entrypoint: Entrypoint,
		Env:        Env,
		Labels: map[string]string{
			LabelTitle: Title, LabelDescription: Description, LabelSource: Source,
			LabelVersion: o.Version, LabelRevision: o.Revision,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// Layer writes files as a reproducible tar layer: parents before children in sorted
// order, owned by root, every time set to mtime, no user or group names.
func Layer(files []File, mtime time.Time) (v1.Layer, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range sorted {
		if err := writeEntry(tw, f, mtime.UTC()); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithCompressedCaching)
}

func writeEntry(tw *tar.Writer, f File, mtime time.Time) error {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
		return fmt.Errorf("layer path %q is not clean and absolute", f.Path)
	}
	h := &tar.Header{
		Name:    strings.TrimPrefix(f.Path, "/"),
		Mode:    f.Mode,
		ModTime: mtime,
		Uid:     0, Gid: 0,
		Format: tar.FormatUSTAR,
	}
	if f.Dir {
		h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
	} else {
		h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(f.Data)
	return err
}

// Sizes are an image's compressed (what a registry stores and a node pulls) and
// uncompressed (the layers' tar streams) sizes in bytes.
func Sizes(img v1.Image) (compressed, uncompressed int64, err error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, 0, err
		}
		compressed += n
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		m, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, 0, err
		}
		uncompressed += m
	}
	for _, f := range []func() (int64, error){img.Size, configSize(img)} {
		n, err := f()
		if err != nil {
			return 0, 0, err
		}
		compressed += n
		uncompressed += n
	}
	return compressed, uncompressed, nil
}

func configSize(img v1.Image) func() (int64, error) {
	return func() (int64, error) {
		b, err := img.RawConfigFile()
		return int64(len(b)), err
	}
}
