package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

const (
	clientSecret = "entra-secret-value-0xdeadbeef"
	uesSecret    = "ues-secret-value-0xfeedface"
)

// counting factories record what the cache asked to build; building real clients is
// the clients' own tests' business.
type counting struct {
	intune, ues atomic.Int32
	lastIntune  intune.Config
}

func (c *counting) factories() credentials.Factories {
	return credentials.Factories{
		Intune: func(_ context.Context, cfg intune.Config) (intune.Client, error) {
			c.intune.Add(1)
			c.lastIntune = cfg
			return nil, nil
		},
		UES: func(cfg ues.Config) (ues.Client, error) {
			c.ues.Add(1)
			return ues.New(cfg)
		},
	}
}

func setup(t *testing.T) (string, *v1.MTDConnector) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cred-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "intune", Namespace: ns.Name}, StringData: map[string]string{"client-secret": clientSecret}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ues", Namespace: ns.Name}, StringData: map[string]string{"app-id": "app", "app-secret": uesSecret}},
	} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	conn := &v1.MTDConnector{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: ns.Name, UID: types.UID("uid-" + ns.Name)},
		Spec: v1.MTDConnectorSpec{
			Intune: v1.IntuneSpec{
				TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "3c1f7a9e-5b2d-4e8f-9a61-0d4b8c2e7f10",
				Credentials: v1.IntuneCredentials{ClientSecret: &v1.SecretKeyReference{Name: "intune"}},
			},
			UES: v1.UESSpec{Region: v1.UESRegionEurope, TenantID: "5d0c8a2b-7e41-4f3a-b6c9-2e8d1f4a7b90", Credentials: v1.UESCredentials{SecretName: "ues"}},
		},
	}
	return ns.Name, conn
}

