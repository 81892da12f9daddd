package graph

import (
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Properties of an assignment target: the group ones carry groupId; every
// type may name an assignment filter (newer v1.0 schemas have it, the SDK
// v1.x never sends it).
var (
	targetFilterProps = map[string]prop{
		"deviceAndAppManagementAssignmentFilterId":   pString,
		"deviceAndAppManagementAssignmentFilterType": enum("none", "include", "exclude"),
	}
	groupTargetProps = merge(targetFilterProps, map[string]prop{"groupId": pString})
)

// isGUID reports whether s is a GUID in its plain 36-character form.
func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// parseAppTarget validates the target of a mobile app or app configuration
// assignment, which Intune checks more strictly than the compliance policies'
// (the group id must be a GUID).
func parseAppTarget(v any) (world.Target, *apiErr) {
	m, _ := v.(map[string]any)
	if m == nil {
		return world.Target{}, badRequest("An assignment must have a target.")
	}
	typ, _ := m["@odata.type"].(string)
	if !slices.Contains(targetTypes, typ) {
		return world.Target{}, badRequest("Unsupported assignment target type '" + typ + "': expected one of " + strings.Join(targetTypes, ", ") + ".")
	}
	group := typ == world.GroupTarget || typ == world.ExclusionTarget
	props := targetFilterProps
	if group {
		props = groupTargetProps
	}
	if err := checkProps(strings.TrimPrefix(typ, "#"), m, props, []string{"@odata.type"}); err != nil {
		return world.Target{}, badRequest(err.Error())
	}
	if !group {
		return world.Target{ODataType: typ}, nil
	}
	gid, _ := m["groupId"].(string)
	if !isGUID(gid) {
		return world.Target{}, badRequest("The groupId '" + gid + "' of target type '" + typ + "' is not a GUID.")
	}
	return world.Target{ODataType: typ, GroupID: gid}, nil
}

// targetSet refuses a target given twice in one assign call.
type targetSet map[world.Target]bool

func (s targetSet) add(t world.Target) *apiErr {
	if s[t] {
		what := "target " + t.ODataType
		if t.GroupID != "" {
			what += " for group " + t.GroupID
		}
		return badRequest("The " + what + " is assigned twice: each target may appear once.")
	}
	s[t] = true
	return nil
}

// itemOf returns the i-th element of a collection parameter as an object
// whose @odata.type, when present, is typ.
func itemOf(param string, i int, item any, typ string) (map[string]any, *apiErr) {
	at := param + "[" + strconv.Itoa(i) + "]"
	m, ok := item.(map[string]any)
	if !ok {
		return nil, badRequest(at + " must be an object.")
	}
	if t, ok := m["@odata.type"]; ok {
		if ts, _ := t.(string); strings.TrimPrefix(ts, "#") != strings.TrimPrefix(typ, "#") {
			return nil, badRequest(at + " has @odata.type '" + ts + "', expected '" + typ + "'.")
		}
	}
	return m, nil
}

// collectionParam returns an action's collection parameter, answering 400
// when it is missing or not a collection.
func collectionParam(body map[string]any, name string) ([]any, *apiErr) {
	v, present := body[name]
	if !present {
		return nil, badRequest("The parameter '" + name + "' is required.")
	}
	arr, ok := v.([]any)
	if !ok && v != nil {
		return nil, badRequest("The parameter '" + name + "' must be a collection.")
	}
	return arr, nil
}
