package intune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// tokenSource is the credential the Graph auth provider uses. It can be renewed: Graph
// answers 401 to a token that was revoked or expired early, yet azidentity would keep
// serving it from its cache until its expiry, so the client then swaps in a fresh
// credential (and with it an empty cache) and retries once.
type tokenSource struct {
	newCred func() (azcore.TokenCredential, error)
	// tenant is logged with each token acquired.
	tenant string
	mu     sync.RWMutex
	cur    azcore.TokenCredential

	// seen is the expiry of the last token handed out, which tells a token azidentity
	// just acquired from one it served from its cache; renewed says renew was called
	// since. Both only serve the logs.
	seenMu  sync.Mutex
	seen    time.Time
	renewed bool
}

func newTokenSource(tenant string, newCred func() (azcore.TokenCredential, error)) (*tokenSource, error) {
	cur, err := newCred()
	if err != nil {
		return nil, err
	}
	return &tokenSource{newCred: newCred, tenant: tenant, cur: cur}, nil
}

// GetToken marks its failures as tokenError, so they are classified as Entra ID's
// answer rather than Graph's.
func (s *tokenSource) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.mu.RLock()
	cur := s.cur
	s.mu.RUnlock()
	tok, err := cur.GetToken(ctx, opts)
	if err != nil {
		// Logged, classified, where the call fails (client.do).
		return tok, &tokenError{err: err}
	}
	s.noteToken(ctx, tok)
	return tok, nil
}

// noteToken logs, at V(1), a token azidentity acquired rather than served from its
// cache: the first, one renewed because Graph refused the last, or one replacing a
// token near its expiry. It logs when the token expires, never the token.
func (s *tokenSource) noteToken(ctx context.Context, tok azcore.AccessToken) {
	s.seenMu.Lock()
	fresh := !tok.ExpiresOn.Equal(s.seen)
	trigger := "expiring"
	switch {
	case s.seen.IsZero():
		trigger = "first"
	case s.renewed:
		trigger = "refused"
	}
	if fresh {
		s.seen, s.renewed = tok.ExpiresOn, false
	}
	s.seenMu.Unlock()
	if !fresh {
		return
	}
	l := log.FromContext(ctx, "service", entraService, "operation", entraTokenOperation, "tenant", s.tenant)
	if ci := callFrom(ctx); ci != nil {
		l = l.WithValues("call", ci.op)
	}
	l.V(1).Info("Entra access token acquired", "trigger", trigger, "expires", tok.ExpiresOn.UTC().Format(time.RFC3339))
}

func (s *tokenSource) renew() error {
	c, err := s.newCred()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
	s.seenMu.Lock()
	s.renewed = true
	s.seenMu.Unlock()
	return nil
}

// tokenError is a failure to get a token from Entra ID. Its text is never shown: the
// classifier builds the message from the error code and description.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "acquiring an Entra ID token failed" }
func (e *tokenError) Unwrap() error { return e.err }

// credentialFactory returns a function that builds cfg's azidentity credential. Every
// error it returns is free of secret material.
func credentialFactory(cfg Config, ep Endpoints, hc *http.Client) (func() (azcore.TokenCredential, error), error) {
	cr := cfg.Credential
	kinds := 0
	for _, set := range []bool{cr.ClientSecret != "", len(cr.Certificate) > 0, cr.FederatedTokenFile != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, errors.New("intune: exactly one credential is required: a client secret, a client certificate or a federated token file")
	}
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ep.AuthorityHost},
		Transport: hc,
		// Entra ID calls happen inside a Graph call, so they may not back off for long.
		Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second},
	}
	// Instance discovery asks login.microsoftonline.com about the authority, which
	// only knows Microsoft's own hosts, not a proxy or the twin.
	noDiscovery := cfg.AuthorityURL != ""

	switch {
	case cr.ClientSecret != "":
		return func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cr.ClientSecret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
		}, nil
	case len(cr.Certificate) > 0:
		data := cr.Certificate
		if len(cr.PrivateKey) > 0 {
			data = bytes.Join([][]byte{cr.Certificate, cr.PrivateKey}, []byte("\n"))
		}
		certs, key, err := azidentity.ParseCertificates(data, cr.Password)
		if err != nil {
			// The parser's errors name the format problem, never key material.
			return nil, fmt.Errorf("intune: client certificate: %w", err)
		}
		return func() (azcore.TokenCredential, error) {
			return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery,
					SendCertificateChain: cr.SendCertificateChain})
		}, nil
	default:
		// azidentity reads the file only when it needs a token, and its error then is
		// indistinguishable from an unreachable Entra ID: check it now, as configuration.
		if _, err := os.Stat(cr.FederatedTokenFile); err != nil {
			return nil, fmt.Errorf("intune: federated token file: %w", err)
		}
		return func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: opts, ClientID: cfg.ClientID, TenantID: cfg.TenantID,
				TokenFilePath: cr.FederatedTokenFile, DisableInstanceDiscovery: noDiscovery})
		}, nil
	}
}
