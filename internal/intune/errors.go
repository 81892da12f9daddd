package intune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

const service = "graph"

// classify turns any failure of an operation into an *outbound.Error. It is the only
// place that looks at the SDKs' error types.
func (c *client) classify(ctx context.Context, op string, err error) *outbound.Error {
	var oe *outbound.Error
	if errors.As(err, &oe) { // the limiter held the request back
		e := *oe
		e.Operation = op
		return &e
	}
	var te *tokenError
	if errors.As(err, &te) {
		return c.authError(op, te.err)
	}
	var api abs.ApiErrorable
	if errors.As(err, &api) {
		return graphError(op, api)
	}
	e := &outbound.Error{Service: service, Operation: op, Kind: outbound.Transient, Err: err}
	switch {
	case ctx.Err() != nil:
		e.Err, e.Message = ctx.Err(), "the call was cancelled"
	case isNetwork(err):
		// Transport errors name the URL and the cause, never headers or bodies.
	default:
		e.Kind = outbound.Terminal
	}
	return e
}

// graphError classifies Graph's answer. The ODataError itself is not kept: its Error
// method panics on a body without an error object, and everything in it is copied.
func graphError(op string, api abs.ApiErrorable) *outbound.Error {
	status := api.GetStatusCode()
	e := &outbound.Error{Service: service, Operation: op, Kind: outbound.KindForStatus(status), StatusCode: status}
	switch v := api.(type) {
	case *odataerrors.ODataError:
		if main := v.GetErrorEscaped(); main != nil {
			e.Code, e.Message = deref(main.GetCode()), deref(main.GetMessage())
		}
	case *abs.ApiError:
		e.Message = v.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	retryAfter := ""
	if h := api.GetResponseHeaders(); h != nil {
		if vs := h.Get("Retry-After"); len(vs) > 0 {
			retryAfter = vs[0]
		}
	}
	switch e.Kind {
	case outbound.Throttled:
		e.RetryAfter = outbound.ParseRetryAfter(retryAfter, time.Now(), 30*time.Second)
	case outbound.Transient:
		e.RetryAfter = outbound.ParseRetryAfter(retryAfter, time.Now(), 0)
	case outbound.Forbidden:
		e.Permission = operations[op].permission
	}
	return e
}

// authError classifies a failure to get a token. The message is built from Entra ID's
// error code and the first sentence of its description (which names the AADSTS code),
// and any configured secret is scrubbed from it for good measure.
func (c *client) authError(op string, err error) *outbound.Error {
	e := &outbound.Error{Service: "entra", Operation: op, Kind: outbound.Unauthorized}
	var afe *azidentity.AuthenticationFailedError
	switch {
	case errors.As(err, &afe) && afe.RawResponse != nil:
		e.StatusCode = afe.RawResponse.StatusCode
		if k := outbound.KindForStatus(e.StatusCode); k == outbound.Throttled || k == outbound.Transient {
			e.Kind = k
			e.RetryAfter = outbound.ParseRetryAfter(afe.RawResponse.Header.Get("Retry-After"), time.Now(), 0)
		}
		e.Code, e.Message = aadError(afe.RawResponse)
	case errors.As(err, &afe):
		// No answer from Entra ID (unreachable, or the assertion could not be made):
		// azidentity puts the cause in its text, which holds no secret.
		e.Kind = outbound.Transient
		e.Message = "no token from Entra ID: " + firstLine(afe.Error())
	default:
		e.Message = "no token from Entra ID: " + firstLine(err.Error())
	}
	e.Message = c.redact(e.Message)
	return e
}

// aadError reads an Entra ID error body: error, error_description, error_codes.
func aadError(resp *http.Response) (code, msg string) {
	body, err := runtime.Payload(resp)
	var b struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if err != nil || json.Unmarshal(body, &b) != nil {
		return "", fmt.Sprintf("Entra ID answered HTTP %d", resp.StatusCode)
	}
	msg, _, _ = strings.Cut(b.Description, " Trace ID:")
	msg = firstLine(msg)
	if !strings.HasPrefix(msg, "AADSTS") && len(b.Codes) > 0 {
		msg = fmt.Sprintf("AADSTS%d: %s", b.Codes[0], msg)
	}
	return b.Error, msg
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// redact removes the configured secrets from s.
func (c *client) redact(s string) string {
	for _, secret := range c.secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func isNetwork(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tokenRefused reports whether Graph refused the bearer token (revoked, or expired
// early), which a fresh token can cure.
func tokenRefused(err error) bool {
	var te *tokenError
	var api abs.ApiErrorable
	return !errors.As(err, &te) && errors.As(err, &api) && api.GetStatusCode() == http.StatusUnauthorized
}
