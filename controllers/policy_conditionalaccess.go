package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

const caPendingKey = "conditional-access"

// syncConditionalAccess realises spec.conditionalAccess with the same rules as the
// compliance policies: known id, else adopt by exact display name, else create; and
// removes (or orphans) the policy when the section goes.
func (r *DeviceRiskPolicyReconciler) syncConditionalAccess(ctx context.Context, p *policyPass) error {
	pol := p.pol
	if pol.Spec.ConditionalAccess == nil {
		if err := r.deleteCA(ctx, p); err != nil {
			return err
		}
		pol.Status.ConditionalAccessPolicyID = ""
		return nil
	}
	ic := p.clients.Intune
	want := desiredCAPolicy(pol)
	if id := pol.Status.ConditionalAccessPolicyID; id != "" {
		live, err := ic.GetConditionalAccessPolicy(ctx, id)
		switch {
		case err == nil:
			return r.correctCA(ctx, p, want, *live)
		case !outbound.IsNotFound(err):
			return err
		}
		emit(r.Recorder, pol, corev1.EventTypeWarning, "PolicyMissing", "Observe", "the Conditional Access policy "+id+" was deleted outside the operator")
		pol.Status.ConditionalAccessPolicyID = ""
	}
	key := pendingKey(caPendingKey)
	_, pending := pol.Annotations[key]
	if pending || pol.Spec.Adoption == v1.AdoptionAdoptOrCreate {
		if p.listedCA == nil {
			all, err := ic.ListConditionalAccessPolicies(ctx)
			if err != nil {
				return err
			}
			p.listedCA = all
		}
		var found []intune.ConditionalAccessPolicy
		for _, c := range p.listedCA {
			if c.DisplayName == want.DisplayName {
				found = append(found, c)
			}
		}
		switch {
		case len(found) > 1:
			p.blocked = &summary{reason: ReasonAmbiguousAdoption, stalled: true, message: fmt.Sprintf(
				"%d Conditional Access policies are named %q; rename or delete all but one, or set adoption: CreateOnly", len(found), want.DisplayName)}
			return nil
		case len(found) == 1:
			owner, err := r.managedBy(ctx, pol, found[0].ID)
			if err != nil {
				return err
			}
			if owner != "" {
				p.blocked = &summary{reason: ReasonAlreadyManaged, stalled: true, message: fmt.Sprintf(
					"the Conditional Access policy %q (%s) is already managed by DeviceRiskPolicy %s", want.DisplayName, found[0].ID, owner)}
				return nil
			}
			pol.Status.ConditionalAccessPolicyID = found[0].ID
			if pending {
				p.settled = append(p.settled, key)
			} else {
				emit(r.Recorder, pol, corev1.EventTypeNormal, "Adopted", "Adopt", "adopted the existing Conditional Access policy "+found[0].ID)
			}
			return r.correctCA(ctx, p, want, found[0])
		}
	}
	if pol.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly {
		p.drift = append(p.drift, fmt.Sprintf("no Conditional Access policy named %q exists", want.DisplayName))
		return nil
	}
	if err := setAnnotation(ctx, r.Client, pol, key, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	created, err := ic.CreateConditionalAccessPolicy(ctx, want)
	if err != nil {
		return err
	}
	pol.Status.ConditionalAccessPolicyID = created.ID
	p.settled = append(p.settled, key)
	emit(r.Recorder, pol, corev1.EventTypeNormal, "Created", "Create", fmt.Sprintf("created the Conditional Access policy %s (%s)", created.ID, want.State))
	return nil
}

func (r *DeviceRiskPolicyReconciler) correctCA(ctx context.Context, p *policyPass, want, live intune.ConditionalAccessPolicy) error {
	diffs := caDiffs(want, live)
	if len(diffs) == 0 {
		return nil
	}
	if p.pol.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly {
		p.drift = append(p.drift, "Conditional Access policy "+live.ID+": "+strings.Join(diffs, ", "))
		return nil
	}
	if err := p.clients.Intune.UpdateConditionalAccessPolicy(ctx, live.ID, want); err != nil {
		return err
	}
	emit(r.Recorder, p.pol, corev1.EventTypeNormal, ReasonUpdated, "Update", "corrected the Conditional Access policy "+live.ID+": "+strings.Join(diffs, ", "))
	return nil
}

func (r *DeviceRiskPolicyReconciler) deleteCA(ctx context.Context, p *policyPass) error {
	pol := p.pol
	id := pol.Status.ConditionalAccessPolicyID
	if id == "" || pol.Spec.DeletionPolicy != v1.DeletionPolicyDelete || pol.Spec.ManagementPolicy != v1.ManagementPolicyManage {
		return nil
	}
	if err := p.clients.Intune.DeleteConditionalAccessPolicy(ctx, id); err != nil && !outbound.IsNotFound(err) {
		return err
	}
	emit(r.Recorder, pol, corev1.EventTypeNormal, "Deleted", "Delete", "deleted the Conditional Access policy "+id)
	return nil
}
