package sim_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtest"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEntraDiscovery(t *testing.T) {
	tw := start(t, noThrottle)
	base := strings.TrimSuffix(tw.env[sim.EnvAuthorityURL], "/")
	r := tw.call("GET", base+"/"+tw.env[sim.EnvTenantID]+"/v2.0/.well-known/openid-configuration", "", nil)
	expectStatus(t, r, 200)
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "issuer"} {
		if !strings.HasPrefix(r.str(k), base+"/") {
			t.Errorf("%s = %q, want under %s", k, r.str(k), base)
		}
	}
	if r.str("token_endpoint") != base+"/"+tw.env[sim.EnvTenantID]+"/oauth2/v2.0/token" {
		t.Errorf("token_endpoint %q", r.str("token_endpoint"))
	}
	r = tw.call("GET", base+"/"+world.NewID()+"/v2.0/.well-known/openid-configuration", "", nil)
	expectAADError(t, r, 400, "invalid_tenant", 90002)
}

// TestEntraCredentials exercises both credential kinds through the real
// azidentity credentials and checks the issued token's claims.
func TestEntraCredentials(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	cc := simtest.NewClientCert(t)
	certApp := must(tw.admin.CreateApp(ctx, tid, adminapi.App{DisplayName: "cert", Roles: []string{world.RolePolicyRead}, CertificatePEM: string(cc.CertPEM)}))
	certs, key, err := azidentity.ParseCertificates(cc.PEM(), nil)
	if err != nil {
		t.Fatal(err)
	}
	certCred := must(azidentity.NewClientCertificateCredential(tid, certApp.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: tw.clientOptions(), DisableInstanceDiscovery: true}))
	certTok := must(certCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}))

	tests := []struct {
		name  string
		token string
		app   string
		roles []string
	}{
		{"client secret", tw.token, tw.env[sim.EnvClientID], world.OperatorRoles},
		{"client certificate", certTok.Token, certApp.ClientID, []string{world.RolePolicyRead}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := jwtClaims(t, tc.token)
			if c["tid"] != tid || c["appid"] != tc.app || c["aud"] != "https://graph.microsoft.com" {
				t.Fatalf("claims %v", c)
			}
			var roles []string
			for _, r := range c["roles"].([]any) {
				roles = append(roles, r.(string))
			}
			if !slices.Equal(roles, tc.roles) {
				t.Errorf("roles %v, want %v", roles, tc.roles)
			}
			if life := c["exp"].(float64) - c["iat"].(float64); life != 3599 {
				t.Errorf("lifetime %v, want 3599", life)
			}
		})
	}

	t.Run("unregistered certificate", func(t *testing.T) {
		other := simtest.NewClientCert(t)
		certs, key, _ := azidentity.ParseCertificates(other.PEM(), nil)
		cred := must(azidentity.NewClientCertificateCredential(tid, certApp.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: tw.clientOptions(), DisableInstanceDiscovery: true}))
		_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
		if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
			t.Fatalf("err = %v, want AADSTS700027", err)
		}
	})
	t.Run("wrong secret via azidentity", func(t *testing.T) {
		cred := must(azidentity.NewClientSecretCredential(tid, tw.env[sim.EnvClientID], "wrong",
			&azidentity.ClientSecretCredentialOptions{ClientOptions: tw.clientOptions(), DisableInstanceDiscovery: true}))
		_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
		if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
			t.Fatalf("err = %v, want AADSTS7000215", err)
		}
	})
}

func expectAADError(t testing.TB, r *resp, status int, code string, num int) {
	t.Helper()
	expectStatus(t, r, status)
	codes, _ := r.body["error_codes"].([]any)
	if r.body["error"] != code || len(codes) != 1 || int(codes[0].(float64)) != num {
		t.Fatalf("AAD error %s, want %s %d", r.raw, code, num)
	}
	for _, k := range []string{"error_description", "correlation_id", "timestamp", "trace_id"} {
		if r.str(k) == "" {
			t.Errorf("AAD error lacks %s: %s", k, r.raw)
		}
	}
	if !strings.HasPrefix(r.str("error_description"), "AADSTS") {
		t.Errorf("error_description %q", r.str("error_description"))
	}
}

// assertion builds a certificate client assertion like MSAL's.
func assertion(t testing.TB, key *rsa.PrivateKey, cert *x509.Certificate, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	sum := sha256.Sum256(cert.Raw)
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	return must(tok.SignedString(key))
}

