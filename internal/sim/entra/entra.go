// Package entra is the twin's Entra ID login endpoint: OpenID discovery and
// the OAuth 2.0 client credentials grant (client secret or certificate
// assertion), issuing Graph access tokens that carry the app's roles. It also
// verifies those tokens for the Graph service.
package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// GraphAudience is the aud of Graph access tokens.
const GraphAudience = "https://graph.microsoft.com"

// TokenLifetime is the documented expires_in of client credential tokens.
const TokenLifetime = 3599 * time.Second

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Service issues and verifies tokens.
type Service struct {
	w   *world.World
	key *rsa.PrivateKey
	kid string
	now func() time.Time // wall time: token lifetimes are not world time
}

// New creates the service with a fresh signing key.
func New(w *world.World) (*Service, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Service{w: w, key: key, kid: world.NewID(), now: time.Now}, nil
}

// Claims are the claims of an issued Graph access token.
type Claims struct {
	jwt.RegisteredClaims
	// Aud shadows the embedded audience: Entra writes aud as a string, and
	// golang-jwt's array form is a process-wide switch we must not flip.
	Aud      string   `json:"aud"`
	TenantID string   `json:"tid"`
	AppID    string   `json:"appid"`
	IDType   string   `json:"idtyp"`
	Ver      string   `json:"ver"`
	Roles    []string `json:"roles,omitempty"`
	// Gen is the tenant's token generation at issue (see world.Tenant.TokenGen).
	Gen int `json:"xms_sim_gen"`
}

// GetAudience reports the string aud to the validator.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{c.Aud}, nil }

// ErrorWriter answers with the AAD error shape.
func ErrorWriter(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	writeAADError(w, status, code, 0, msg)
}

// Register mounts discovery and token endpoints at the root.
func (s *Service) Register(m *mw.Mux) {
	m.Handle("GET /{tenant}/v2.0/.well-known/openid-configuration", s.discovery)
	m.Handle("POST /{tenant}/oauth2/v2.0/token", s.token)
}

func baseURL(r *http.Request) string { return "https://" + r.Host }

func (s *Service) tenant(r *http.Request) *world.Tenant {
	var t *world.Tenant
	s.w.Run(func(st *world.State) { t = st.Tenant(r.PathValue("tenant")) })
	return t
}

func (s *Service) discovery(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	if s.tenant(r) == nil {
		writeAADError(w, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tid))
		return
	}
	b := baseURL(r) + "/" + tid
	mw.WriteJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        b + "/oauth2/v2.0/token",
		"authorization_endpoint":                b + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  b + "/oauth2/v2.0/logout",
		"jwks_uri":                              b + "/discovery/v2.0/keys",
		"issuer":                                b + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tenant")
	if err := r.ParseForm(); err != nil {
		writeAADError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	for _, p := range []string{"grant_type", "client_id", "scope"} {
		if f.Get(p) == "" {
			writeAADError(w, http.StatusBadRequest, "invalid_request", 900144,
				fmt.Sprintf("The request body must contain the following parameter: '%s'.", p))
			return
		}
	}
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		writeAADError(w, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		return
	}
	if err := checkScope(f.Get("scope")); err != nil {
		writeAADError(w, http.StatusBadRequest, err.code, err.num, err.msg)
		return
	}
	clientID := f.Get("client_id")
	tokenURL := baseURL(r) + r.URL.Path
	var (
		out  map[string]any
		aerr *aadErr
	)
	s.w.Run(func(st *world.State) {
		t := st.Tenant(tid)
		if t == nil {
			aerr = &aadErr{http.StatusBadRequest, "invalid_tenant", 90002,
				fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tid)}
			return
		}
		app := t.Apps[clientID]
		if app == nil {
			aerr = &aadErr{http.StatusBadRequest, "unauthorized_client", 700016,
				fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tid)}
			return
		}
		if aerr = s.authenticate(app, f.Get("client_secret"), f.Get("client_assertion_type"), f.Get("client_assertion"), tokenURL, baseURL(r)+"/"+tid+"/v2.0"); aerr != nil {
			return
		}
		out, aerr = s.issue(t, app)
	})
	if aerr != nil {
		writeAADError(w, aerr.status, aerr.code, aerr.num, aerr.msg)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	mw.WriteJSON(w, http.StatusOK, out)
}

