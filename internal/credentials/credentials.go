// Package credentials turns an MTDConnector's references into working cloud clients:
// it reads the Secrets and ConfigMaps it names (in its own namespace only), builds the
// Intune and UES clients, and caches them by connector and a hash of everything that
// went into them, so a rotated Secret yields new clients at the next reconcile and an
// unchanged one reuses the old (and its cached tokens).
package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// Reasons of a resolution Error, used as condition reasons.
const (
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonSecretKeyMissing  = "SecretKeyMissing"
	ReasonCABundleNotFound  = "CABundleNotFound"
	ReasonInvalidCredential = "InvalidCredentials"
	// ReasonEndpointNotAllowed: an endpoint override names a host the installation does
	// not allow, so no credential is ever sent there.
	ReasonEndpointNotAllowed = "EndpointNotAllowed"
	// ReasonWorkloadIdentityNotAllowed: the operator's own Azure identity is not lent to
	// connectors of this namespace.
	ReasonWorkloadIdentityNotAllowed = "WorkloadIdentityNotAllowed"
)

// Error says why a connector's credentials could not be resolved. It names objects and
// keys, never values.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Clients are the ready clients of one connector.
type Clients struct {
	Intune intune.Client
	UES    ues.Client
	// Hash identifies the inputs the clients were built from.
	Hash string
	// intuneHash and uesHash identify each client's inputs, so that the log of a
	// rebuild can say which side changed.
	intuneHash, uesHash string
}

// Factories build clients; tests and the manager pass the real constructors.
type Factories struct {
	Intune func(context.Context, intune.Config) (intune.Client, error)
	UES    func(ues.Config) (ues.Client, error)
}

// Cache resolves and caches clients per connector.
type Cache struct {
	reader    client.Reader
	factories Factories
	// Limiters are shared by every client, so that two connectors of one tenant (or a
	// rotated client) still share the tenant's budget.
	intuneLimiters *intune.Limiters
	uesLimiters    *outbound.Limiters

	policy Policy

	mu      sync.Mutex
	entries map[types.UID]*Clients
}

// Policy is what the installation lends to connectors, decided by whoever installs the
// operator and never by a connector's spec: a user who may create connectors in one
// namespace must not be able to send the operator's credentials to a host of their
// choosing, nor act as the operator's own Azure identity.
type Policy struct {
	// EndpointHosts are the hosts endpoint overrides (spec.intune.endpoints,
	// spec.ues.baseURL) may name: "host" (any port) or "host:port". Empty: none; every
	// connector uses its cloud's and region's own endpoints.
	EndpointHosts []string
	// WorkloadIdentityNamespaces are the namespaces whose connectors may use
	// workloadIdentity, the operator's own federated credential. Empty: none.
	WorkloadIdentityNamespaces []string
}

// WithPolicy sets what the installation allows (the default allows no endpoint override
// and no workload identity).
func (c *Cache) WithPolicy(p Policy) *Cache {
	c.policy = p
	return c
}

// NewCache makes a cache that reads through reader (the manager's cached client).
func NewCache(reader client.Reader, f Factories) *Cache {
	return &Cache{reader: reader, factories: f, intuneLimiters: intune.NewLimiters(), entries: map[types.UID]*Clients{}}
}

// WithLimits replaces the limiters every client shares (nil keeps the defaults: the
// documented Intune limits, and the UES client's own default).
func (c *Cache) WithLimits(intuneLimiters *intune.Limiters, uesLimiters *outbound.Limiters) *Cache {
	if intuneLimiters != nil {
		c.intuneLimiters = intuneLimiters
	}
	c.uesLimiters = uesLimiters
	return c
}

// Get returns the connector's clients, building new ones only when an input changed.
func (c *Cache) Get(ctx context.Context, conn *v1.MTDConnector) (*Clients, error) {
	icfg, ucfg, err := c.resolve(ctx, conn)
	if err != nil {
		return nil, err
	}
	hash := configHash(icfg, ucfg)
	c.mu.Lock()
	cached := c.entries[conn.UID]
	c.mu.Unlock()
	if cached != nil && cached.Hash == hash {
		return cached, nil
	}
	ih, uh := hashParts(intuneParts(icfg)...), hashParts(uesParts(ucfg)...)
	logger := log.FromContext(ctx, "connector", conn.Namespace+"/"+conn.Name, "tenant", icfg.TenantID)
	if cached == nil {
		logger.V(1).Info("building the connector's cloud clients")
	} else {
		var changed []string
		if ih != cached.intuneHash {
			changed = append(changed, "intune")
		}
		if uh != cached.uesHash {
			changed = append(changed, "ues")
		}
		// Never the hashes: they are fingerprints of secret values.
		logger.Info("rebuilding the connector's cloud clients: an input changed", "changed", changed)
	}
	icfg.Limiters, ucfg.Limiters = c.intuneLimiters, c.uesLimiters
	ic, err := c.factories.Intune(ctx, icfg)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidCredential, Message: "building the Intune client: " + err.Error()}
	}
	uc, err := c.factories.UES(ucfg)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidCredential, Message: "building the UES client: " + err.Error()}
	}
	built := &Clients{Intune: ic, UES: uc, Hash: hash, intuneHash: ih, uesHash: uh}
	c.mu.Lock()
	c.entries[conn.UID] = built
	c.mu.Unlock()
	return built, nil
}