func TestEntraTokenErrors(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	tokenURL := tw.env[sim.EnvAuthorityURL] + tid + "/oauth2/v2.0/token"
	cc := simtest.NewClientCert(t)
	app := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{}, CertificatePEM: string(cc.CertPEM)}))
	stranger := simtest.NewClientCert(t)
	now := time.Now()
	good := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"aud": tokenURL, "iss": app.ClientID, "sub": app.ClientID, "jti": world.NewID(),
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	scope := "https://graph.microsoft.com/.default"
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	asrt := func(claims jwt.MapClaims, key *rsa.PrivateKey, cert *x509.Certificate, m jwt.SigningMethod) string {
		return form("grant_type", "client_credentials", "client_id", app.ClientID, "scope", scope,
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			"client_assertion", assertion(t, key, cert, m, claims))
	}
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		num    int
	}{
		{"wrong secret", form("grant_type", "client_credentials", "client_id", tw.env[sim.EnvClientID], "scope", scope, "client_secret", "nope"), 401, "invalid_client", 7000215},
		{"unknown client", form("grant_type", "client_credentials", "client_id", world.NewID(), "scope", scope, "client_secret", "x"), 400, "unauthorized_client", 700016},
		{"no credential", form("grant_type", "client_credentials", "client_id", tw.env[sim.EnvClientID], "scope", scope), 401, "invalid_client", 7000218},
		{"missing scope", form("grant_type", "client_credentials", "client_id", tw.env[sim.EnvClientID], "client_secret", "x"), 400, "invalid_request", 900144},
		{"wrong grant", form("grant_type", "password", "client_id", tw.env[sim.EnvClientID], "scope", scope, "client_secret", "x"), 400, "unsupported_grant_type", 70003},
		{"scope without .default", form("grant_type", "client_credentials", "client_id", tw.env[sim.EnvClientID], "scope", "User.Read", "client_secret", "x"), 400, "invalid_scope", 1002012},
		{"unknown resource", form("grant_type", "client_credentials", "client_id", tw.env[sim.EnvClientID], "scope", "https://example.com/.default", "client_secret", "x"), 400, "invalid_resource", 500011},
		{"assertion PS256 ok", asrt(good(nil), cc.Key, cc.Cert, jwt.SigningMethodPS256), 200, "", 0},
		{"assertion RS256 ok", asrt(good(nil), cc.Key, cc.Cert, jwt.SigningMethodRS256), 200, "", 0},
		{"assertion wrong aud", asrt(good(func(c jwt.MapClaims) { c["aud"] = "https://login.example/token" }), cc.Key, cc.Cert, jwt.SigningMethodPS256), 401, "invalid_client", 700023},
		{"assertion wrong iss", asrt(good(func(c jwt.MapClaims) { c["iss"] = world.NewID() }), cc.Key, cc.Cert, jwt.SigningMethodPS256), 401, "invalid_client", 700021},
		{"assertion expired", asrt(good(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), cc.Key, cc.Cert, jwt.SigningMethodPS256), 401, "invalid_client", 700024},
		{"assertion bad signature", asrt(good(nil), stranger.Key, cc.Cert, jwt.SigningMethodPS256), 401, "invalid_client", 700027},
		{"assertion unregistered cert", asrt(good(nil), stranger.Key, stranger.Cert, jwt.SigningMethodPS256), 401, "invalid_client", 700027},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tw.call("POST", tokenURL, "", tc.body, "Content-Type", "application/x-www-form-urlencoded")
			if tc.status == 200 {
				expectStatus(t, r, 200)
				if r.str("token_type") != "Bearer" || r.body["expires_in"].(float64) != 3599 || r.body["ext_expires_in"].(float64) != 3599 || r.str("access_token") == "" {
					t.Fatalf("token answer %s", r.raw)
				}
				return
			}
			expectAADError(t, r, tc.status, tc.code, tc.num)
		})
	}
}

// TestEntraWorkloadIdentity exercises the federated token flow through the
// real azidentity workload identity credential, with a token shaped like a
// Kubernetes projected service account token.
func TestEntraWorkloadIdentity(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	saKey := must(rsa.GenerateKey(rand.Reader, 2048))
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&saKey.PublicKey))}))
	const (
		issuer  = "https://kubernetes.default.svc.cluster.local"
		subject = "system:serviceaccount:mtd-system:mtd-operator"
	)
	app := must(tw.admin.CreateApp(ctx, tid, adminapi.App{Roles: []string{world.RoleDevicesRead},
		Federated: []adminapi.FederatedCredential{{Issuer: issuer, Subject: subject, PublicKeysPEM: pub}}}))
	other := must(rsa.GenerateKey(rand.Reader, 2048))
	sa := func(mut func(jwt.MapClaims), key *rsa.PrivateKey) string {
		c := jwt.MapClaims{"iss": issuer, "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		if mut != nil {
			mut(c)
		}
		return must(jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(key))
	}
	tests := []struct {
		name  string
		token string
		code  string // "" = success
	}{
		{"valid", sa(nil, saKey), ""},
		{"other issuer", sa(func(c jwt.MapClaims) { c["iss"] = "https://oidc.example" }, saKey), "AADSTS700211"},
		{"other subject", sa(func(c jwt.MapClaims) { c["sub"] = "system:serviceaccount:default:x" }, saKey), "AADSTS700213"},
		{"other audience", sa(func(c jwt.MapClaims) { c["aud"] = []string{"https://kubernetes.default.svc"} }, saKey), "AADSTS700212"},
		{"wrong key", sa(nil, other), "AADSTS700027"},
		{"expired", sa(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, saKey), "AADSTS700024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := t.TempDir() + "/token"
			if err := os.WriteFile(file, []byte(tc.token), 0o600); err != nil {
				t.Fatal(err)
			}
			cred := must(azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: tw.clientOptions(), ClientID: app.ClientID, TenantID: tid, TokenFilePath: file,
				DisableInstanceDiscovery: true}))
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c := jwtClaims(t, tok.Token); c["appid"] != app.ClientID {
					t.Fatalf("claims %v", c)
				}
				expectStatus(t, tw.call("GET", tw.env[sim.EnvGraphURL]+devicesPath, tok.Token, nil), 200)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}
