package intune

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCloudEndpoints(t *testing.T) {
	for _, tc := range []struct {
		cloud                  Cloud
		authority, graph, scop string
	}{
		{CloudPublic, "https://login.microsoftonline.com/", "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
		{"", "https://login.microsoftonline.com/", "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
		{CloudUSGov, "https://login.microsoftonline.us/", "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
		{CloudUSGovDoD, "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"},
		{CloudChina, "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"},
	} {
		ep, err := CloudEndpoints(tc.cloud)
		if err != nil {
			t.Fatal(err)
		}
		if ep != (Endpoints{tc.authority, tc.graph, tc.scop}) {
			t.Errorf("CloudEndpoints(%q) = %+v", tc.cloud, ep)
		}
	}
	if _, err := CloudEndpoints("Germany"); err == nil {
		t.Error("the retired German cloud was accepted")
	}
}

func TestResolveEndpointsOverrides(t *testing.T) {
	ep, err := resolveEndpoints(Config{Cloud: CloudUSGov, AuthorityURL: "https://127.0.0.1:8443", GraphURL: "https://127.0.0.1:8443/v1.0/"})
	if err != nil {
		t.Fatal(err)
	}
	// The scope stays the cloud's: the override stands in for that resource.
	want := Endpoints{"https://127.0.0.1:8443/", "https://127.0.0.1:8443/v1.0", "https://graph.microsoft.us/.default"}
	if ep != want || ep.graphHost() != "127.0.0.1" {
		t.Fatalf("resolveEndpoints = %+v (host %q), want %+v", ep, ep.graphHost(), want)
	}
	for _, cfg := range []Config{{AuthorityURL: "http://login.example"}, {GraphURL: "graph.example/v1.0"}} {
		if _, err := resolveEndpoints(cfg); err == nil || !strings.Contains(err.Error(), "https") {
			t.Errorf("resolveEndpoints(%+v) = %v", cfg, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{TenantID: "t", ClientID: "c", Credential: Credential{ClientSecret: "s3cr3t-value"}}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no tenant", func(c *Config) { c.TenantID = "" }, "tenant id and client id"},
		{"unknown cloud", func(c *Config) { c.Cloud = "Mars" }, `unknown cloud "Mars"`},
		{"no credential", func(c *Config) { c.Credential = Credential{} }, "exactly one credential"},
		{"two credentials", func(c *Config) { c.Credential.FederatedTokenFile = "/var/run/token" }, "exactly one credential"},
		{"no token file", func(c *Config) { c.Credential = Credential{FederatedTokenFile: "/nonexistent/token"} }, "federated token file"},
		{"partial limiters", func(c *Config) { c.Limiters = &Limiters{Devices: NewLimiters().Devices} }, "Limiters must cover"},
		{"bad CA", func(c *Config) { c.CABundle = []byte("not pem") }, "no PEM certificate"},
		{"bad certificate", func(c *Config) { c.Credential = Credential{Certificate: []byte("junk"), Password: []byte("pw-value")} }, "client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mut(&cfg)
			_, err := New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(err.Error(), "pw-value") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
	token := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(token, []byte("x.y.z"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cred := range []Credential{{ClientSecret: "x"}, {FederatedTokenFile: token}} {
		cfg := ok
		cfg.Credential = cred
		if _, err := New(context.Background(), cfg); err != nil {
			t.Errorf("New(%T) = %v", cred, err)
		}
	}
}
