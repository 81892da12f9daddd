package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var envKeys = []string{"MTD_SIM_AUTHORITY_URL", "MTD_SIM_GRAPH_URL", "MTD_SIM_UES_URL", "MTD_SIM_ADMIN_URL",
	"MTD_SIM_CA_FILE", "MTD_SIM_TENANT_ID", "MTD_SIM_CLIENT_ID", "MTD_SIM_CLIENT_SECRET",
	"MTD_SIM_UES_TENANT_ID", "MTD_SIM_UES_APP_ID", "MTD_SIM_UES_APP_SECRET", "MTD_SIM_UES_MODELLED"}

// TestRun runs the CLI in-process: it must write every MTD_SIM_* key, serve
// over HTTPS trusted via the CA file (for 127.0.0.1 and localhost), and shut
// down cleanly on SIGTERM, removing a CA directory it generated.
func TestRun(t *testing.T) {
	caDir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		caFile   string // expected MTD_SIM_CA_FILE; "" = a generated directory
		keepsCA  bool
		tenantID string
		modelled string // MTD_SIM_UES_MODELLED
		delay    string // GET /admin/reporting-delay
		actDelay string // GET /admin/action-delay
		ues      int    // status of GET /ues/mobilealerts/v1 without a token
	}{
		{"given CA dir and ids", []string{"--ca-dir", caDir, "--seed-demo", "--throttle=false", "--tenant-id", "11111111-2222-3333-4444-555555555555",
			"--modelled-ues", "--report-delay", "90s", "--action-delay", "2h"},
			filepath.Join(caDir, "ca.crt"), true, "11111111-2222-3333-4444-555555555555", "true", `{"delay":"1m30s"}`, `{"delay":"2h0m0s"}`, 401},
		{"generated CA dir", []string{"--access-log"}, "", false, "", "false", `{"delay":"0s"}`, `{"delay":"0s"}`, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			envFile := filepath.Join(t.TempDir(), "sim.env")
			done := make(chan error, 1)
			go func() { done <- run(append([]string{"--addr", "127.0.0.1:0", "--write-env", envFile}, tc.args...)) }()
			env := readEnv(t, envFile, done)
			for _, k := range envKeys {
				if env[k] == "" {
					t.Errorf("%s missing", k)
				}
			}
			if !strings.HasPrefix(env["MTD_SIM_AUTHORITY_URL"], "https://127.0.0.1:") || !strings.HasSuffix(env["MTD_SIM_AUTHORITY_URL"], "/") ||
				env["MTD_SIM_GRAPH_URL"] != strings.TrimSuffix(env["MTD_SIM_AUTHORITY_URL"], "/")+"/v1.0" ||
				env["MTD_SIM_UES_URL"] != strings.TrimSuffix(env["MTD_SIM_AUTHORITY_URL"], "/")+"/ues" ||
				(tc.caFile != "" && env["MTD_SIM_CA_FILE"] != tc.caFile) ||
				(tc.tenantID != "" && env["MTD_SIM_TENANT_ID"] != tc.tenantID) || env["MTD_SIM_UES_MODELLED"] != tc.modelled {
				t.Fatalf("env %v", env)
			}

			pem, err := os.ReadFile(env["MTD_SIM_CA_FILE"])
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			for _, base := range []string{env["MTD_SIM_ADMIN_URL"], strings.Replace(env["MTD_SIM_ADMIN_URL"], "127.0.0.1", "localhost", 1)} {
				res, err := hc.Get(base + "/healthz")
				if err != nil {
					t.Fatalf("healthz via %s: %v", base, err)
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("healthz %d", res.StatusCode)
				}
			}

			if got := get(t, hc, env["MTD_SIM_ADMIN_URL"]+"/reporting-delay"); got.status != 200 || got.body != tc.delay {
				t.Fatalf("reporting delay %d %s, want %s", got.status, got.body, tc.delay)
			}
			if got := get(t, hc, env["MTD_SIM_ADMIN_URL"]+"/action-delay"); got.status != 200 || got.body != tc.actDelay {
				t.Fatalf("action delay %d %s, want %s", got.status, got.body, tc.actDelay)
			}
			if got := get(t, hc, env["MTD_SIM_UES_URL"]+"/mobilealerts/v1"); got.status != tc.ues {
				t.Fatalf("modelled route %d %s, want %d", got.status, got.body, tc.ues)
			}

			if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no shutdown after SIGTERM")
			}
			if _, err := hc.Get(env["MTD_SIM_ADMIN_URL"] + "/healthz"); err == nil {
				t.Fatal("still serving after shutdown")
			}
			if _, err := os.Stat(env["MTD_SIM_CA_FILE"]); (err == nil) != tc.keepsCA {
				t.Fatalf("CA file after shutdown: %v (keep=%v)", err, tc.keepsCA)
			}
		})
	}
}

type answer struct {
	status int
	body   string
}

func get(t *testing.T, hc *http.Client, url string) answer {
	t.Helper()
	res, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, string(b)}
}

// readEnv polls for the env file until every key is there.
func readEnv(t *testing.T, path string, done <-chan error) map[string]string {
	t.Helper()
	env := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(env) < len(envKeys) {
		if time.Now().After(deadline) {
			t.Fatalf("env file incomplete: %v", env)
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = v
			}
		}
		f.Close()
	}
	return env
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--addr", "256.0.0.1:0"}, {"--throttle-window", "soon"},
		{"--report-delay", "soon"}, {"--report-delay", "-1s"}, {"--action-delay", "soon"}, {"--action-delay", "-1s"}} {
		if err := run(args); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
	}
}