type aadErr struct {
	status int
	code   string
	num    int
	msg    string
}

// checkScope accepts the client credential scope for Graph, tolerating the
// OIDC scopes azidentity appends.
func checkScope(scope string) *aadErr {
	var resource []string
	for _, sc := range strings.Fields(scope) {
		switch {
		case sc == "openid" || sc == "offline_access" || sc == "profile":
		case strings.HasSuffix(sc, "/.default"):
			resource = append(resource, sc)
		default:
			return &aadErr{http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)}
		}
	}
	if len(resource) != 1 {
		return &aadErr{http.StatusBadRequest, "invalid_scope", 70011,
			"The provided request must include a 'scope' input parameter with exactly one resource '/.default' scope."}
	}
	if r := strings.TrimSuffix(resource[0], "/.default"); r != GraphAudience && r != "00000003-0000-0000-c000-000000000000" && r != GraphAudience+"/" {
		return &aadErr{http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant.", r)}
	}
	return nil
}

func (s *Service) authenticate(app *world.App, secret, assertionType, assertion, tokenURL, issuer string) *aadErr {
	switch {
	case secret != "":
		if secret != app.Secret {
			return &aadErr{http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)}
		}
		return nil
	case assertion != "":
		if assertionType != jwtBearer {
			return &aadErr{http.StatusBadRequest, "invalid_request", 7000218,
				"The request body must contain the following parameter: 'client_assertion_type' with value '" + jwtBearer + "'."}
		}
		return s.verifyAssertion(app, assertion, tokenURL, issuer)
	}
	return &aadErr{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

// verifyAssertion checks a certificate client assertion as Entra does: the
// certificate named by x5t#S256 (or x5t) must be registered on the app, the
// RS256/PS256 signature must verify, aud must be the token endpoint,
// iss and sub the client id, and the time window must hold.
func (s *Service) verifyAssertion(app *world.App, assertion, tokenURL, issuer string) *aadErr {
	bad := func(num int, msg string) *aadErr {
		return &aadErr{http.StatusUnauthorized, "invalid_client", num, msg}
	}
	var peek jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, &peek); err != nil {
		return bad(700027, "Client assertion failed signature validation. [Reason - the assertion is not a well-formed JWT.]")
	}
	if peek.Issuer != app.ClientID && len(app.Federated) > 0 {
		return s.verifyFederated(app, assertion, peek)
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		cert := findCert(app, t.Header)
		if cert == nil {
			return nil, errNoCert
		}
		return cert.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, errNoCert):
		return bad(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]")
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return bad(700024, "Client assertion is not within its valid time range.")
	case err != nil || !tok.Valid:
		return bad(700027, "Client assertion failed signature validation.")
	}
	if claims.Issuer != app.ClientID || claims.Subject != app.ClientID {
		return bad(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials.")
	}
	if !slices.Contains(claims.Audience, tokenURL) && !slices.Contains(claims.Audience, issuer) {
		return bad(700023, "Client assertion audience claim does not match Realm issuer.")
	}
	return nil
}

var errNoCert = errors.New("certificate not registered")

