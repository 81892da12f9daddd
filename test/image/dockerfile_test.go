package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/hack/image/ociimage"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
}

// parseDockerfile splits a Dockerfile into stages of instructions. It knows what this
// Dockerfile uses: comments, parser directives, backslash continuations.
func parseDockerfile(t *testing.T, path string) [][]instruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	var line string
	for _, raw := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && line == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			line += cont + " "
			continue
		}
		line += trimmed
		cmd, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		line = ""
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], instruction{cmd, strings.Join(strings.Fields(args), " ")})
	}
	return stages
}

func find(stage []instruction, cmd string) []string {
	var out []string
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// TestDockerfileMatchesTheBuilder keeps the Dockerfile, for people with Docker, in
// step with hack/image: the same base idea (distroless static nonroot, or scratch
// with Debian's CA bundle copied to the same place), user, working directory,
// entrypoint, binary path, go build flags and labels.
func TestDockerfileMatchesTheBuilder(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("want a builder stage and a final stage, got %d stages", len(stages))
	}
	builder, final := stages[0], stages[len(stages)-1]

	base := strings.Fields(find(final, "FROM")[0])[0]
	switch base {
	case "gcr.io/distroless/static:nonroot", "gcr.io/distroless/static-debian12:nonroot":
	case "scratch":
		if !slices.ContainsFunc(find(final, "COPY"), func(a string) bool { return strings.HasSuffix(a, " "+ociimage.CACertPath) }) {
			t.Errorf("a scratch image must COPY the CA bundle to %s", ociimage.CACertPath)
		}
	default:
		t.Errorf("final base %s: hack/image builds a static image with only CA certificates (distroless static nonroot or scratch)", base)
	}
	if got := last(find(final, "USER")); got != ociimage.User {
		t.Errorf("USER %q, hack/image uses %q", got, ociimage.User)
	}
	if got := last(find(final, "WORKDIR")); got != ociimage.WorkingDir {
		t.Errorf("WORKDIR %q, hack/image uses %q", got, ociimage.WorkingDir)
	}
	var entrypoint []string
	if err := json.Unmarshal([]byte(last(find(final, "ENTRYPOINT"))), &entrypoint); err != nil || !slices.Equal(entrypoint, ociimage.Entrypoint) {
		t.Errorf("ENTRYPOINT %q (%v), hack/image uses %q in exec form", entrypoint, err, ociimage.Entrypoint)
	}
	if cmd := find(final, "CMD"); len(cmd) > 0 {
		t.Errorf("CMD %q: hack/image sets none", cmd)
	}
	checkBinaryCopy(t, builder, final)
	checkLabels(t, final)
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// checkBinaryCopy: the builder's go build has hack/image's environment and flags and
// its output is what the final stage copies to the binary path.
func checkBinaryCopy(t *testing.T, builder, final []instruction) {
	t.Helper()
	var build string
	for _, run := range find(builder, "RUN") {
		if strings.Contains(run, "go build") {
			build = run
		}
	}
	if build == "" {
		t.Fatal("the builder stage has no go build")
	}
	for _, env := range ociimage.BuildEnv("")[:2] { // CGO_ENABLED=0 GOOS=linux (GOARCH is the target's)
		if !strings.Contains(build, env) && !strings.Contains(build, strings.Replace(env, "linux", "${TARGETOS:-linux}", 1)) {
			t.Errorf("the Dockerfile's go build lacks %s: %s", env, build)
		}
	}
	args := ociimage.BuildArgs("${VERSION}", "OUT")
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-ldflags":
			want := `-ldflags "` + args[i+1] + `"`
			if !strings.Contains(build, want) {
				t.Errorf("the Dockerfile's go build lacks %s: %s", want, build)
			}
			i++
		case "-o":
			i++
		default:
			if !strings.Contains(build, " "+args[i]) {
				t.Errorf("the Dockerfile's go build lacks %s: %s", args[i], build)
			}
		}
	}
	out := regexp.MustCompile(` -o (\S+)`).FindStringSubmatch(build)
	if out == nil {
		t.Fatalf("no -o in %s", build)
	}
	copied := false
	for _, c := range find(final, "COPY") {
		f := strings.Fields(c)
		if len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[1] == out[1] && f[2] == ociimage.BinaryPath {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the final stage does not COPY --from the builder %s to %s", out[1], ociimage.BinaryPath)
	}
}

// checkLabels: the same org.opencontainers.image labels with the same fixed values;
// version and revision come from build arguments.
func checkLabels(t *testing.T, final []instruction) {
	t.Helper()
	labels := map[string]string{}
	re := regexp.MustCompile(`([a-z.]+)="([^"]*)"`)
	for _, l := range find(final, "LABEL") {
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			labels[m[1]] = m[2]
		}
	}
	want := map[string]string{
		ociimage.LabelTitle: ociimage.Title, ociimage.LabelDescription: ociimage.Description,
		ociimage.LabelSource: ociimage.Source, ociimage.LabelVersion: "${VERSION}", ociimage.LabelRevision: "${COMMIT}",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("Dockerfile LABEL %s=%q, hack/image sets %q", k, labels[k], v)
		}
	}
	for k := range labels {
		if _, ok := want[k]; !ok {
			t.Errorf("Dockerfile LABEL %s is not set by hack/image", k)
		}
	}
}
