package intune

import (
	"context"
	"fmt"

	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// managedDeviceModel is msgraph-sdk-go's managedDevice that also keeps
// deviceEnrollmentType as Graph sent it: v1.0 sends the Android Enterprise values
// (androidEnterpriseFullyManaged, ...), which the SDK's enum lacks and reads as nil.
type managedDeviceModel struct {
	*models.ManagedDevice
	enrollmentType string
}

func newManagedDeviceModel(serialization.ParseNode) (serialization.Parsable, error) {
	return &managedDeviceModel{ManagedDevice: models.NewManagedDevice()}, nil
}

func (m *managedDeviceModel) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	res := m.ManagedDevice.GetFieldDeserializers()
	typed := res["deviceEnrollmentType"]
	res["deviceEnrollmentType"] = func(n serialization.ParseNode) error {
		v, err := n.GetStringValue()
		if err != nil {
			return err
		}
		m.enrollmentType = deref(v)
		return typed(n)
	}
	return res
}

// devicePage parses pages of managedDeviceModel.
var devicePage = pageOf[models.ManagedDeviceable](newManagedDeviceModel)

// ListManagedDevices makes one GET per page (1000 devices each, $top) with $select
// and, when f sets anything, $filter; devices parse as managedDeviceModel. Graph
// silently ignores a $filter it does not support and answers with every device, so each
// returned device is checked against f and only exact matches are kept.
func (c *client) ListManagedDevices(ctx context.Context, f DeviceFilter) ([]ManagedDevice, error) {
	top := int32(devicePageSize)
	q := &devicemanagement.ManagedDevicesRequestBuilderGetQueryParameters{Select: deviceSelect, Top: &top}
	if filter := deviceFilter(f); filter != "" {
		q.Filter = &filter
	}
	ms, err := allPages[models.ManagedDeviceable](ctx, c, opListManagedDevices,
		func(ctx context.Context) (*page[models.ManagedDeviceable], error) {
			ri, err := c.devices().ToGetRequestInformation(ctx, &devicemanagement.ManagedDevicesRequestBuilderGetRequestConfiguration{QueryParameters: q})
			if err != nil {
				return nil, err
			}
			return send[*page[models.ManagedDeviceable]](ctx, c, ri, devicePage)
		},
		func(ctx context.Context, link string) (*page[models.ManagedDeviceable], error) {
			ri, err := c.devices().WithUrl(link).ToGetRequestInformation(ctx, nil)
			if err != nil {
				return nil, err
			}
			return send[*page[models.ManagedDeviceable]](ctx, c, ri, devicePage)
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
// asks for deviceActionResults; the device parses as managedDeviceModel.
func (c *client) GetManagedDevice(ctx context.Context, id string) (*ManagedDevice, error) {
	m, err := call(ctx, c, opGetManagedDevice, func(ctx context.Context) (models.ManagedDeviceable, error) {
		ri, err := c.devices().ByManagedDeviceId(id).ToGetRequestInformation(ctx, &devicemanagement.ManagedDevicesManagedDeviceItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &devicemanagement.ManagedDevicesManagedDeviceItemRequestBuilderGetQueryParameters{Select: deviceDetailSelect},
		})
		if err != nil {
			return nil, err
		}
		return send[models.ManagedDeviceable](ctx, c, ri, newManagedDeviceModel)
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
