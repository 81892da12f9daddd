package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/hack/image/ociimage"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

// The image is built once per test binary (a link of the manager is the slow part)
// and shared; the reproducibility test builds it a second time.
var shared struct {
	once   sync.Once
	opts   ociimage.Options
	img    v1.Image
	layout string
	err    error
}

var workDir string

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; these tests read the operator's own log.
	ctrllog.SetLogger(logr.Discard())
	var err error
	if workDir, err = os.MkdirTemp("", "mtd-image-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(workDir)
	os.Exit(code)
}

// built returns the image as `make image` builds it, written to and read back from an
// OCI layout.
func built(t *testing.T) (ociimage.Options, v1.Image) {
	t.Helper()
	shared.once.Do(func() {
		shared.opts = ociimage.Defaults(testenv.RepoRoot())
		shared.layout = filepath.Join(workDir, "layout-1")
		shared.img, shared.err = buildLayout(shared.opts, shared.layout)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.opts, shared.img
}

func buildLayout(o ociimage.Options, dir string) (v1.Image, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	img, err := ociimage.Build(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := ociimage.WriteLayout(dir, img, "test"); err != nil {
		return nil, err
	}
	return ociimage.ReadLayout(dir)
}

// TestImageIsReproducible builds the image a second time, from scratch but for Go's
// build cache, into another layout: the digest and every byte of the layout agree.
func TestImageIsReproducible(t *testing.T) {
	o, first := built(t)
	second, err := buildLayout(o, filepath.Join(workDir, "layout-2"))
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := digest(t, first), digest(t, second)
	if d1 != d2 {
		t.Fatalf("two builds of the same source gave %s and %s", d1, d2)
	}
	for _, rel := range layoutFiles(t, shared.layout) {
		a, errA := os.ReadFile(filepath.Join(shared.layout, rel))
		b, errB := os.ReadFile(filepath.Join(workDir, "layout-2", rel))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the two layouts (%v, %v)", rel, errA, errB)
		}
	}
	t.Logf("image %s, built twice", d1)
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func layoutFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil || len(files) < 5 { // oci-layout, index.json, manifest, config, 2 layers
		t.Fatalf("layout %s: %v %v", dir, files, err)
	}
	return files
}

// TestImageConfig: user 65532, the manager as entrypoint with nothing to interpret it,
// a minimal environment, the labels, OCI media types, and the fixed creation time.
func TestImageConfig(t *testing.T) {
	o, img := built(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/manager"}) || len(c.Cmd) != 0 {
		t.Errorf("Entrypoint %q Cmd %q, want [/manager] and no Cmd", c.Entrypoint, c.Cmd)
	}
	if c.WorkingDir != "/" || !slices.Equal(c.Env, []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}) {
		t.Errorf("WorkingDir %q Env %q", c.WorkingDir, c.Env)
	}
	want := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/mtd-operator/mtd-operator",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
	}
	for k, v := range want {
		if c.Labels[k] != v || v == "" {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(o.Created) {
		t.Errorf("platform %s/%s created %s, want linux/%s created %s", cf.OS, cf.Architecture, cf.Created, runtime.GOARCH, o.Created)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		if mt, _ := l.MediaType(); mt != types.OCILayer {
			t.Errorf("layer media type %s", mt)
		}
	}
	if len(cf.History) != len(layers) || len(layers) != 2 {
		t.Errorf("%d layers, %d history entries: want 2 of each", len(layers), len(cf.History))
	}
}

// entry is a layer entry as the test checks it.
type entry struct {
	name     string
	typeflag byte
	mode     int64
}

// TestImageHoldsOnlyTheBinaryAndCAs lists every entry of every layer: the CA bundle
// (the one Debian's ca-certificates package installed here, byte for byte), the
// manager, their directories and an empty /tmp; all root-owned, nameless owners,
// the fixed time. The manager is static and carries no path of the build machine.
func TestImageHoldsOnlyTheBinaryAndCAs(t *testing.T) {
	o, img := built(t)
	want := [][]entry{
		{{"etc/", tar.TypeDir, 0o755}, {"etc/ssl/", tar.TypeDir, 0o755}, {"etc/ssl/certs/", tar.TypeDir, 0o755},
			{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644}, {"tmp/", tar.TypeDir, 0o1777}},
		{{"manager", tar.TypeReg, 0o755}},
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != len(want) {
		t.Fatalf("%d layers (%v), want %d", len(layers), err, len(want))
	}
	contents := map[string][]byte{}
	for i, l := range layers {
		got := readLayer(t, l, o.Created, contents)
		if !slices.Equal(got, want[i]) {
			t.Errorf("layer %d holds %v, want %v", i, got, want[i])
		}
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("Debian's CA bundle: %v (apt-get install -y ca-certificates)", err)
	}
	if !bytes.Equal(contents["etc/ssl/certs/ca-certificates.crt"], ca) {
		t.Error("the image's CA bundle is not the machine's /etc/ssl/certs/ca-certificates.crt")
	}
	checkStatic(t, contents["manager"], o.Root)
}

// readLayer returns the layer's entries in order, checking owner and time, and keeps
// the regular files' contents.
func readLayer(t *testing.T, l v1.Layer, mtime time.Time, contents map[string][]byte) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{h.Name, h.Typeflag, h.Mode})
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(mtime) {
			t.Errorf("%s: owner %d:%d (%q:%q) time %s, want 0:0, no names, %s", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, mtime)
		}
		if h.Typeflag == tar.TypeReg {
			if contents[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkStatic: no ELF interpreter or shared library, built with CGO_ENABLED=0 and
// -trimpath for linux, and no trace of the paths it was built from.
func checkStatic(t *testing.T, bin []byte, root string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("the manager is not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the manager has a %s program header: it is not static", p.Type)
		}
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || settings["GOOS"] != "linux" {
		t.Errorf("build settings %v: want CGO_ENABLED=0, -trimpath, GOOS=linux", settings)
	}
	modcache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	for _, p := range []string{root, strings.TrimSpace(string(modcache)), runtime.GOROOT() + "/src", os.TempDir() + "/mtd-image-"} {
		if p != "" && p != "/src" && bytes.Contains(bin, []byte(p)) {
			t.Errorf("the manager holds the build path %s", p)
		}
	}
}
