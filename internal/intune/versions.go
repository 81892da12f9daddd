package intune

// Some of what the operator manages exists in Graph beta only (policies_beta.go,
// apps_beta.go), and msgraph-sdk-go is the v1.0 SDK. A request about such a type is
// built by the SDK's own request builders for the same path under v1.0, retargeted at
// another Graph version and sent through the same request adapter (authentication,
// middlewares, retries, error mapping); its answer is parsed into a model of this
// package.

import (
	"context"
	"fmt"
	"maps"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
)

// versionedRootKey names the URL template parameter of another version's root: the
// adapter overwrites "baseurl" with its own (v1.0) base URL on every request.
const versionedRootKey = "mtdversionedroot"

// onVersion points a request an SDK request builder made for the v1.0 route at Graph
// version's (e.g. "beta"), keeping the SDK's query, headers and body.
func (c *client) onVersion(version string, ri *abs.RequestInformation, err error) (*abs.RequestInformation, error) {
	if err != nil {
		return nil, err
	}
	base := c.graph.GetAdapter().GetBaseUrl()
	root, ok := strings.CutSuffix(base, "/v1.0")
	if !ok {
		return nil, fmt.Errorf("the Graph URL %s does not end in /v1.0, so Graph %s cannot be found from it", base, version)
	}
	params := map[string]string{}
	maps.Copy(params, ri.PathParameters)
	params[versionedRootKey] = root + "/" + version
	ri.PathParameters = params
	ri.UrlTemplate = strings.Replace(ri.UrlTemplate, "{+baseurl}", "{+"+versionedRootKey+"}", 1)
	return ri, nil
}

// sendOn sends the request build makes on Graph version's route and parses the answer
// with parse (nil: no answer expected).
func sendOn[T any](ctx context.Context, c *client, version string, parse serialization.ParsableFactory,
	build func(context.Context) (*abs.RequestInformation, error)) (T, error) {
	ri, err := build(ctx)
	if ri, err = c.onVersion(version, ri, err); err != nil {
		var zero T
		return zero, err
	}
	return send[T](ctx, c, ri, parse)
}

// backed is a model that keeps its properties in a backing store, as msgraph-sdk-go's
// models keep theirs; this package's models of beta-only types keep the properties the
// SDK's base type lacks there too.
type backed interface {
	GetBackingStore() store.BackingStore
}

// stored reads a property of the backing store, nil when unset. The in-memory store
// fails only for an empty key.
func stored[T any](m backed, key string) *T {
	v, _ := m.GetBackingStore().Get(key)
	p, _ := v.(*T)
	return p
}

// putStored sets a property of the backing store; the in-memory store fails only for
// an empty key.
func putStored[T any](m backed, key string, v *T) {
	_ = m.GetBackingStore().Set(key, v)
}
