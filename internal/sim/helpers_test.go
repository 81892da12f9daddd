package sim_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/graph"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// twin is a running server plus clients for the tests.
type twin struct {
	t     testing.TB
	srv   *sim.Server
	env   map[string]string
	hc    *http.Client
	admin *simclient.Client
	token string // Graph token of the default app
}

// noThrottle keeps unrelated tests clear of the documented limits.
func noThrottle(o *sim.Options) {
	l := graph.DefaultLimits()
	l.Enabled = false
	o.Throttling = &l
}

// modelled serves the modelled UES mobile routes (off by default, as on a
// real tenant).
func modelled(o *sim.Options) { o.ModelledUES = true }

// reportDelay makes UES reports reach Intune d after a risk change.
func reportDelay(d time.Duration) func(*sim.Options) {
	return func(o *sim.Options) { o.ReportDelay = d }
}

// actionDelay makes devices carry out remoteLock, retire and wipe d after
// they were sent.
func actionDelay(d time.Duration) func(*sim.Options) {
	return func(o *sim.Options) { o.ActionDelay = d }
}

func start(t testing.TB, opts ...func(*sim.Options)) *twin {
	t.Helper()
	var o sim.Options
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := sim.Start(ctx, o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	tw := &twin{t: t, srv: srv, env: srv.Env(), hc: srv.Client()}
	tw.admin, err = simclient.FromEnv(tw.env)
	if err != nil {
		t.Fatal(err)
	}
	tw.token = tw.secretToken(tw.env[sim.EnvClientID], tw.env[sim.EnvClientSecret])
	return tw
}

func (tw *twin) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: tw.env[sim.EnvAuthorityURL], Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}},
		Transport: tw.hc,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// secretToken gets a Graph token with the real azidentity secret credential.
func (tw *twin) secretToken(clientID, secret string) string {
	tw.t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tw.env[sim.EnvTenantID], clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: tw.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		tw.t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		tw.t.Fatalf("GetToken: %v", err)
	}
	return tok.Token
}

// resp is a decoded HTTP answer.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r *resp) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (r *resp) list() []map[string]any {
	arr, _ := r.body["value"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, x := range arr {
		out = append(out, x.(map[string]any))
	}
	return out
}

// call sends a request with an optional bearer token and JSON body.
func (tw *twin) call(method, url, token string, body any, hdr ...string) *resp {
	tw.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tw.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tw.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := tw.hc.Do(req)
	if err != nil {
		tw.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// graph calls Graph with the default app's token; path is under /v1.0.
func (tw *twin) graph(method, path string, body any, hdr ...string) *resp {
	tw.t.Helper()
	return tw.call(method, tw.env[sim.EnvGraphURL]+path, tw.token, body, hdr...)
}

func gz(t testing.TB, v any) []byte {
	t.Helper()
	j, _ := json.Marshal(v)
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(j)
	_ = w.Close()
	return b.Bytes()
}

// expectStatus fails with the body when the status differs.
func expectStatus(t testing.TB, r *resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
}

// expectGraphError checks Graph's error shape.
func expectGraphError(t testing.TB, r *resp, status int, code, msgPart string) {
	t.Helper()
	expectStatus(t, r, status)
	e, _ := r.body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if e == nil || e["code"] != code || !strings.Contains(e["message"].(string), msgPart) ||
		inner["date"] == nil || inner["request-id"] == nil || inner["client-request-id"] == nil {
		t.Fatalf("error body %s, want code %q containing %q with innerError date/request-id/client-request-id", r.raw, code, msgPart)
	}
}

// jwtClaims decodes a JWT payload without verifying it.
func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually waits up to five seconds for cond, looking every 10ms: the twin answers
// in-process.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.EventuallyEvery(t, 5*time.Second, 10*time.Millisecond, what, func() (bool, string) { return cond(), "" })
}

var ctx = context.Background()

func httpRequest(method, url, token string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, nil)
	if err == nil && token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, err
}
