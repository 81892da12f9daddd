package intune

import (
	"context"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// policyExpand returns a policy's actions (with their configurations, which need the
// nested $expand) and assignments, which a plain read leaves out.
var policyExpand = []string{"scheduledActionsForRule($expand=scheduledActionConfigurations)", "assignments"}

// ListCompliancePolicies makes one GET with $expand per page and keeps the three v1.0
// mobile types (Graph has no server-side filter by derived type), then lists
// androidDeviceOwnerCompliancePolicy on its own route (policies_beta.go): v1.0 shows
// those as the base type, which is not kept.
func (c *client) ListCompliancePolicies(ctx context.Context) ([]CompliancePolicy, error) {
	ms, err := allPages[models.DeviceCompliancePolicyable](ctx, c, opListCompliancePolicies,
		func(ctx context.Context) (models.DeviceCompliancePolicyCollectionResponseable, error) {
			return c.policies().Get(ctx, &devicemanagement.DeviceCompliancePoliciesRequestBuilderGetRequestConfiguration{
				QueryParameters: &devicemanagement.DeviceCompliancePoliciesRequestBuilderGetQueryParameters{Expand: policyExpand},
			})
		},
		func(ctx context.Context, link string) (models.DeviceCompliancePolicyCollectionResponseable, error) {
			return c.policies().WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	var out []CompliancePolicy
	for _, m := range ms {
		if p, ok := policyFromModel(m); ok {
			out = append(out, p)
		}
	}
	owners, err := c.listDeviceOwnerPolicies(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, owners...), nil
}

// GetCompliancePolicy makes one GET with $expand. A policy of another type is NotFound
// for the operator, which manages only the four mobile types. An
// androidDeviceOwnerCompliancePolicy is read on its own route: at once when the client
// has seen it, else after v1.0 showed it as the base type.
func (c *client) GetCompliancePolicy(ctx context.Context, id string) (*CompliancePolicy, error) {
	if c.deviceOwners.has(id) {
		return c.getDeviceOwnerPolicy(ctx, id)
	}
	m, err := call(ctx, c, opGetCompliancePolicy, func(ctx context.Context) (models.DeviceCompliancePolicyable, error) {
		return c.policies().ByDeviceCompliancePolicyId(id).Get(ctx, &devicemanagement.DeviceCompliancePoliciesDeviceCompliancePolicyItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &devicemanagement.DeviceCompliancePoliciesDeviceCompliancePolicyItemRequestBuilderGetQueryParameters{Expand: policyExpand},
		})
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetCompliancePolicy)
	}
	p, ok := policyFromModel(m)
	switch {
	case ok:
		return &p, nil
	case mayBeDeviceOwner(m):
		return c.getDeviceOwnerPolicy(ctx, id)
	}
	return nil, invalidType(opGetCompliancePolicy, deref(m.GetOdataType()))
}

// CreateCompliancePolicy makes one POST carrying the policy and its actions. The
// server-set fields and the assignments (set through AssignCompliancePolicy) of p are
// not sent. The answer does not expand the actions, so the sent ones are returned.
func (c *client) CreateCompliancePolicy(ctx context.Context, p CompliancePolicy) (*CompliancePolicy, error) {
	p.ID, p.Version, p.Created, p.Modified, p.Assignments = "", 0, time.Time{}, time.Time{}, nil
	body, err := policyToModel(p)
	if err != nil {
		return nil, invalid(opCreateCompliancePolicy, err)
	}
	post := func(ctx context.Context) (models.DeviceCompliancePolicyable, error) {
		return c.policies().Post(ctx, body, nil)
	}
	if p.Type == AndroidDeviceOwnerCompliancePolicy {
		post = func(ctx context.Context) (models.DeviceCompliancePolicyable, error) {
			return sendDeviceOwner[models.DeviceCompliancePolicyable](ctx, c, createPolicyFromDiscriminatorValue,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return c.policies().ToPostRequestInformation(ctx, body, nil)
				})
		}
	}
	m, err := call(ctx, c, opCreateCompliancePolicy, post)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opCreateCompliancePolicy)
	}
	created, ok := policyFromModel(m)
	if !ok {
		return nil, invalidType(opCreateCompliancePolicy, deref(m.GetOdataType()))
	}
	if created.Type == AndroidDeviceOwnerCompliancePolicy {
		c.deviceOwners.remember(created.ID)
	}
	if len(created.Actions) == 0 {
		created.Actions = p.Actions
	}
	return &created, nil
}