// DefaultFederatedAudience is the audience Entra expects of federated tokens.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// verifyFederated checks an external token against the app's federated
// credentials: issuer, then subject, then audience must match a record
// (each with its own AADSTS code), and the signature must verify with one of
// the issuer's keys.
func (s *Service) verifyFederated(app *world.App, assertion string, peek jwt.RegisteredClaims) *aadErr {
	bad := func(num int, msg string) *aadErr {
		return &aadErr{http.StatusUnauthorized, "invalid_client", num, msg}
	}
	var byIssuer, bySubject []world.FederatedCredential
	for _, f := range app.Federated {
		if f.Issuer == peek.Issuer {
			byIssuer = append(byIssuer, f)
			if f.Subject == peek.Subject {
				bySubject = append(bySubject, f)
			}
		}
	}
	switch {
	case len(byIssuer) == 0:
		return bad(700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'.", peek.Issuer))
	case len(bySubject) == 0:
		return bad(700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'.", peek.Subject))
	}
	var fic *world.FederatedCredential
	for i, f := range bySubject {
		auds := f.Audiences
		if len(auds) == 0 {
			auds = []string{DefaultFederatedAudience}
		}
		if slices.ContainsFunc(peek.Audience, func(a string) bool { return slices.Contains(auds, a) }) {
			fic = &bySubject[i]
			break
		}
	}
	if fic == nil {
		return bad(700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.", strings.Join(peek.Audience, ",")))
	}
	var lastErr error
	for _, key := range fic.Keys {
		_, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "ES384"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
		if err == nil {
			return nil
		}
		lastErr = err
		if errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			return bad(700024, "Client assertion is not within its valid time range.")
		}
	}
	return bad(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - %v]", lastErr))
}

func findCert(app *world.App, hdr map[string]any) *x509.Certificate {
	s256, _ := hdr["x5t#S256"].(string)
	s1, _ := hdr["x5t"].(string)
	for _, der := range app.Certificates {
		h256, h1 := sha256.Sum256(der), sha1.Sum(der) //nolint:gosec
		if (s256 != "" && thumbMatch(s256, h256[:])) || (s1 != "" && thumbMatch(s1, h1[:])) {
			if c, err := x509.ParseCertificate(der); err == nil {
				return c
			}
		}
	}
	return nil
}

// thumbMatch accepts either base64 alphabet: MSAL sends standard encoding,
// RFC 7515 says base64url.
func thumbMatch(got string, sum []byte) bool {
	return got == base64.StdEncoding.EncodeToString(sum) || got == base64.RawURLEncoding.EncodeToString(sum) ||
		got == base64.URLEncoding.EncodeToString(sum)
}

func (s *Service) issue(t *world.Tenant, app *world.App) (map[string]any, *aadErr) {
	now := s.now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "https://sts.windows.net/" + t.ID + "/",
			Subject:   app.ClientID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(TokenLifetime)),
			ID:        world.NewID(),
		},
		Aud: GraphAudience, TenantID: t.ID, AppID: app.ClientID, IDType: "app", Ver: "1.0",
		Roles: slices.Clone(app.Roles), Gen: t.TokenGen,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, &c)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return nil, &aadErr{http.StatusInternalServerError, "server_error", 90000, err.Error()}
	}
	secs := int(TokenLifetime / time.Second)
	return map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": signed}, nil
}

// Token verification failures, worded as Graph words them.
var (
	ErrTokenExpired = errors.New("Lifetime validation failed, the token is expired.")
	ErrTokenInvalid = errors.New("Access token validation failure. Invalid audience or signature.")
	ErrTokenRevoked = errors.New("Access token has been revoked or the application no longer exists.")
)

// Verify checks a Graph bearer token and returns its claims. Caller holds the
// world lock (it reads the tenant's revocation time).
func (s *Service) Verify(st *world.State, raw string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(GraphAudience), jwt.WithTimeFunc(s.now),
		jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrTokenExpired
	case err != nil:
		return nil, ErrTokenInvalid
	}
	t := st.Tenant(c.TenantID)
	if t == nil || t.Apps[c.AppID] == nil || c.Gen != t.TokenGen {
		return nil, ErrTokenRevoked
	}
	return &c, nil
}

func writeAADError(w http.ResponseWriter, status int, code string, num int, msg string) {
	now := time.Now().UTC()
	trace, corr := world.NewID(), world.NewID()
	stamp := now.Format("2006-01-02 15:04:05Z")
	body := map[string]any{
		"error":          code,
		"error_codes":    []int{},
		"timestamp":      stamp,
		"trace_id":       trace,
		"correlation_id": corr,
	}
	desc := msg
	if num > 0 {
		desc = "AADSTS" + strconv.Itoa(num) + ": " + msg
		body["error_codes"] = []int{num}
		body["error_uri"] = "https://login.microsoftonline.com/error?code=" + strconv.Itoa(num)
	}
	body["error_description"] = desc + " Trace ID: " + trace + " Correlation ID: " + corr + " Timestamp: " + stamp
	mw.WriteJSON(w, status, body)
}
