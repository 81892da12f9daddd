package intune

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/deviceappmanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// appExpand returns an app's assignments, which a plain read leaves out.
var appExpand = []string{"assignments"}

func (c *client) apps() *deviceappmanagement.MobileAppsRequestBuilder {
	return c.graph.DeviceAppManagement().MobileApps()
}

// ListStoreApps lists iosStoreApps with one GET per page of the v1.0 type cast, and
// androidManagedStoreApps on their own route (apps_beta.go), assignments expanded.
func (c *client) ListStoreApps(ctx context.Context, t AppType) ([]StoreApp, error) {
	switch t {
	case AppIOSStore:
	case AppAndroidManagedStore:
		return c.listManagedStoreApps(ctx)
	default:
		return nil, invalid(opListStoreApps, fmt.Errorf("unsupported app type %q", t))
	}
	cast := c.apps().GraphIosStoreApp()
	ms, err := allPages[models.IosStoreAppable](ctx, c, opListStoreApps,
		func(ctx context.Context) (models.IosStoreAppCollectionResponseable, error) {
			return cast.Get(ctx, &deviceappmanagement.MobileAppsGraphIosStoreAppRequestBuilderGetRequestConfiguration{
				QueryParameters: &deviceappmanagement.MobileAppsGraphIosStoreAppRequestBuilderGetQueryParameters{Expand: appExpand},
			})
		},
		func(ctx context.Context, link string) (models.IosStoreAppCollectionResponseable, error) {
			return cast.WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]StoreApp, 0, len(ms))
	for _, m := range ms {
		if a, ok := storeAppFromModel(m); ok && a.Type == AppIOSStore {
			out = append(out, a)
		}
	}
	return out, nil
}

// GetStoreApp makes one GET with $expand on v1.0, whose answer parses with the
// package's app factory (so a managed store app, should v1.0 ever serve the type, keeps
// its package id). An app v1.0 shows as the base type is read again on its own route.
// An app of another type is NotFound for the operator.
func (c *client) GetStoreApp(ctx context.Context, id string) (*StoreApp, error) {
	item := c.apps().ByMobileAppId(id)
	m, err := call(ctx, c, opGetStoreApp, func(ctx context.Context) (models.MobileAppable, error) {
		ri, err := item.ToGetRequestInformation(ctx, &deviceappmanagement.MobileAppsMobileAppItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &deviceappmanagement.MobileAppsMobileAppItemRequestBuilderGetQueryParameters{Expand: appExpand},
		})
		if err != nil {
			return nil, err
		}
		return send[models.MobileAppable](ctx, c, ri, createAppFromDiscriminatorValue)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetStoreApp)
	}
	if a, ok := storeAppFromModel(m); ok {
		return &a, nil
	}
	if deref(m.GetOdataType()) == baseAppType {
		return c.getManagedStoreApp(ctx, id)
	}
	return nil, otherAppType(opGetStoreApp, deref(m.GetOdataType()))
}

// CreateIOSStoreApp makes one POST (never retried by the client: a second would make a
// second app).
func (c *client) CreateIOSStoreApp(ctx context.Context, app StoreApp) (*StoreApp, error) {
	if app.Type != "" && app.Type != AppIOSStore {
		return nil, invalid(opCreateIOSStoreApp, fmt.Errorf("an app of type %s cannot be created as an iosStoreApp", app.Type))
	}
	body, err := iosStoreAppToModel(app)
	if err != nil {
		return nil, invalid(opCreateIOSStoreApp, err)
	}
	m, err := call(ctx, c, opCreateIOSStoreApp, func(ctx context.Context) (models.MobileAppable, error) {
		return c.apps().Post(ctx, body, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opCreateIOSStoreApp)
	}
	created, ok := storeAppFromModel(m)
	if !ok || created.Type != AppIOSStore {
		return nil, otherAppType(opCreateIOSStoreApp, deref(m.GetOdataType()))
	}
	return &created, nil
}

// PatchIOSStoreApp makes one PATCH of type iosStoreApp.
func (c *client) PatchIOSStoreApp(ctx context.Context, id string, app StoreApp) error {
	body, err := iosStoreAppPatchToModel(app)
	if err != nil {
		return invalid(opPatchIOSStoreApp, err)
	}
	item := c.apps().ByMobileAppId(id)
	return c.do(ctx, opPatchIOSStoreApp, func(ctx context.Context) error {
		_, err := item.Patch(ctx, body, nil)
		return err
	})
}

// DeleteStoreApp makes one DELETE on v1.0, which serves it for every type.
func (c *client) DeleteStoreApp(ctx context.Context, id string) error {
	item := c.apps().ByMobileAppId(id)
	return c.do(ctx, opDeleteStoreApp, func(ctx context.Context) error { return item.Delete(ctx, nil) })
}

// AssignStoreApp makes one POST .../assign with {"mobileAppAssignments":[...]} on v1.0,
// which serves it for every type. Like every POST it is not retried by the client.
func (c *client) AssignStoreApp(ctx context.Context, id string, assignments []AppAssignment) error {
	as, err := appAssignmentsToModel(assignments)
	if err != nil {
		return invalid(opAssignStoreApp, err)
	}
	body := deviceappmanagement.NewMobileAppsItemAssignPostRequestBody()
	body.SetMobileAppAssignments(as)
	assign := c.apps().ByMobileAppId(id).Assign()
	return c.do(ctx, opAssignStoreApp, func(ctx context.Context) error { return assign.Post(ctx, body, nil) })
}

// otherAppType is the error for an app of a type the operator does not manage.
func otherAppType(op, odataType string) error {
	return &outbound.Error{Service: service, Operation: op, Kind: outbound.NotFound,
		Message: "the app is of type " + odataType + ", not " + string(AppIOSStore) + " or " + string(AppAndroidManagedStore)}
}