func TestClientsAreCachedUntilASecretRotates(t *testing.T) {
	var logs strings.Builder
	ctx := log.IntoContext(context.Background(), funcr.NewJSON(func(obj string) { logs.WriteString(obj + "\n") }, funcr.Options{Verbosity: 1}))
	ns, conn := setup(t)
	var f counting
	cache := credentials.NewCache(env.Client, f.factories())

	first, err := cache.Get(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if f.lastIntune.Credential.ClientSecret != clientSecret || f.lastIntune.TenantID != string(conn.Spec.Intune.TenantID) {
		t.Fatalf("intune config = tenant %q, secret read %v", f.lastIntune.TenantID, f.lastIntune.Credential.ClientSecret == clientSecret)
	}
	if f.lastIntune.Limiters == nil {
		t.Fatal("clients must share the cache's tenant limiters")
	}
	again, err := cache.Get(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || f.intune.Load() != 1 || f.ues.Load() != 1 {
		t.Fatalf("unchanged inputs rebuilt the clients (%d intune, %d ues builds)", f.intune.Load(), f.ues.Load())
	}

	var s corev1.Secret
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "ues"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["app-secret"] = []byte("rotated")
	if err := env.Client.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	rotated, err := cache.Get(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == first || rotated.Hash == first.Hash || f.ues.Load() != 2 {
		t.Fatal("a rotated Secret must yield new clients")
	}
	// The rebuild is logged with the connector and the side that changed, never a
	// value or the hash of one.
	want := fmt.Sprintf(`"level":0,"msg":"rebuilding the connector's cloud clients: an input changed","connector":"%s/c","tenant":"%s","changed":["ues"]`, ns, conn.Spec.Intune.TenantID)
	if out := logs.String(); !strings.Contains(out, want) || strings.Count(out, "rebuilding") != 1 {
		t.Fatalf("logs lack %s:\n%s", want, out)
	}
	for _, s := range []string{clientSecret, uesSecret, "rotated", first.Hash, rotated.Hash} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("the logs hold %q:\n%s", s, logs.String())
		}
	}
	cache.Forget(conn.UID)
	if _, err := cache.Get(ctx, conn); err != nil || f.ues.Load() != 3 {
		t.Fatalf("after Forget the clients are rebuilt: %v, %d builds", err, f.ues.Load())
	}
}

func TestResolutionErrorsNameTheObjectNotTheValue(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		edit   func(*v1.MTDConnector)
		reason string
		msg    string
	}{
		{"missing intune secret", func(c *v1.MTDConnector) { c.Spec.Intune.Credentials.ClientSecret.Name = "nope" }, credentials.ReasonSecretNotFound, "Secret %s/nope not found"},
		{"missing key", func(c *v1.MTDConnector) { c.Spec.Intune.Credentials.ClientSecret.Key = "other" }, credentials.ReasonSecretKeyMissing, `Secret %s/intune has no key "other"`},
		{"missing ues secret", func(c *v1.MTDConnector) { c.Spec.UES.Credentials.SecretName = "gone" }, credentials.ReasonSecretNotFound, "Secret %s/gone not found"},
		{"missing ues key", func(c *v1.MTDConnector) { c.Spec.UES.Credentials.AppIDKey = "id" }, credentials.ReasonSecretKeyMissing, `Secret %s/ues has no key "id"`},
		{"missing CA ConfigMap", func(c *v1.MTDConnector) { c.Spec.Intune.CABundle = &v1.CABundleReference{Name: "corp-ca"} }, credentials.ReasonCABundleNotFound, "ConfigMap %s/corp-ca not found"},
		{"workload identity in a namespace the installation does not name", func(c *v1.MTDConnector) {
			c.Spec.Intune.Credentials = v1.IntuneCredentials{WorkloadIdentity: &v1.WorkloadIdentityCredential{}}
		}, credentials.ReasonWorkloadIdentityNotAllowed, "does not lend it to namespace %s"},
		{"an endpoint override to a host the installation does not allow", func(c *v1.MTDConnector) {
			c.Spec.Intune.Endpoints = &v1.IntuneEndpoints{AuthorityURL: "https://attacker.example/"}
		}, credentials.ReasonEndpointNotAllowed, "spec.intune.endpoints.authorityURL names a host"},
		{"a UES base URL to a host the installation does not allow", func(c *v1.MTDConnector) {
			c.Spec.UES.Region, c.Spec.UES.BaseURL = "", "https://protectapi.cylance.com.attacker.example"
		}, credentials.ReasonEndpointNotAllowed, "spec.ues.baseURL names a host"},
		{"certificate without its key", func(c *v1.MTDConnector) {
			c.Spec.Intune.Credentials = v1.IntuneCredentials{ClientCertificate: &v1.ClientCertificateCredential{SecretName: "intune", CertificateKey: "tls.crt"}}
		}, credentials.ReasonSecretKeyMissing, `Secret %s/intune has no key "tls.crt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
			ns, conn := setup(t)
			tc.edit(conn)
			var f counting
			_, err := credentials.NewCache(env.Client, f.factories()).Get(ctx, conn)
			var e *credentials.Error
			if !errors.As(err, &e) || e.Reason != tc.reason {
				t.Fatalf("err = %v, want reason %s", err, tc.reason)
			}
			if want := strings.ReplaceAll(tc.msg, "%s", ns); !strings.Contains(e.Message, want) {
				t.Fatalf("message %q lacks %q", e.Message, want)
			}
			if strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), uesSecret) {
				t.Fatalf("error leaks a secret: %v", err)
			}
			if f.intune.Load() != 0 {
				t.Fatal("no client may be built from incomplete credentials")
			}
		})
	}
}

func TestCABundleIsPassedThrough(t *testing.T) {
	ctx := context.Background()
	ns, conn := setup(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "corp-ca", Namespace: ns}, Data: map[string]string{"bundle.pem": "PEM DATA"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	conn.Spec.Intune.CABundle = &v1.CABundleReference{Kind: v1.CABundleConfigMap, Name: "corp-ca", Key: "bundle.pem"}
	var f counting
	if _, err := credentials.NewCache(env.Client, f.factories()).Get(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if string(f.lastIntune.CABundle) != "PEM DATA" {
		t.Fatalf("CA bundle = %q", f.lastIntune.CABundle)
	}
}

func TestReferences(t *testing.T) {
	_, conn := setup(t)
	conn.Spec.Intune.CABundle = &v1.CABundleReference{Kind: v1.CABundleConfigMap, Name: "corp-ca"}
	conn.Spec.UES.CABundle = &v1.CABundleReference{Kind: v1.CABundleSecret, Name: "ues-ca"}
	secrets, cms := credentials.References(conn)
	if fmt.Sprint(secrets) != "[intune ues ues-ca]" || fmt.Sprint(cms) != "[corp-ca]" {
		t.Fatalf("References = %v, %v", secrets, cms)
	}
}

// TestInstallationPolicyLendsOnlyWhatItNames: the endpoint hosts and the workload
// identity namespaces the installation names are accepted; the token file is always the
// operator's own (AZURE_FEDERATED_TOKEN_FILE), whatever the spec holds.
func TestInstallationPolicyLendsOnlyWhatItNames(t *testing.T) {
	ctx := context.Background()
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token")
	ns, conn := setup(t)
	conn.Spec.Intune.Endpoints = &v1.IntuneEndpoints{AuthorityURL: "https://login.proxy.corp:8443/", GraphURL: "https://graph.proxy.corp/v1.0"}
	conn.Spec.UES.Region, conn.Spec.UES.BaseURL = "", "https://ues.proxy.corp"
	conn.Spec.Intune.Credentials = v1.IntuneCredentials{WorkloadIdentity: &v1.WorkloadIdentityCredential{TokenFilePath: "/var/run/secrets/kubernetes.io/serviceaccount/token"}}
	policy := credentials.Policy{EndpointHosts: []string{"login.proxy.corp:8443", "graph.proxy.corp", "UES.proxy.corp"}, WorkloadIdentityNamespaces: []string{ns}}
	var f counting
	if _, err := credentials.NewCache(env.Client, f.factories()).WithPolicy(policy).Get(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if got := f.lastIntune.Credential.FederatedTokenFile; got != "/var/run/secrets/azure/tokens/azure-identity-token" {
		t.Fatalf("federated token file = %q: never the spec's path", got)
	}
	// host:port allows that port only.
	conn.Spec.Intune.Endpoints.AuthorityURL = "https://login.proxy.corp:9443/"
	_, err := credentials.NewCache(env.Client, f.factories()).WithPolicy(policy).Get(ctx, conn)
	var e *credentials.Error
	if !errors.As(err, &e) || e.Reason != credentials.ReasonEndpointNotAllowed {
		t.Fatalf("another port of an allowed host: %v", err)
	}
}
