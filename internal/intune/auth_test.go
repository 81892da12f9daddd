package intune_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtest"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// app registers an app with roles (and a certificate or federated credential).
func app(t *testing.T, a adminapi.App) adminapi.App {
	t.Helper()
	out, err := admin.CreateApp(ctx, tenant(), a)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestClientSecretAndMetrics(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	graphBefore := requestsTotal(t, "graph", "GetConnector", "200")
	entraBefore := requestsTotal(t, "entra", "AcquireToken", "200")
	for i := 0; i < 2; i++ {
		if _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil {
			t.Fatal(err)
		}
	}
	// One token, cached for the second call; both calls in the metrics.
	if n := testkit.Calls(t, admin, routeToken); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	if d := requestsTotal(t, "graph", "GetConnector", "200") - graphBefore; d != 2 {
		t.Fatalf("graph GetConnector 200 grew by %v, want 2", d)
	}
	if d := requestsTotal(t, "entra", "AcquireToken", "200") - entraBefore; d != 1 {
		t.Fatalf("entra AcquireToken 200 grew by %v, want 1", d)
	}
}

func TestClientCertificate(t *testing.T) {
	fresh(t)
	cc := simtest.NewClientCert(t)
	certPEM, keyPEM := cc.CertPEM, cc.KeyPEM
	pfx, err := os.ReadFile("testdata/client.pfx")
	if err != nil {
		t.Fatal(err)
	}
	const pfxPassword = "pfx-test-password" // of the test fixture only
	pfxCerts, _, err := azidentity.ParseCertificates(pfx, []byte(pfxPassword))
	if err != nil {
		t.Fatal(err)
	}
	pfxCertPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pfxCerts[0].Raw})

	for _, tc := range []struct {
		name     string
		register []byte
		cred     intune.Credential
	}{
		{"PEM with the key", certPEM, intune.Credential{Certificate: append(append([]byte{}, certPEM...), keyPEM...)}},
		{"PEM and a separate key, chain sent", certPEM, intune.Credential{Certificate: certPEM, PrivateKey: keyPEM, SendCertificateChain: true}},
		{"PFX with a password", pfxCertPEM, intune.Credential{Certificate: pfx, Password: []byte(pfxPassword)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := app(t, adminapi.App{Roles: world.OperatorRoles, CertificatePEM: string(tc.register)})
			c := newClient(t, func(cfg *intune.Config) { cfg.ClientID, cfg.Credential = a.ClientID, tc.cred })
			if _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A certificate the app does not know.
	a := app(t, adminapi.App{Roles: world.OperatorRoles, CertificatePEM: string(certPEM)})
	c := newClient(t, func(cfg *intune.Config) {
		cfg.ClientID, cfg.Credential = a.ClientID, intune.Credential{Certificate: pfx, Password: []byte(pfxPassword)}
	})
	_, err = c.GetConnector(ctx, intune.BlackBerryConnectorID)
	if e := asOutbound(t, err, outbound.Unauthorized); !strings.Contains(e.Message, "AADSTS700027") {
		t.Fatalf("unknown certificate = %v", e)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	fresh(t)
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	const issuer, subject = "https://kubernetes.default.svc.cluster.local", "system:serviceaccount:mtd-system:mtd-operator"
	a := app(t, adminapi.App{Roles: world.OperatorRoles, Federated: []adminapi.FederatedCredential{{Issuer: issuer, Subject: subject,
		PublicKeysPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}}})
	token, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": issuer, "sub": subject,
		"aud": []string{"api://AzureADTokenExchange"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}).SignedString(saKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, func(cfg *intune.Config) {
		cfg.ClientID, cfg.Credential = a.ClientID, intune.Credential{FederatedTokenFile: file}
	})
	if _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil {
		t.Fatal(err)
	}
}

func TestBadCredentials(t *testing.T) {
	fresh(t)
	wrong := "wrong-" + uuid.NewString()
	for _, tc := range []struct {
		name string
		mod  func(*intune.Config)
		code string
	}{
		{"wrong secret", func(cfg *intune.Config) { cfg.Credential.ClientSecret = wrong }, "AADSTS7000215"},
		{"unknown client", func(cfg *intune.Config) { cfg.ClientID = uuid.NewString() }, "AADSTS700016"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.mod)
			_, err := c.GetConnector(ctx, intune.BlackBerryConnectorID)
			e := asOutbound(t, err, outbound.Unauthorized)
			if e.Service != "entra" || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("error = %v", err)
			}
			for _, secret := range []string{wrong, env["MTD_SIM_CLIENT_SECRET"]} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks the secret: %v", err)
				}
			}
			if !outbound.IsTerminal(err) {
				t.Fatal("bad credentials are not terminal")
			}
			t.Log(err)
		})
	}
	if n := testkit.Calls(t, admin, "GET "+routeConnector); n != 0 {
		t.Fatalf("Graph was called %d times without a token", n)
	}
}

func TestForbiddenNamesThePermission(t *testing.T) {
	fresh(t)
	a := app(t, adminapi.App{Roles: []string{world.RoleConfigRead}})
	c := newClient(t, func(cfg *intune.Config) {
		cfg.ClientID, cfg.Credential = a.ClientID, intune.Credential{ClientSecret: a.Secret}
	})
	if _, err := c.ListCompliancePolicies(ctx); err != nil {
		t.Fatalf("a granted read failed: %v", err)
	}
	for _, tc := range []struct {
		call func() error
		perm string
	}{
		{func() error { _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); return err }, "DeviceManagementServiceConfig.Read.All"},
		{func() error {
			_, err := c.PatchConnector(ctx, intune.BlackBerryConnectorID, intune.ConnectorSettings{IOSEnabled: ptr(true)})
			return err
		}, "DeviceManagementServiceConfig.ReadWrite.All"},
		{func() error {
			return c.PatchCompliancePolicy(ctx, "p", intune.IOSCompliancePolicy, intune.CompliancePolicyPatch{DisplayName: ptr("x")})
		}, "DeviceManagementConfiguration.ReadWrite.All"},
		{func() error { _, err := c.ListManagedDevices(ctx, intune.DeviceFilter{}); return err }, "DeviceManagementManagedDevices.Read.All"},
		{func() error { return c.RunDeviceAction(ctx, "d", intune.ActionSyncDevice, nil) }, "DeviceManagementManagedDevices.PrivilegedOperations.All"},
		{func() error { _, err := c.ListConditionalAccessPolicies(ctx); return err }, "Policy.Read.All"},
		{func() error { return c.DeleteConditionalAccessPolicy(ctx, "ca") }, "Policy.ReadWrite.ConditionalAccess"},
	} {
		err := tc.call()
		e := asOutbound(t, err, outbound.Forbidden)
		if e.Permission != tc.perm || e.StatusCode != 403 || !strings.Contains(err.Error(), "missing permission "+tc.perm) {
			t.Errorf("%s: %v", e.Operation, err)
		}
	}
}

func TestRevokedTokenIsRefreshed(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	if _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeTokens(ctx, tenant(), "entra"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnector(ctx, intune.BlackBerryConnectorID); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	// The refused token (401), a new token, the retried request.
	if n := testkit.Calls(t, admin, routeToken); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
	if st := testkit.Route(t, admin, "GET "+routeConnector).Status; st[401] != 1 || st[200] != 2 {
		t.Fatalf("connector answers = %v, want one 401 and two 200", st)
	}
}
