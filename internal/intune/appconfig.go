package intune

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/deviceappmanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

func (c *client) appConfigurations() *deviceappmanagement.MobileAppConfigurationsRequestBuilder {
	return c.graph.DeviceAppManagement().MobileAppConfigurations()
}

// ListAppConfigurations makes one GET with $expand per page and keeps the
// iosMobileAppConfigurations (Graph has no server-side filter by derived type here).
func (c *client) ListAppConfigurations(ctx context.Context) ([]AppConfiguration, error) {
	ms, err := allPages[models.ManagedDeviceMobileAppConfigurationable](ctx, c, opListAppConfigurations,
		func(ctx context.Context) (models.ManagedDeviceMobileAppConfigurationCollectionResponseable, error) {
			return c.appConfigurations().Get(ctx, &deviceappmanagement.MobileAppConfigurationsRequestBuilderGetRequestConfiguration{
				QueryParameters: &deviceappmanagement.MobileAppConfigurationsRequestBuilderGetQueryParameters{Expand: appExpand},
			})
		},
		func(ctx context.Context, link string) (models.ManagedDeviceMobileAppConfigurationCollectionResponseable, error) {
			return c.appConfigurations().WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	var out []AppConfiguration
	for _, m := range ms {
		if cfg, ok := appConfigurationFromModel(m); ok {
			out = append(out, cfg)
		}
	}
	return out, nil
}

// GetAppConfiguration makes one GET with $expand; a configuration of another type is
// NotFound for the operator.
func (c *client) GetAppConfiguration(ctx context.Context, id string) (*AppConfiguration, error) {
	m, err := call(ctx, c, opGetAppConfiguration, func(ctx context.Context) (models.ManagedDeviceMobileAppConfigurationable, error) {
		return c.appConfigurations().ByManagedDeviceMobileAppConfigurationId(id).Get(ctx,
			&deviceappmanagement.MobileAppConfigurationsManagedDeviceMobileAppConfigurationItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &deviceappmanagement.MobileAppConfigurationsManagedDeviceMobileAppConfigurationItemRequestBuilderGetQueryParameters{Expand: appExpand},
			})
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetAppConfiguration)
	}
	cfg, ok := appConfigurationFromModel(m)
	if !ok {
		return nil, otherConfigurationType(opGetAppConfiguration, deref(m.GetOdataType()))
	}
	return &cfg, nil
}

// CreateAppConfiguration makes one POST (never retried by the client) of an
// iosMobileAppConfiguration. The server-set fields and the assignments (set through
// AssignAppConfiguration) of cfg are not sent.
func (c *client) CreateAppConfiguration(ctx context.Context, cfg AppConfiguration) (*AppConfiguration, error) {
	body, err := appConfigurationToModel(cfg, false)
	if err != nil {
		return nil, invalid(opCreateAppConfiguration, err)
	}
	m, err := call(ctx, c, opCreateAppConfiguration, func(ctx context.Context) (models.ManagedDeviceMobileAppConfigurationable, error) {
		return c.appConfigurations().Post(ctx, body, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opCreateAppConfiguration)
	}
	created, ok := appConfigurationFromModel(m)
	if !ok {
		return nil, otherConfigurationType(opCreateAppConfiguration, deref(m.GetOdataType()))
	}
	return &created, nil
}

// PatchAppConfiguration makes one PATCH of type iosMobileAppConfiguration.
func (c *client) PatchAppConfiguration(ctx context.Context, id string, cfg AppConfiguration) error {
	body, err := appConfigurationToModel(cfg, true)
	if err != nil {
		return invalid(opPatchAppConfiguration, err)
	}
	item := c.appConfigurations().ByManagedDeviceMobileAppConfigurationId(id)
	return c.do(ctx, opPatchAppConfiguration, func(ctx context.Context) error {
		_, err := item.Patch(ctx, body, nil)
		return err
	})
}

// DeleteAppConfiguration makes one DELETE.
func (c *client) DeleteAppConfiguration(ctx context.Context, id string) error {
	item := c.appConfigurations().ByManagedDeviceMobileAppConfigurationId(id)
	return c.do(ctx, opDeleteAppConfiguration, func(ctx context.Context) error { return item.Delete(ctx, nil) })
}

// AssignAppConfiguration makes one POST .../assign with {"assignments":[{"target":...}]}.
func (c *client) AssignAppConfiguration(ctx context.Context, id string, targets []AssignmentTarget) error {
	as, err := appConfigurationTargetsToModel(targets)
	if err != nil {
		return invalid(opAssignAppConfiguration, err)
	}
	body := deviceappmanagement.NewMobileAppConfigurationsItemAssignPostRequestBody()
	body.SetAssignments(as)
	assign := c.appConfigurations().ByManagedDeviceMobileAppConfigurationId(id).Assign()
	return c.do(ctx, opAssignAppConfiguration, func(ctx context.Context) error { return assign.Post(ctx, body, nil) })
}

// otherConfigurationType is the error for a configuration of a type the operator does
// not manage.
func otherConfigurationType(op, odataType string) error {
	return &outbound.Error{Service: service, Operation: op, Kind: outbound.NotFound,
		Message: "the app configuration is of type " + odataType + ", not " + iosAppConfigurationType}
}
