package controllers

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/mtd-operator/mtd-operator/internal/intune"
)

const caPendingKey = "conditional-access"

// syncConditionalAccess realises spec.conditionalAccess through the same ladder as the
// compliance policies, and removes (or orphans) the policy when the section goes.
func (r *DeviceRiskPolicyReconciler) syncConditionalAccess(ctx context.Context, p *policyPass) error {
	pol := p.pol
	if pol.Spec.ConditionalAccess == nil {
		if err := r.deleteCA(ctx, p); err != nil {
			return err
		}
		pol.Status.ConditionalAccessPolicyID, pol.Status.ConditionalAccessAdopted = "", false
		return nil
	}
	ic := p.clients.Intune
	want := desiredCAPolicy(pol)
	_, _, err := climb(ctx, r.Client, r.Recorder, p, ladder[intune.ConditionalAccessPolicy]{
		what: "Conditional Access policy", plural: "Conditional Access policies", pending: caPendingKey, name: want.DisplayName,
		id:   pol.Status.ConditionalAccessPolicyID,
		idOf: func(c *intune.ConditionalAccessPolicy) string { return c.ID },
		record: func(c *intune.ConditionalAccessPolicy, adopted bool) {
			pol.Status.ConditionalAccessPolicyID, pol.Status.ConditionalAccessAdopted = c.ID, adopted
		},
		forget: func() { pol.Status.ConditionalAccessPolicyID, pol.Status.ConditionalAccessAdopted = "", false },
		get:    ic.GetConditionalAccessPolicy,
		candidates: func(ctx context.Context) ([]intune.ConditionalAccessPolicy, error) {
			all, err := listOnce(ctx, &p.listedCA, ic.ListConditionalAccessPolicies)
			return slices.DeleteFunc(slices.Clone(all), func(c intune.ConditionalAccessPolicy) bool { return c.DisplayName != want.DisplayName }), err
		},
		create: func(ctx context.Context) (*intune.ConditionalAccessPolicy, error) {
			return ic.CreateConditionalAccessPolicy(ctx, want)
		},
		correct: func(ctx context.Context, live intune.ConditionalAccessPolicy) error {
			return r.correctCA(ctx, p, want, live)
		},
	})
	return err
}

func (r *DeviceRiskPolicyReconciler) correctCA(ctx context.Context, p *policyPass, want, live intune.ConditionalAccessPolicy) error {
	diffs := caDiffs(want, live)
	if len(diffs) == 0 {
		return nil
	}
	if !p.mayWrite("Conditional Access policy " + live.ID + ": " + strings.Join(diffs, ", ")) {
		return nil
	}
	if err := p.clients.Intune.UpdateConditionalAccessPolicy(ctx, live.ID, want); err != nil {
		return err
	}
	emit(r.Recorder, p.pol, corev1.EventTypeNormal, ReasonUpdated, "Update", "corrected the Conditional Access policy "+live.ID+": "+strings.Join(diffs, ", "))
	return nil
}

func (r *DeviceRiskPolicyReconciler) deleteCA(ctx context.Context, p *policyPass) error {
	return release(ctx, r.Recorder, p.pol, "Conditional Access policy", p.pol.Status.ConditionalAccessPolicyID, p.clients.Intune.DeleteConditionalAccessPolicy)
}
