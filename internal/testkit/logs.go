package testkit

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Logs collects a logger's JSON lines, V(1) included, for tests of what code logs (and,
// above all, of what it must never log).
type Logs struct {
	mu    sync.Mutex
	raw   strings.Builder
	lines []map[string]any
}

// Context returns a context whose controller-runtime logger writes into l.
func (l *Logs) Context(t testing.TB) context.Context {
	logger := funcr.NewJSON(func(obj string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.raw.WriteString(obj + "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(obj), &m); err != nil {
			t.Errorf("log line %s: %v", obj, err)
		}
		l.lines = append(l.lines, m)
	}, funcr.Options{Verbosity: 1})
	return log.IntoContext(context.Background(), logger)
}

// Find insists on a line with msg whose keys hold want ("*": any value), compared as
// text, and returns it (nil, having failed the test, when there is none).
func (l *Logs) Find(t testing.TB, msg string, want map[string]string) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		if line["msg"] != msg {
			continue
		}
		for k, v := range want {
			got, ok := line[k]
			b, _ := json.Marshal(got)
			if !ok || (v != "*" && strings.Trim(string(b), `"`) != v) {
				continue next
			}
		}
		return line
	}
	t.Errorf("no log line %q with %v in:\n%s", msg, want, l.raw.String())
	return nil
}

// Raw is everything logged, as written.
func (l *Logs) Raw() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}