// Forget drops a deleted connector's clients.
func (c *Cache) Forget(uid types.UID) {
	c.mu.Lock()
	delete(c.entries, uid)
	c.mu.Unlock()
}

func (c *Cache) resolve(ctx context.Context, conn *v1.MTDConnector) (intune.Config, ues.Config, error) {
	ns := conn.Namespace
	// The installation's policy is checked before any Secret is read or any client built.
	if err := c.policy.check(conn); err != nil {
		return intune.Config{}, ues.Config{}, err
	}
	in := conn.Spec.Intune
	icfg := intune.Config{
		TenantID: string(in.TenantID),
		ClientID: string(in.ClientID),
		Cloud:    intune.Cloud(in.Cloud),
	}
	if in.Endpoints != nil {
		icfg.AuthorityURL, icfg.GraphURL = string(in.Endpoints.AuthorityURL), string(in.Endpoints.GraphURL)
	}
	var err error
	if icfg.CABundle, err = c.caBundle(ctx, ns, in.CABundle); err != nil {
		return icfg, ues.Config{}, err
	}
	cred := in.Credentials
	switch {
	case cred.ClientSecret != nil:
		s, err := c.secretKey(ctx, ns, string(cred.ClientSecret.Name), string(orDefault(cred.ClientSecret.Key, "client-secret")), true)
		if err != nil {
			return icfg, ues.Config{}, err
		}
		icfg.Credential.ClientSecret = string(s)
	case cred.ClientCertificate != nil:
		cc := cred.ClientCertificate
		name := string(cc.SecretName)
		secret, err := c.secret(ctx, ns, name)
		if err != nil {
			return icfg, ues.Config{}, err
		}
		certKey := string(orDefault(cc.CertificateKey, "tls.crt"))
		if icfg.Credential.Certificate, err = key(secret, certKey, true); err != nil {
			return icfg, ues.Config{}, err
		}
		if cc.Format != v1.CertificateFormatPFX {
			// The key may sit inside the certificate PEM, so its own key is optional.
			icfg.Credential.PrivateKey, _ = key(secret, string(orDefault(cc.PrivateKeyKey, "tls.key")), false)
		}
		if cc.PasswordKey != "" {
			if icfg.Credential.Password, err = key(secret, string(cc.PasswordKey), true); err != nil {
				return icfg, ues.Config{}, err
			}
		}
		icfg.Credential.SendCertificateChain = cc.SendCertificateChain
	case cred.WorkloadIdentity != nil:
		// The token file is the operator's, as the workload identity webhook mounts it:
		// never a path from the spec, which could name any file the operator can read.
		path := os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
		if path == "" {
			return icfg, ues.Config{}, &Error{Reason: ReasonInvalidCredential, Message: "workloadIdentity: no AZURE_FEDERATED_TOKEN_FILE in the operator's environment (is the Azure workload identity webhook enabled for its ServiceAccount?)"}
		}
		icfg.Credential.FederatedTokenFile = path
	}

	u := conn.Spec.UES
	ucfg := ues.Config{BaseURL: string(u.BaseURL), Region: string(u.Region), TenantID: string(u.TenantID)}
	if ucfg.CABundle, err = c.caBundle(ctx, ns, u.CABundle); err != nil {
		return icfg, ucfg, err
	}
	secret, err := c.secret(ctx, ns, string(u.Credentials.SecretName))
	if err != nil {
		return icfg, ucfg, err
	}
	id, err := key(secret, string(orDefault(u.Credentials.AppIDKey, "app-id")), true)
	if err != nil {
		return icfg, ucfg, err
	}
	sec, err := key(secret, string(orDefault(u.Credentials.AppSecretKey, "app-secret")), true)
	if err != nil {
		return icfg, ucfg, err
	}
	ucfg.AppID, ucfg.AppSecret = string(id), string(sec)
	return icfg, ucfg, nil
}

func (c *Cache) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Error{Reason: ReasonSecretNotFound, Message: fmt.Sprintf("Secret %s/%s not found", ns, name)}
		}
		return nil, err
	}
	return &s, nil
}

