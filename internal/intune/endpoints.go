package intune

import (
	"fmt"
	"net/url"
	"strings"
)

// Endpoints are where a client signs in and which Graph it calls.
type Endpoints struct {
	// AuthorityHost is the Entra ID login host, as azidentity's
	// cloud.Configuration.ActiveDirectoryAuthorityHost wants it (with a trailing slash).
	AuthorityHost string
	// GraphURL is the Graph v1.0 base URL, without a trailing slash.
	GraphURL string
	// Scope is the .default scope of the cloud's own Graph. It stays the cloud's even
	// when GraphURL is overridden: a proxy or the twin stands in for that resource.
	Scope string
}

// CloudEndpoints maps a Microsoft cloud to its endpoints; "" means Public.
func CloudEndpoints(c Cloud) (Endpoints, error) {
	var login, graph string
	switch c {
	case CloudPublic, "":
		login, graph = "login.microsoftonline.com", "graph.microsoft.com"
	case CloudUSGov:
		login, graph = "login.microsoftonline.us", "graph.microsoft.us"
	case CloudUSGovDoD:
		login, graph = "login.microsoftonline.us", "dod-graph.microsoft.us"
	case CloudChina:
		login, graph = "login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn"
	default:
		return Endpoints{}, fmt.Errorf("intune: unknown cloud %q (want Public, USGov, USGovDoD or China)", c)
	}
	return Endpoints{
		AuthorityHost: "https://" + login + "/",
		GraphURL:      "https://" + graph + "/v1.0",
		Scope:         "https://" + graph + "/.default",
	}, nil
}

// resolveEndpoints applies cfg's overrides to its cloud's endpoints.
func resolveEndpoints(cfg Config) (Endpoints, error) {
	ep, err := CloudEndpoints(cfg.Cloud)
	if err != nil {
		return ep, err
	}
	if cfg.AuthorityURL != "" {
		if _, err := httpsURL("authority", cfg.AuthorityURL); err != nil {
			return ep, err
		}
		ep.AuthorityHost = strings.TrimRight(cfg.AuthorityURL, "/") + "/"
	}
	if cfg.GraphURL != "" {
		if _, err := httpsURL("Graph", cfg.GraphURL); err != nil {
			return ep, err
		}
		ep.GraphURL = strings.TrimRight(cfg.GraphURL, "/")
	}
	return ep, nil
}

// httpsURL insists on an absolute https URL: MSAL refuses any other authority, and a
// token must never travel in clear text to Graph.
func httpsURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("intune: %s URL %q is not an absolute https URL", what, raw)
	}
	return u, nil
}

// graphHost is the host name the auth provider must attach tokens for.
func (e Endpoints) graphHost() string {
	u, err := url.Parse(e.GraphURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
