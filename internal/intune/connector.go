package intune

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// GetConnector makes one GET of the connector; 404 means the partner is not onboarded.
func (c *client) GetConnector(ctx context.Context, id string) (*Connector, error) {
	m, err := call(ctx, c, opGetConnector, func(ctx context.Context) (models.MobileThreatDefenseConnectorable, error) {
		return c.connectors().ByMobileThreatDefenseConnectorId(id).Get(ctx, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetConnector)
	}
	conn := connectorFromModel(m)
	return &conn, nil
}

// PatchConnector makes one PATCH whose body holds only the set fields of changes, so
// settings the operator does not manage are left alone. Graph answers with the object.
func (c *client) PatchConnector(ctx context.Context, id string, changes ConnectorSettings) (*Connector, error) {
	body := connectorToModel(Connector{Settings: changes})
	m, err := call(ctx, c, opPatchConnector, func(ctx context.Context) (models.MobileThreatDefenseConnectorable, error) {
		return c.connectors().ByMobileThreatDefenseConnectorId(id).Patch(ctx, body, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil { // a 204 would be legal too: read the result
		return c.GetConnector(ctx, id)
	}
	conn := connectorFromModel(m)
	return &conn, nil
}
