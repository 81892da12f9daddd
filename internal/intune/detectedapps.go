package intune

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

func (c *client) detectedApps() *devicemanagement.DetectedAppsRequestBuilder {
	return c.graph.DeviceManagement().DetectedApps()
}

// ListDetectedApps makes one GET per page, as the service pages it.
func (c *client) ListDetectedApps(ctx context.Context) ([]DetectedApp, error) {
	ms, err := allPages[models.DetectedAppable](ctx, c, opListDetectedApps,
		func(ctx context.Context) (models.DetectedAppCollectionResponseable, error) {
			return c.detectedApps().Get(ctx, nil)
		},
		func(ctx context.Context, link string) (models.DetectedAppCollectionResponseable, error) {
			return c.detectedApps().WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]DetectedApp, 0, len(ms))
	for _, m := range ms {
		out = append(out, detectedAppFromModel(m))
	}
	return out, nil
}

// detectedAppDeviceSelect keeps the pages of a detected app's devices small: only their
// ids are read.
var detectedAppDeviceSelect = []string{"id"}

// DetectedAppDevices makes one GET per page of the app's managedDevices with $select=id.
func (c *client) DetectedAppDevices(ctx context.Context, id string) ([]string, error) {
	devices := c.detectedApps().ByDetectedAppId(id).ManagedDevices()
	ms, err := allPages[models.ManagedDeviceable](ctx, c, opDetectedAppDevices,
		func(ctx context.Context) (models.ManagedDeviceCollectionResponseable, error) {
			return devices.Get(ctx, &devicemanagement.DetectedAppsItemManagedDevicesRequestBuilderGetRequestConfiguration{
				QueryParameters: &devicemanagement.DetectedAppsItemManagedDevicesRequestBuilderGetQueryParameters{Select: detectedAppDeviceSelect},
			})
		},
		func(ctx context.Context, link string) (models.ManagedDeviceCollectionResponseable, error) {
			return devices.WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if id := deref(m.GetId()); id != "" {
			out = append(out, id)
		}
	}
	return out, nil
}
