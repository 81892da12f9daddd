package graph

import (
	"net/http"
	"slices"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

const connectorsPath = Prefix + "/deviceManagement/mobileThreatDefenseConnectors"

var connectorProps = func() map[string]prop {
	m := map[string]prop{"partnerUnresponsivenessThresholdInDays": pInt}
	for _, f := range world.ConnectorFlags {
		m[f] = pBool
	}
	return m
}()

// Read-only connector properties: accepted in a write and ignored.
var connectorReadOnly = []string{"@odata.type", "id", "lastHeartbeatDateTime", "partnerState"}

func (s *Service) registerConnectors(m *mw.Mux) {
	read := route{roles: readRoles(world.RoleServiceConfigReadWrite, world.RoleServiceConfigRead)}
	write := route{roles: []string{world.RoleServiceConfigReadWrite}, write: true}
	s.handle(m, "GET "+connectorsPath, read, s.listConnectors)
	s.handle(m, "POST "+connectorsPath, write, s.createConnector)
	s.handle(m, "GET "+connectorsPath+"/{id}", read, s.getConnector)
	s.handle(m, "PATCH "+connectorsPath+"/{id}", write, s.patchConnector)
	s.handle(m, "DELETE "+connectorsPath+"/{id}", write, s.deleteConnector)
}

func connectorJSON(st *world.State, t *world.Tenant, c *world.Connector) map[string]any {
	out := map[string]any{
		"@odata.type":                            "#microsoft.graph.mobileThreatDefenseConnector",
		"id":                                     c.ID,
		"lastHeartbeatDateTime":                  formatTime(st.Heartbeat(t, c)),
		"partnerState":                           st.PartnerState(t, c),
		"partnerUnresponsivenessThresholdInDays": c.ThresholdDays,
	}
	for k, v := range c.Flags {
		out[k] = v
	}
	return out
}

func (s *Service) listConnectors(c *call) {
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		ids := make([]string, 0, len(t.Connectors))
		for id := range t.Connectors {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		items := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			items = append(items, connectorJSON(st, t, t.Connectors[id]))
		}
		return http.StatusOK, map[string]any{
			"@odata.context": contextURL(c.r, "deviceManagement/mobileThreatDefenseConnectors"), "value": items}, nil
	})
}

func (s *Service) getConnector(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		con := t.Connectors[id]
		if con == nil {
			return 0, nil, missing("mobileThreatDefenseConnector", id)
		}
		out := connectorJSON(st, t, con)
		out["@odata.context"] = contextURL(c.r, "deviceManagement/mobileThreatDefenseConnectors/$entity")
		return http.StatusOK, out, nil
	})
}

// applyConnector validates and applies a connector write body.
func applyConnector(con *world.Connector, body map[string]any) error {
	if err := checkProps("microsoft.graph.mobileThreatDefenseConnector", body, connectorProps, connectorReadOnly); err != nil {
		return err
	}
	for k, v := range body {
		switch {
		case v == nil || slices.Contains(connectorReadOnly, k):
		case k == "partnerUnresponsivenessThresholdInDays":
			con.ThresholdDays = int(v.(float64))
		default:
			con.Flags[k] = v.(bool)
		}
	}
	return nil
}

// createConnector exists in Graph, but onboarding is portal-driven: the twin
// creates the connector only for a known partner id that is not there yet.
func (s *Service) createConnector(c *call) {
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	if err := checkProps("microsoft.graph.mobileThreatDefenseConnector", body, connectorProps, connectorReadOnly); err != nil {
		c.fail(http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	id, _ := body["id"].(string)
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		con, err := st.Onboard(t, id)
		switch err {
		case nil:
		case world.ErrConflict:
			return 0, nil, &apiErr{http.StatusConflict, "Conflict", "A mobileThreatDefenseConnector with id '" + id + "' already exists."}
		default:
			return 0, nil, badRequest("Unknown Mobile Threat Defense partner id '" + id + "'.")
		}
		_ = applyConnector(con, body) // validated above
		st.ConnectorChanged(t, con)
		return http.StatusCreated, connectorJSON(st, t, con), nil
	})
}

func (s *Service) patchConnector(c *call) {
	id := c.r.PathValue("id")
	body, ok := c.readBody(false)
	if !ok {
		return
	}
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		con := t.Connectors[id]
		if con == nil {
			return 0, nil, missing("mobileThreatDefenseConnector", id)
		}
		if err := applyConnector(con, body); err != nil {
			return 0, nil, badRequest(err.Error())
		}
		st.ConnectorChanged(t, con)
		out := connectorJSON(st, t, con)
		out["@odata.context"] = contextURL(c.r, "deviceManagement/mobileThreatDefenseConnectors/$entity")
		return http.StatusOK, out, nil
	})
}

func (s *Service) deleteConnector(c *call) {
	id := c.r.PathValue("id")
	s.do(c, func(st *world.State, t *world.Tenant) (int, any, *apiErr) {
		if err := st.Offboard(t, id); err != nil {
			return 0, nil, missing("mobileThreatDefenseConnector", id)
		}
		return http.StatusNoContent, nil, nil
	})
}
