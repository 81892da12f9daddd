package intune

// Managed Google Play apps are androidManagedStoreApps, a type Graph serves only in beta:
// Graph v1.0 shows such an app as the base mobileApp, without its package id, and
// msgraph-sdk-go has no model of it. So its list and its read are built by the SDK's
// request builders, retargeted at managedStoreAppVersion's route (versions.go), and
// parsed into managedStoreApp, a model of this package. Assign, delete and the
// assignments by id are served by v1.0 for every type and stay there. Nothing outside
// this file knows which version serves the type.

import (
	"context"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/deviceappmanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// managedStoreAppVersion is the Graph version that serves androidManagedStoreApp. When
// Microsoft publishes the type in v1.0, set it to "v1.0".
const managedStoreAppVersion = "beta"

// baseAppType is how a Graph version shows an app whose type it does not have.
const baseAppType = "#microsoft.graph.mobileApp"

// managedStoreAppFilter is Graph's server-side filter by derived type on the apps
// collection.
const managedStoreAppFilter = "isof('microsoft.graph.androidManagedStoreApp')"

// listManagedStoreApps makes one GET per page of managedStoreAppVersion's apps, filtered
// by type and with assignments expanded, and keeps those of the type (should the filter
// be ignored).
func (c *client) listManagedStoreApps(ctx context.Context) ([]StoreApp, error) {
	filter := managedStoreAppFilter
	q := &deviceappmanagement.MobileAppsRequestBuilderGetRequestConfiguration{
		QueryParameters: &deviceappmanagement.MobileAppsRequestBuilderGetQueryParameters{Filter: &filter, Expand: appExpand},
	}
	parsePage := pageOf[models.MobileAppable](createAppFromDiscriminatorValue)
	ms, err := allPages[models.MobileAppable](ctx, c, opListStoreApps,
		func(ctx context.Context) (*page[models.MobileAppable], error) {
			return sendOn[*page[models.MobileAppable]](ctx, c, managedStoreAppVersion, parsePage,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return c.apps().ToGetRequestInformation(ctx, q)
				})
		},
		func(ctx context.Context, link string) (*page[models.MobileAppable], error) {
			// The link is absolute, on the route that answered the first page.
			ri, err := c.apps().WithUrl(link).ToGetRequestInformation(ctx, nil)
			if err != nil {
				return nil, err
			}
			return send[*page[models.MobileAppable]](ctx, c, ri, parsePage)
		})
	if err != nil {
		return nil, err
	}
	var out []StoreApp
	for _, m := range ms {
		if a, ok := storeAppFromModel(m); ok && a.Type == AppAndroidManagedStore {
			out = append(out, a)
		}
	}
	return out, nil
}

// getManagedStoreApp makes one GET with $expand on managedStoreAppVersion's route; an
// app of another type is NotFound for the operator.
func (c *client) getManagedStoreApp(ctx context.Context, id string) (*StoreApp, error) {
	m, err := call(ctx, c, opGetStoreApp, func(ctx context.Context) (models.MobileAppable, error) {
		return sendOn[models.MobileAppable](ctx, c, managedStoreAppVersion, createAppFromDiscriminatorValue,
			func(ctx context.Context) (*abs.RequestInformation, error) {
				return c.apps().ByMobileAppId(id).ToGetRequestInformation(ctx,
					&deviceappmanagement.MobileAppsMobileAppItemRequestBuilderGetRequestConfiguration{
						QueryParameters: &deviceappmanagement.MobileAppsMobileAppItemRequestBuilderGetQueryParameters{Expand: appExpand},
					})
			})
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetStoreApp)
	}
	a, ok := storeAppFromModel(m)
	if !ok || a.Type != AppAndroidManagedStore {
		return nil, otherAppType(opGetStoreApp, deref(m.GetOdataType()))
	}
	return &a, nil
}

// Property names of androidManagedStoreApp the operator reads.
const (
	propPackageID     = "packageId"
	propAppIdentifier = "appIdentifier"
	propAppStoreURL   = "appStoreUrl"
)

// managedStoreApp is androidManagedStoreApp as far as the operator uses it:
// msgraph-sdk-go's base mobileApp plus the package id and the store URL, kept in the
// model's backing store. Its other properties land in the additional data.
type managedStoreApp struct {
	*models.MobileApp
}

func newManagedStoreApp() *managedStoreApp {
	m := &managedStoreApp{MobileApp: models.NewMobileApp()}
	t := string(AppAndroidManagedStore)
	m.SetOdataType(&t)
	return m
}

// createAppFromDiscriminatorValue is msgraph-sdk-go's factory for mobile apps plus
// androidManagedStoreApp, which it would parse as the base type.
func createAppFromDiscriminatorValue(n serialization.ParseNode) (serialization.Parsable, error) {
	if n != nil {
		if t, err := n.GetChildNode("@odata.type"); err == nil && t != nil {
			if v, err := t.GetStringValue(); err == nil && AppType(deref(v)) == AppAndroidManagedStore {
				return newManagedStoreApp(), nil
			}
		}
	}
	return models.CreateMobileAppFromDiscriminatorValue(n)
}

func (m *managedStoreApp) GetPackageId() *string     { return stored[string](m, propPackageID) }
func (m *managedStoreApp) GetAppIdentifier() *string { return stored[string](m, propAppIdentifier) }
func (m *managedStoreApp) GetAppStoreUrl() *string   { return stored[string](m, propAppStoreURL) }

// GetFieldDeserializers reads the base type's properties and the package's.
func (m *managedStoreApp) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	res := m.MobileApp.GetFieldDeserializers()
	for _, key := range []string{propPackageID, propAppIdentifier, propAppStoreURL} {
		res[key] = func(n serialization.ParseNode) error {
			v, err := n.GetStringValue()
			if err == nil && v != nil {
				putStored(m, key, v)
			}
			return err
		}
	}
	return res
}

// Serialize writes the base type's properties and the package's (the operator never
// sends the type: Managed Google Play creates it).
func (m *managedStoreApp) Serialize(w serialization.SerializationWriter) error {
	if err := m.MobileApp.Serialize(w); err != nil {
		return err
	}
	for _, key := range []string{propPackageID, propAppIdentifier, propAppStoreURL} {
		if v := stored[string](m, key); v != nil {
			if err := w.WriteStringValue(key, v); err != nil {
				return err
			}
		}
	}
	return nil
}
