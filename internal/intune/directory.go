package intune

import (
	"context"
	"net/http"
	"strings"

	graphdevices "github.com/microsoftgraph/msgraph-sdk-go/devices"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// DirectoryObjectKind says which Entra collection an object id belongs to.
type DirectoryObjectKind string

const (
	// DirectoryUser is an Entra user (a managed device's userId).
	DirectoryUser DirectoryObjectKind = "user"
	// DirectoryDevice is an Entra device, named by its deviceId (a managed device's
	// azureADDeviceId).
	DirectoryDevice DirectoryObjectKind = "device"
)

// MemberOf returns the ids of the groups a user (by object id) or a device (by
// deviceId) is a direct member of: one GET per page of /users/{id}/memberOf, or, for a
// device, one GET /devices?$filter=deviceId eq '...' for its object id (which differs
// from the deviceId in Entra) and then the pages of /devices/{objectId}/memberOf. An
// unknown user or device is a NotFound error.
func (c *client) MemberOf(ctx context.Context, kind DirectoryObjectKind, id string) ([]string, error) {
	type page = models.DirectoryObjectCollectionResponseable
	var first func(context.Context) (page, error)
	var next func(context.Context, string) (page, error)
	switch kind {
	case DirectoryUser:
		b := c.graph.Users().ByUserId(id).MemberOf()
		first = func(ctx context.Context) (page, error) { return b.Get(ctx, nil) }
		next = func(ctx context.Context, link string) (page, error) { return b.WithUrl(link).Get(ctx, nil) }
	case DirectoryDevice:
		objectID, err := c.deviceObjectID(ctx, id)
		if err != nil {
			return nil, err
		}
		b := c.graph.Devices().ByDeviceId(objectID).MemberOf()
		first = func(ctx context.Context) (page, error) { return b.Get(ctx, nil) }
		next = func(ctx context.Context, link string) (page, error) { return b.WithUrl(link).Get(ctx, nil) }
	default:
		return nil, invalid(opMemberOf, errUnknownKind(kind))
	}
	objs, err := allPages[models.DirectoryObjectable](ctx, c, opMemberOf, first, next)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		if _, isGroup := o.(models.Groupable); isGroup && o.GetId() != nil {
			ids = append(ids, *o.GetId())
		}
	}
	return ids, nil
}

// deviceObjectID finds the Entra device object of a deviceId.
func (c *client) deviceObjectID(ctx context.Context, deviceID string) (string, error) {
	filter := "deviceId eq " + odataString(deviceID)
	page, err := call(ctx, c, opFindDirectoryDevice, func(ctx context.Context) (models.DeviceCollectionResponseable, error) {
		return c.graph.Devices().Get(ctx, &graphdevices.DevicesRequestBuilderGetRequestConfiguration{
			QueryParameters: &graphdevices.DevicesRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "deviceId"}},
		})
	})
	if err != nil {
		return "", err
	}
	if page != nil {
		for _, d := range page.GetValue() {
			if d.GetId() != nil && strings.EqualFold(deref(d.GetDeviceId()), deviceID) {
				return *d.GetId(), nil
			}
		}
	}
	return "", &outbound.Error{Service: service, Operation: opFindDirectoryDevice, Kind: outbound.NotFound, StatusCode: http.StatusNotFound,
		Message: "Entra has no device with deviceId " + deviceID}
}

type errUnknownKind DirectoryObjectKind

func (e errUnknownKind) Error() string { return "unknown directory object kind " + string(e) }