func (c *Cache) secretKey(ctx context.Context, ns, name, k string, required bool) ([]byte, error) {
	s, err := c.secret(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return key(s, k, required)
}

func key(s *corev1.Secret, k string, required bool) ([]byte, error) {
	v, ok := s.Data[k]
	if (!ok || len(v) == 0) && required {
		return nil, &Error{Reason: ReasonSecretKeyMissing, Message: fmt.Sprintf("Secret %s/%s has no key %q (or it is empty)", s.Namespace, s.Name, k)}
	}
	return v, nil
}

func (c *Cache) caBundle(ctx context.Context, ns string, ref *v1.CABundleReference) ([]byte, error) {
	if ref == nil {
		return nil, nil
	}
	k := string(orDefault(ref.Key, "ca.crt"))
	if ref.Kind == v1.CABundleSecret {
		return c.secretKey(ctx, ns, string(ref.Name), k, true)
	}
	var cm corev1.ConfigMap
	if err := c.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: string(ref.Name)}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Error{Reason: ReasonCABundleNotFound, Message: fmt.Sprintf("ConfigMap %s/%s not found", ns, ref.Name)}
		}
		return nil, err
	}
	if v, ok := cm.Data[k]; ok && v != "" {
		return []byte(v), nil
	}
	if v, ok := cm.BinaryData[k]; ok && len(v) > 0 {
		return v, nil
	}
	return nil, &Error{Reason: ReasonCABundleNotFound, Message: fmt.Sprintf("ConfigMap %s/%s has no key %q", ns, ref.Name, k)}
}

func orDefault(v v1.SecretKeyName, def v1.SecretKeyName) v1.SecretKeyName {
	if v == "" {
		return def
	}
	return v
}

// configHash fingerprints every input of the clients. Values are hashed, never kept in
// the clear outside the clients themselves.
func configHash(i intune.Config, u ues.Config) string {
	return hashParts(append(intuneParts(i), uesParts(u)...)...)
}

func intuneParts(i intune.Config) []any {
	return []any{i.TenantID, i.ClientID, i.Cloud, i.AuthorityURL, i.GraphURL, string(i.CABundle),
		i.Credential.ClientSecret, string(i.Credential.Certificate), string(i.Credential.PrivateKey),
		string(i.Credential.Password), i.Credential.SendCertificateChain, i.Credential.FederatedTokenFile}
}

func uesParts(u ues.Config) []any {
	return []any{u.BaseURL, u.Region, u.TenantID, u.AppID, u.AppSecret, string(u.CABundle)}
}

// hashParts hashes each part with its length, so that no two lists of parts collide.
func hashParts(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%v|", len(fmt.Sprint(p)), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// References lists the Secrets and ConfigMaps a connector reads, for watches: a change
// to any of them re-reconciles the connector at once.
func References(conn *v1.MTDConnector) (secrets, configMaps []string) {
	in := conn.Spec.Intune
	if in.Credentials.ClientSecret != nil {
		secrets = append(secrets, string(in.Credentials.ClientSecret.Name))
	}
	if in.Credentials.ClientCertificate != nil {
		secrets = append(secrets, string(in.Credentials.ClientCertificate.SecretName))
	}
	secrets = append(secrets, string(conn.Spec.UES.Credentials.SecretName))
	for _, ref := range []*v1.CABundleReference{in.CABundle, conn.Spec.UES.CABundle} {
		switch {
		case ref == nil:
		case ref.Kind == v1.CABundleSecret:
			secrets = append(secrets, string(ref.Name))
		default:
			configMaps = append(configMaps, string(ref.Name))
		}
	}
	return secrets, configMaps
}

// check refuses what the installation does not lend the connector.
func (p Policy) check(conn *v1.MTDConnector) error {
	in := conn.Spec.Intune
	overrides := map[string]string{"spec.ues.baseURL": string(conn.Spec.UES.BaseURL)}
	if in.Endpoints != nil {
		overrides["spec.intune.endpoints.authorityURL"] = string(in.Endpoints.AuthorityURL)
		overrides["spec.intune.endpoints.graphURL"] = string(in.Endpoints.GraphURL)
	}
	for _, field := range []string{"spec.intune.endpoints.authorityURL", "spec.intune.endpoints.graphURL", "spec.ues.baseURL"} {
		raw := overrides[field]
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !p.allowsHost(u) {
			return &Error{Reason: ReasonEndpointNotAllowed, Message: fmt.Sprintf(
				"%s names a host this installation does not allow endpoint overrides for (the operator's --allowed-endpoint-hosts, chart value operator.allowedEndpointHosts); no credential is sent to it. Leave it unset to use the cloud's own endpoints", field)}
		}
	}
	if in.Credentials.WorkloadIdentity != nil && !slices.Contains(p.WorkloadIdentityNamespaces, conn.Namespace) {
		return &Error{Reason: ReasonWorkloadIdentityNotAllowed, Message: fmt.Sprintf(
			"workloadIdentity is the operator's own Azure identity, and this installation does not lend it to namespace %s (the operator's --workload-identity-namespaces, chart value operator.workloadIdentityNamespaces); use a clientSecret or clientCertificate of this namespace's own app registration", conn.Namespace)}
	}
	return nil
}

// allowsHost matches a URL's host against EndpointHosts: "host" allows any port,
// "host:port" that port only (https's default port is 443).
func (p Policy) allowsHost(u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "443"
	}
	for _, allowed := range p.EndpointHosts {
		allowed = strings.ToLower(strings.TrimSpace(allowed))
		if allowed == host || allowed == net.JoinHostPort(host, port) {
			return true
		}
	}
	return false
}
