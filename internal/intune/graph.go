package intune

import (
	"context"
	"errors"
	"net/http"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	graphidentity "github.com/microsoftgraph/msgraph-sdk-go/identity"
)

// DefaultMaxWait bounds the waits inside one call when Config.MaxWait is zero.
const DefaultMaxWait = 2 * time.Second

// defaultLimiters is shared by every client built without Config.Limiters, so that
// two connectors of one tenant share its budget.
var defaultLimiters = NewLimiters()

// client implements Client with msgraph-sdk-go.
type client struct {
	graph    *msgraphsdk.GraphServiceClient
	cred     *tokenSource
	limiters *Limiters
	tenant   string
	maxWait  time.Duration
	// secrets are scrubbed from every error message.
	secrets []string
	// deviceOwners are the androidDeviceOwnerCompliancePolicy ids seen (policies_beta.go).
	deviceOwners deviceOwnerIDs
}

// New builds a client for one tenant. It validates cfg and parses the certificate but
// makes no call: the first token is fetched by the first operation.
func New(_ context.Context, cfg Config) (Client, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, errors.New("intune: tenant id and client id are required")
	}
	if l := cfg.Limiters; l != nil && (l.DeviceConfiguration == nil || l.Devices == nil || l.Identity == nil) {
		return nil, errors.New("intune: Limiters must cover DeviceConfiguration, Devices and Identity")
	}
	ep, err := resolveEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	base, err := baseTransport(cfg)
	if err != nil {
		return nil, err
	}
	entraHTTP := &http.Client{Transport: &observer{base: base, service: "entra", name: entraOperation}, Timeout: 30 * time.Second}
	newCred, err := credentialFactory(cfg, ep, entraHTTP)
	if err != nil {
		return nil, err
	}
	cred, err := newTokenSource(cfg.TenantID, newCred)
	if err != nil {
		return nil, err
	}
	// Tokens are attached only for the Graph host actually called: the cloud's, or the
	// override's, which the SDK's default list would not know (and then send the
	// request without Authorization, and without an error).
	auth, err := msauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{ep.Scope}, []string{ep.graphHost()})
	if err != nil {
		return nil, err
	}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(&observer{base: base, service: service, limit: true}, graphMiddlewares()...),
		Timeout:   60 * time.Second,
		// kiota's redirect middleware follows redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, err
	}
	// Before NewGraphServiceClient, which otherwise sets the public Graph URL.
	adapter.SetBaseUrl(ep.GraphURL)

	c := &client{
		graph:    msgraphsdk.NewGraphServiceClient(adapter),
		cred:     cred,
		limiters: cfg.Limiters,
		tenant:   cfg.TenantID,
		maxWait:  cfg.MaxWait,
		secrets:  []string{cfg.Credential.ClientSecret, string(cfg.Credential.Password)},
	}
	if c.limiters == nil {
		c.limiters = defaultLimiters
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxWait
	}
	return c, nil
}

func (c *client) connectors() *devicemanagement.MobileThreatDefenseConnectorsRequestBuilder {
	return c.graph.DeviceManagement().MobileThreatDefenseConnectors()
}

func (c *client) policies() *devicemanagement.DeviceCompliancePoliciesRequestBuilder {
	return c.graph.DeviceManagement().DeviceCompliancePolicies()
}

func (c *client) devices() *devicemanagement.ManagedDevicesRequestBuilder {
	return c.graph.DeviceManagement().ManagedDevices()
}

func (c *client) caPolicies() *graphidentity.ConditionalAccessPoliciesRequestBuilder {
	return c.graph.Identity().ConditionalAccess().Policies()
}
