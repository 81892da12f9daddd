package intune

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// ListManagedDevices makes one GET per page (1000 devices each, $top) with $select
// and, when f sets anything, $filter. Graph silently ignores a $filter it does not
// support and answers with every device, so each returned device is checked against f
// and only exact matches are kept.
func (c *client) ListManagedDevices(ctx context.Context, f DeviceFilter) ([]ManagedDevice, error) {
	top := int32(devicePageSize)
	q := &devicemanagement.ManagedDevicesRequestBuilderGetQueryParameters{Select: deviceSelect, Top: &top}
	if filter := deviceFilter(f); filter != "" {
		q.Filter = &filter
	}
	ms, err := allPages[models.ManagedDeviceable](ctx, c, opListManagedDevices,
		func(ctx context.Context) (models.ManagedDeviceCollectionResponseable, error) {
			return c.devices().Get(ctx, &devicemanagement.ManagedDevicesRequestBuilderGetRequestConfiguration{QueryParameters: q})
		},
		func(ctx context.Context, link string) (models.ManagedDeviceCollectionResponseable, error) {
			return c.devices().WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]ManagedDevice, 0, len(ms))
	for _, m := range ms {
		if d := deviceFromModel(m); f.Matches(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// devicePageSize is the largest managedDevices page Graph serves.
const devicePageSize = 1000

// GetManagedDevice makes one GET with $select, which unlike ListManagedDevices's also
// asks for deviceActionResults.
func (c *client) GetManagedDevice(ctx context.Context, id string) (*ManagedDevice, error) {
	m, err := call(ctx, c, opGetManagedDevice, func(ctx context.Context) (models.ManagedDeviceable, error) {
		return c.devices().ByManagedDeviceId(id).Get(ctx, &devicemanagement.ManagedDevicesManagedDeviceItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &devicemanagement.ManagedDevicesManagedDeviceItemRequestBuilderGetQueryParameters{Select: deviceDetailSelect},
		})
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetManagedDevice)
	}
	d := deviceFromModel(m)
	return &d, nil
}

// RunDeviceAction makes one POST .../{action}; wipe carries keepEnrollmentData and
// keepUserData (false when wipe is nil).
func (c *client) RunDeviceAction(ctx context.Context, id string, action DeviceAction, wipe *WipeOptions) error {
	dev := c.devices().ByManagedDeviceId(id)
	var send func(context.Context) error
	switch action {
	case ActionSyncDevice:
		send = func(ctx context.Context) error { return dev.SyncDevice().Post(ctx, nil) }
	case ActionRemoteLock:
		send = func(ctx context.Context) error { return dev.RemoteLock().Post(ctx, nil) }
	case ActionRetire:
		send = func(ctx context.Context) error { return dev.Retire().Post(ctx, nil) }
	case ActionWipe:
		opts := WipeOptions{}
		if wipe != nil {
			opts = *wipe
		}
		body := devicemanagement.NewManagedDevicesItemWipePostRequestBody()
		body.SetKeepEnrollmentData(&opts.KeepEnrollmentData)
		body.SetKeepUserData(&opts.KeepUserData)
		send = func(ctx context.Context) error { return dev.Wipe().Post(ctx, body, nil) }
	default:
		return invalid(opRunDeviceAction, fmt.Errorf("unknown device action %q", action))
	}
	return c.do(ctx, opRunDeviceAction, send)
}
