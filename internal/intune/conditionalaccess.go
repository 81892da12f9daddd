package intune

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// ListConditionalAccessPolicies makes one GET per page.
func (c *client) ListConditionalAccessPolicies(ctx context.Context) ([]ConditionalAccessPolicy, error) {
	ms, err := allPages[models.ConditionalAccessPolicyable](ctx, c, opListConditionalAccessPolicies,
		func(ctx context.Context) (models.ConditionalAccessPolicyCollectionResponseable, error) {
			return c.caPolicies().Get(ctx, nil)
		},
		func(ctx context.Context, link string) (models.ConditionalAccessPolicyCollectionResponseable, error) {
			return c.caPolicies().WithUrl(link).Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]ConditionalAccessPolicy, 0, len(ms))
	for _, m := range ms {
		out = append(out, caFromModel(m))
	}
	return out, nil
}

// GetConditionalAccessPolicy makes one GET.
func (c *client) GetConditionalAccessPolicy(ctx context.Context, id string) (*ConditionalAccessPolicy, error) {
	m, err := call(ctx, c, opGetConditionalAccessPolicy, func(ctx context.Context) (models.ConditionalAccessPolicyable, error) {
		return c.caPolicies().ByConditionalAccessPolicyId(id).Get(ctx, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetConditionalAccessPolicy)
	}
	p := caFromModel(m)
	return &p, nil
}

// CreateConditionalAccessPolicy makes one POST and returns the policy with its id.
func (c *client) CreateConditionalAccessPolicy(ctx context.Context, p ConditionalAccessPolicy) (*ConditionalAccessPolicy, error) {
	p.ID = ""
	body, err := caToModel(p)
	if err != nil {
		return nil, invalid(opCreateConditionalAccessPolicy, err)
	}
	m, err := call(ctx, c, opCreateConditionalAccessPolicy, func(ctx context.Context) (models.ConditionalAccessPolicyable, error) {
		return c.caPolicies().Post(ctx, body, nil)
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opCreateConditionalAccessPolicy)
	}
	created := caFromModel(m)
	return &created, nil
}

// UpdateConditionalAccessPolicy makes one PATCH with the whole of p (see caToModel).
func (c *client) UpdateConditionalAccessPolicy(ctx context.Context, id string, p ConditionalAccessPolicy) error {
	p.ID = ""
	body, err := caToModel(p)
	if err != nil {
		return invalid(opUpdateConditionalAccessPolicy, err)
	}
	return c.do(ctx, opUpdateConditionalAccessPolicy, func(ctx context.Context) error {
		_, err := c.caPolicies().ByConditionalAccessPolicyId(id).Patch(ctx, body, nil)
		return err
	})
}

// DeleteConditionalAccessPolicy makes one DELETE.
func (c *client) DeleteConditionalAccessPolicy(ctx context.Context, id string) error {
	return c.do(ctx, opDeleteConditionalAccessPolicy, func(ctx context.Context) error {
		return c.caPolicies().ByConditionalAccessPolicyId(id).Delete(ctx, nil)
	})
}
