package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// CredentialRecorder is an http.RoundTripper that remembers every credential crossing
// the wire, so that a test can prove none of them reaches a log, an event or an error:
// Authorization headers; a token request's client_secret or client_assertion (form) or
// auth_token (JSON); and the access, refresh and id tokens a token endpoint returns.
type CredentialRecorder struct {
	Base  http.RoundTripper
	mu    sync.Mutex
	creds []string
}

// Seen are the recorded credentials (8 characters or more; shorter values would match
// by accident).
func (r *CredentialRecorder) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.creds...)
}

// Keep adds credentials the test knows of (a secret it configured), to be looked for too.
func (r *CredentialRecorder) Keep(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s {
		if len(v) >= 8 {
			r.creds = append(r.creds, v)
		}
	}
}

// RoundTrip records and forwards.
func (r *CredentialRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	auth := req.Header.Get("Authorization")
	r.Keep(auth, strings.TrimPrefix(auth, "Bearer "))
	if req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			if form, err := url.ParseQuery(string(body)); err == nil {
				r.Keep(form.Get("client_secret"), form.Get("client_assertion"))
			}
		} else {
			var b struct {
				AuthToken string `json:"auth_token"`
			}
			if json.Unmarshal(body, &b) == nil {
				r.Keep(b.AuthToken)
			}
		}
	}
	resp, err := r.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var b struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if json.Unmarshal(body, &b) == nil {
		r.Keep(b.AccessToken, b.RefreshToken, b.IDToken)
	}
	return resp, nil
}
