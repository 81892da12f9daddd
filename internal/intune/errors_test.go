package intune

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

func odataError(status int, code, msg string, headers map[string]string) *odataerrors.ODataError {
	e := odataerrors.NewODataError()
	if code != "" {
		main := odataerrors.NewMainError()
		main.SetCode(&code)
		main.SetMessage(&msg)
		e.SetErrorEscaped(main)
	}
	e.SetStatusCode(status)
	h := abs.NewResponseHeaders()
	for k, v := range headers {
		h.Add(k, v)
	}
	e.SetResponseHeaders(h)
	return e
}

// wrapped wraps an error as the SDK's layers do, without calling its Error method
// (fmt.Errorf would, and an ODataError without a body panics there).
type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped" }
func (w wrapped) Unwrap() error { return w.err }

func TestClassifyGraphErrors(t *testing.T) {
	c := &client{}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		op   string
		err  error
		want outbound.Error
	}{
		{"throttled", opPatchCompliancePolicy, odataError(429, "TooManyRequests", "Too many requests.", map[string]string{"Retry-After": "30"}),
			outbound.Error{Kind: outbound.Throttled, StatusCode: 429, Code: "TooManyRequests", Message: "Too many requests.", RetryAfter: 30 * time.Second}},
		{"throttled without Retry-After", opGetConnector, odataError(429, "TooManyRequests", "slow down", nil),
			outbound.Error{Kind: outbound.Throttled, StatusCode: 429, Code: "TooManyRequests", Message: "slow down", RetryAfter: 30 * time.Second}},
		{"forbidden", opRunDeviceAction, odataError(403, "Forbidden", "Application is not authorized", nil),
			outbound.Error{Kind: outbound.Forbidden, StatusCode: 403, Code: "Forbidden", Message: "Application is not authorized", Permission: permDevicesPrivileged}},
		{"forbidden without body", opUpdateConditionalAccessPolicy, odataError(403, "", "", nil),
			outbound.Error{Kind: outbound.Forbidden, StatusCode: 403, Message: "Forbidden", Permission: permCAWrite}},
		{"not found", opGetCompliancePolicy, odataError(404, "ResourceNotFound", "gone", nil),
			outbound.Error{Kind: outbound.NotFound, StatusCode: 404, Code: "ResourceNotFound", Message: "gone"}},
		{"unavailable", opListManagedDevices, odataError(503, "ServiceUnavailable", "later", map[string]string{"Retry-After": "120"}),
			outbound.Error{Kind: outbound.Transient, StatusCode: 503, Code: "ServiceUnavailable", Message: "later", RetryAfter: 2 * time.Minute}},
		{"validation", opCreateCompliancePolicy, odataError(400, "BadRequest", "one and only one block", nil),
			outbound.Error{Kind: outbound.Terminal, StatusCode: 400, Code: "BadRequest", Message: "one and only one block"}},
		{"no error factory", opDeleteCompliancePolicy, &abs.ApiError{Message: "unexpected status", ResponseStatusCode: 409},
			outbound.Error{Kind: outbound.Conflict, StatusCode: 409, Message: "unexpected status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.classify(ctx, tc.op, wrapped{tc.err})
			tc.want.Service, tc.want.Operation = service, tc.op
			if *got != tc.want {
				t.Fatalf("\n got %+v\nwant %+v", *got, tc.want)
			}
			_ = got.Error() // never panics, whatever the body held
		})
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	c := &client{}
	held := &outbound.Error{Service: service, Kind: outbound.Throttled, RetryAfter: 7 * time.Second}
	if got := c.classify(context.Background(), opPatchConnector, &url.Error{Op: "Patch", URL: "https://g", Err: held}); got.Kind != outbound.Throttled ||
		got.Operation != opPatchConnector || got.RetryAfter != 7*time.Second {
		t.Errorf("limiter hold = %+v", got)
	}
	dropped := &url.Error{Op: "Patch", URL: "https://g/v1.0/x", Err: io.EOF}
	if got := c.classify(context.Background(), opPatchConnector, dropped); got.Kind != outbound.Transient || !errors.Is(got, io.EOF) {
		t.Errorf("dropped connection = %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := c.classify(ctx, opGetConnector, errors.New("whatever")); got.Kind != outbound.Transient || !errors.Is(got, context.Canceled) {
		t.Errorf("cancelled = %+v", got)
	}
	if got := c.classify(context.Background(), opGetConnector, errors.New("cannot parse")); got.Kind != outbound.Terminal {
		t.Errorf("parse failure = %+v", got)
	}
}

func TestClassifyAuthErrors(t *testing.T) {
	const secret = "Zx8Q~not-a-real-secret-value"
	c := &client{secrets: []string{secret}}
	resp := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	}
	wrong := &azidentity.AuthenticationFailedError{RawResponse: resp(401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided (`+secret+`). Trace ID: 1 Correlation ID: 2 Timestamp: 3","error_codes":[7000215]}`)}
	got := c.classify(context.Background(), opGetConnector, &tokenError{err: wrong})
	want := outbound.Error{Service: "entra", Operation: opGetConnector, Kind: outbound.Unauthorized, StatusCode: 401,
		Code: "invalid_client", Message: "AADSTS7000215: Invalid client secret provided ([redacted])."}
	if *got != want {
		t.Fatalf("\n got %+v\nwant %+v", *got, want)
	}
	busy := &azidentity.AuthenticationFailedError{RawResponse: resp(503, `{"error":"temporarily_unavailable","error_description":"try later","error_codes":[50196]}`)}
	if got := c.classify(context.Background(), opGetConnector, &tokenError{err: busy}); got.Kind != outbound.Transient || got.Message != "AADSTS50196: try later" {
		t.Errorf("Entra 503 = %+v", got)
	}
	if got := c.classify(context.Background(), opGetConnector, &tokenError{err: errors.New("token file missing")}); got.Kind != outbound.Unauthorized || got.Service != "entra" {
		t.Errorf("credential failure = %+v", got)
	}
	// A Graph 401 is a refused token (curable by a new one); an Entra failure is not.
	if !tokenRefused(odataError(401, "InvalidAuthenticationToken", "revoked", nil)) || tokenRefused(&tokenError{err: wrong}) {
		t.Error("tokenRefused misjudges")
	}
}

func TestNextRetryDelay(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		n      int
		want   time.Duration
	}{
		{"30", 1, 30 * time.Second},
		{"1", 2, time.Second},
		{now.Add(90 * time.Second).Format(time.RFC1123), 1, 90 * time.Second},
		{"", 1, 2 * time.Second}, // 1 s back-off + up to 1 s jitter
		{"", 2, 3 * time.Second},
		{"soon", 3, 5 * time.Second},
	} {
		r := &http.Response{Header: http.Header{}}
		if tc.header != "" {
			r.Header.Set("Retry-After", tc.header)
		}
		if got := nextRetryDelay(r, tc.n, now); got != tc.want {
			t.Errorf("nextRetryDelay(%q, %d) = %s, want %s", tc.header, tc.n, got, tc.want)
		}
	}
}
