package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository's top directory, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var toolMu sync.Mutex

// Tool returns bin/<name>. A missing tool is built with hack/tools.sh, which caches it
// by version outside the repository, so a second run only links it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	p := filepath.Join(repoRoot(), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Logf("%s is not in bin/: building it with hack/tools.sh %s", name, name)
	cmd := exec.Command(filepath.Join(repoRoot(), "hack", "tools.sh"), name)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/tools.sh %s: %v\n%s", name, err, out)
	}
	return p
}

// RunTool runs a tool in the repository and returns its stdout; the error carries both
// outputs. helm gets private, empty home directories.
func RunTool(t testing.TB, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot()
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}