// PatchCompliancePolicy makes one PATCH of the policy's own type with only the set
// fields; the service bumps the version.
func (c *client) PatchCompliancePolicy(ctx context.Context, id string, t PolicyType, patch CompliancePolicyPatch) error {
	body, err := policyPatchToModel(t, patch)
	if err != nil {
		return invalid(opPatchCompliancePolicy, err)
	}
	if t == AndroidDeviceOwnerCompliancePolicy {
		c.deviceOwners.remember(id)
	}
	item := c.policies().ByDeviceCompliancePolicyId(id)
	return c.do(ctx, opPatchCompliancePolicy, func(ctx context.Context) error {
		if t == AndroidDeviceOwnerCompliancePolicy {
			_, err := sendDeviceOwner[models.DeviceCompliancePolicyable](ctx, c, createPolicyFromDiscriminatorValue,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return item.ToPatchRequestInformation(ctx, body, nil)
				})
			return err
		}
		_, err := item.Patch(ctx, body, nil)
		return err
	})
}

// DeleteCompliancePolicy makes one DELETE.
func (c *client) DeleteCompliancePolicy(ctx context.Context, id string) error {
	item := c.policies().ByDeviceCompliancePolicyId(id)
	err := c.do(ctx, opDeleteCompliancePolicy, func(ctx context.Context) error {
		if c.deviceOwners.has(id) {
			_, err := sendDeviceOwner[any](ctx, c, nil,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return item.ToDeleteRequestInformation(ctx, nil)
				})
			return err
		}
		return item.Delete(ctx, nil)
	})
	if err == nil {
		c.deviceOwners.forget(id)
	}
	return err
}

// AssignCompliancePolicy makes one POST .../assign with {"assignments":[{"target":...}]}.
func (c *client) AssignCompliancePolicy(ctx context.Context, id string, targets []AssignmentTarget) error {
	as, err := targetsToModel(targets)
	if err != nil {
		return invalid(opAssignCompliancePolicy, err)
	}
	body := devicemanagement.NewDeviceCompliancePoliciesItemAssignPostRequestBody()
	body.SetAssignments(as)
	assign := c.policies().ByDeviceCompliancePolicyId(id).Assign()
	return c.do(ctx, opAssignCompliancePolicy, func(ctx context.Context) error {
		if c.deviceOwners.has(id) {
			_, err := sendDeviceOwner[any](ctx, c, devicemanagement.CreateDeviceCompliancePoliciesItemAssignPostResponseFromDiscriminatorValue,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return assign.ToPostRequestInformation(ctx, body, nil)
				})
			return err
		}
		_, err := assign.PostAsAssignPostResponse(ctx, body, nil)
		return err
	})
}

// ScheduleComplianceActions makes one POST .../scheduleActionsForRules with
// {"deviceComplianceScheduledActionForRules":[...]}.
func (c *client) ScheduleComplianceActions(ctx context.Context, id string, actions []ScheduledAction) error {
	rules, err := actionsToModel(actions)
	if err != nil {
		return invalid(opScheduleComplianceActions, err)
	}
	body := devicemanagement.NewDeviceCompliancePoliciesItemScheduleActionsForRulesPostRequestBody()
	body.SetDeviceComplianceScheduledActionForRules(rules)
	schedule := c.policies().ByDeviceCompliancePolicyId(id).ScheduleActionsForRules()
	return c.do(ctx, opScheduleComplianceActions, func(ctx context.Context) error {
		if c.deviceOwners.has(id) {
			_, err := sendDeviceOwner[any](ctx, c, nil,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return schedule.ToPostRequestInformation(ctx, body, nil)
				})
			return err
		}
		return schedule.Post(ctx, body, nil)
	})
}

// GetCompliancePolicyDeviceOverview makes one GET of the policy's deviceStatusOverview.
func (c *client) GetCompliancePolicyDeviceOverview(ctx context.Context, id string) (*DeviceOverview, error) {
	overview := c.policies().ByDeviceCompliancePolicyId(id).DeviceStatusOverview()
	m, err := call(ctx, c, opGetDeviceOverview, func(ctx context.Context) (models.DeviceComplianceDeviceOverviewable, error) {
		if c.deviceOwners.has(id) {
			return sendDeviceOwner[models.DeviceComplianceDeviceOverviewable](ctx, c, models.CreateDeviceComplianceDeviceOverviewFromDiscriminatorValue,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return overview.ToGetRequestInformation(ctx, nil)
				})
		}
		return overview.Get(ctx, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetDeviceOverview)
	}
	return deviceOverviewFromModel(m), nil
}
