package plugin_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

// krewPlugin is the part of krew's Plugin manifest (v1alpha2) the template fills in.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestTheKrewManifestTemplate fills deploy/krew/mtd.yaml as a release does and checks
// that the result is a krew manifest for `kubectl mtd` whose every platform names its
// own archive, checksum and binary.
func TestTheKrewManifestTemplate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy", "krew", "mtd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	filled := os.Expand(string(data), func(name string) string {
		used[name] = true
		switch {
		case name == "VERSION":
			return "v0.3.0"
		case name == "BASE_URI":
			return "https://github.com/mtd-operator/mtd-operator/releases/download/v0.3.0"
		case strings.HasPrefix(name, "SHA256_"):
			return strings.Repeat("ab", 32)
		}
		t.Errorf("unknown placeholder ${%s}", name)
		return ""
	})
	var p krewPlugin
	if err := yaml.UnmarshalStrict([]byte(filled), &p); err != nil {
		t.Fatalf("the filled manifest: %v", err)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "mtd" {
		t.Fatalf("not the krew Plugin mtd: %s %s %s", p.APIVersion, p.Kind, p.Metadata.Name)
	}
	if p.Spec.Version != "v0.3.0" || p.Spec.ShortDescription == "" || p.Spec.Homepage == "" {
		t.Errorf("spec: version %q, shortDescription %q, homepage %q", p.Spec.Version, p.Spec.ShortDescription, p.Spec.Homepage)
	}
	want := []string{"BASE_URI", "VERSION"}
	for _, pl := range p.Spec.Platforms {
		osName, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		want = append(want, "SHA256_"+strings.ToUpper(osName+"_"+arch))
		bin := "kubectl-mtd"
		if osName == "windows" {
			bin += ".exe"
		}
		if !strings.HasSuffix(pl.URI, "/kubectl-mtd_v0.3.0_"+osName+"_"+arch+".tar.gz") || !strings.HasPrefix(pl.URI, "https://") {
			t.Errorf("%s/%s: uri %s is not its own archive", osName, arch, pl.URI)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(pl.SHA256) {
			t.Errorf("%s/%s: sha256 %q", osName, arch, pl.SHA256)
		}
		if pl.Bin != bin || len(pl.Files) != 1 || pl.Files[0].From != bin {
			t.Errorf("%s/%s: bin %q, files %+v, want %s", osName, arch, pl.Bin, pl.Files, bin)
		}
	}
	if len(p.Spec.Platforms) == 0 {
		t.Fatal("no platforms")
	}
	var got []string
	for k := range used {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("placeholders %v, want exactly %v (one checksum per platform)", got, want)
	}
}
