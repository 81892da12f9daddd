package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// pendingCreatePrefix marks an object create that was started but whose id may not have
// reached the status (a crash between the two): the next pass looks for the object
// before creating it again, so a crash never leaves a duplicate.
const pendingCreatePrefix = "mtd.operator.dev/create-pending-"

func pendingKey(what string) string { return pendingCreatePrefix + strings.ToLower(what) }

// syncCompliancePolicies realises one compliance policy per declared platform and
// removes (or orphans) the policies of platforms no longer declared.
func (r *DeviceRiskPolicyReconciler) syncCompliancePolicies(ctx context.Context, p *policyPass) error {
	pol := p.pol
	for _, platform := range pol.Spec.Platforms {
		if err := r.syncPlatform(ctx, p, platform); err != nil {
			return err
		}
	}
	kept := pol.Status.Platforms[:0]
	for _, st := range pol.Status.Platforms {
		if slices.Contains(pol.Spec.Platforms, st.Platform) {
			kept = append(kept, st)
			continue
		}
		if err := r.deleteCompliancePolicy(ctx, p, st); err != nil {
			return err
		}
	}
	pol.Status.Platforms = kept
	return nil
}

// platformStatus returns the status entry of a platform, adding it when missing.
func platformStatus(pol *v1.DeviceRiskPolicy, platform v1.Platform) *v1.PlatformPolicyStatus {
	for i := range pol.Status.Platforms {
		if pol.Status.Platforms[i].Platform == platform {
			return &pol.Status.Platforms[i]
		}
	}
	pol.Status.Platforms = append(pol.Status.Platforms, v1.PlatformPolicyStatus{Platform: platform})
	return &pol.Status.Platforms[len(pol.Status.Platforms)-1]
}

func (r *DeviceRiskPolicyReconciler) syncPlatform(ctx context.Context, p *policyPass, platform v1.Platform) error {
	ic := p.clients.Intune
	want := desiredCompliancePolicy(p.pol, platform)
	live, fresh, err := r.ensureCompliancePolicy(ctx, p, platform, want)
	if err != nil || live == nil {
		return err
	}
	st := platformStatus(p.pol, platform)
	st.Version = live.Version
	if !fresh {
		if err := r.correctCompliancePolicy(ctx, p, platform, want, *live); err != nil {
			return err
		}
	}
	overview, err := ic.GetCompliancePolicyDeviceOverview(ctx, live.ID)
	if err != nil {
		return err
	}
	st = platformStatus(p.pol, platform)
	st.CompliantDevices, st.NonCompliantDevices = overview.Success, overview.Failed
	return nil
}

// ensureCompliancePolicy follows the known id, else adopts by exact type and display
// name, else creates. fresh is true for a policy created in this pass (already as
// wanted). A nil policy with a nil error means the pass cannot go on for this platform
// (ObserveOnly with nothing to observe, or a refusal recorded in p.blocked).
func (r *DeviceRiskPolicyReconciler) ensureCompliancePolicy(ctx context.Context, p *policyPass, platform v1.Platform, want intune.CompliancePolicy) (*intune.CompliancePolicy, bool, error) {
	ic, pol := p.clients.Intune, p.pol
	st := platformStatus(pol, platform)
	if st.PolicyID != "" {
		live, err := ic.GetCompliancePolicy(ctx, st.PolicyID)
		if err == nil {
			return live, false, nil
		}
		if !outbound.IsNotFound(err) {
			return nil, false, err
		}
		emit(r.Recorder, pol, corev1.EventTypeWarning, "PolicyMissing", "Observe",
			fmt.Sprintf("the %s compliance policy %s was deleted outside the operator", platform, st.PolicyID))
		*st = v1.PlatformPolicyStatus{Platform: platform}
	}
	key := pendingKey(string(platform))
	_, pending := pol.Annotations[key]
	if pending || pol.Spec.Adoption == v1.AdoptionAdoptOrCreate {
		found, err := r.candidates(ctx, p, want)
		if err != nil {
			return nil, false, err
		}
		if len(found) > 0 {
			return r.adoptCompliancePolicy(ctx, p, platform, found, pending)
		}
	}
	if pol.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly {
		p.drift = append(p.drift, fmt.Sprintf("no %s compliance policy named %q exists", platform, want.DisplayName))
		return nil, false, nil
	}
	if err := setAnnotation(ctx, r.Client, pol, key, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return nil, false, err
	}
	created, err := ic.CreateCompliancePolicy(ctx, want)
	if err != nil {
		return nil, false, err
	}
	st = platformStatus(pol, platform)
	st.PolicyID, st.Version, st.Adopted = created.ID, created.Version, false
	p.settled = append(p.settled, key)
	emit(r.Recorder, pol, corev1.EventTypeNormal, "Created", "Create", fmt.Sprintf("created %s compliance policy %s", platform, created.ID))
	// Creation carries the actions; assignments take their own call.
	if len(want.Assignments) > 0 {
		if err := ic.AssignCompliancePolicy(ctx, created.ID, want.Assignments); err != nil {
			return nil, false, err
		}
	}
	created.Assignments = want.Assignments
	return created, true, nil
}

// candidates lists (once per pass) the policies of want's type and exact display name.
func (r *DeviceRiskPolicyReconciler) candidates(ctx context.Context, p *policyPass, want intune.CompliancePolicy) ([]intune.CompliancePolicy, error) {
	if p.listed == nil {
		all, err := p.clients.Intune.ListCompliancePolicies(ctx)
		if err != nil {
			return nil, err
		}
		p.listed = all
	}
	var out []intune.CompliancePolicy
	for _, c := range p.listed {
		if c.Type == want.Type && c.DisplayName == want.DisplayName {
			out = append(out, c)
		}
	}
	return out, nil
}

func (r *DeviceRiskPolicyReconciler) adoptCompliancePolicy(ctx context.Context, p *policyPass, platform v1.Platform, found []intune.CompliancePolicy, pending bool) (*intune.CompliancePolicy, bool, error) {
	pol := p.pol
	if len(found) > 1 {
		ids := make([]string, 0, len(found))
		for _, f := range found {
			ids = append(ids, f.ID)
		}
		p.blocked = &summary{reason: ReasonAmbiguousAdoption, stalled: true, message: fmt.Sprintf(
			"%d %s compliance policies are named %q (%s); rename or delete all but one, or set adoption: CreateOnly",
			len(found), platform, found[0].DisplayName, strings.Join(ids, ", "))}
		return nil, false, nil
	}
	if owner, err := r.managedBy(ctx, pol, found[0].ID); err != nil || owner != "" {
		if owner != "" {
			p.blocked = &summary{reason: ReasonAlreadyManaged, stalled: true, message: fmt.Sprintf(
				"the %s compliance policy %q (%s) is already managed by DeviceRiskPolicy %s", platform, found[0].DisplayName, found[0].ID, owner)}
		}
		return nil, false, err
	}
	st := platformStatus(pol, platform)
	st.PolicyID, st.Version, st.Adopted = found[0].ID, found[0].Version, !pending
	if pending {
		p.settled = append(p.settled, pendingKey(string(platform)))
		emit(r.Recorder, pol, corev1.EventTypeNormal, "Recovered", "Create", fmt.Sprintf("found the %s compliance policy %s created before an interruption; not creating it again", platform, found[0].ID))
	} else {
		emit(r.Recorder, pol, corev1.EventTypeNormal, "Adopted", "Adopt", fmt.Sprintf("adopted the existing %s compliance policy %s", platform, found[0].ID))
	}
	return &found[0], false, nil
}

// managedBy names another DeviceRiskPolicy (any namespace) that records id, or "".
func (r *DeviceRiskPolicyReconciler) managedBy(ctx context.Context, self *v1.DeviceRiskPolicy, id string) (string, error) {
	var list v1.DeviceRiskPolicyList
	if err := r.List(ctx, &list, client.MatchingFields{indexManagedIDs: strings.ToLower(id)}); err != nil {
		return "", err
	}
	for _, other := range list.Items {
		if other.UID != self.UID {
			return other.Namespace + "/" + other.Name, nil
		}
	}
	return "", nil
}

// correctCompliancePolicy puts right only what differs, each with its own call:
// properties by PATCH, actions by scheduleActionsForRules, assignments by assign.
func (r *DeviceRiskPolicyReconciler) correctCompliancePolicy(ctx context.Context, p *policyPass, platform v1.Platform, want, live intune.CompliancePolicy) error {
	ic, pol := p.clients.Intune, p.pol
	patch, props := propertiesPatch(want, live)
	actionsDiffer := !sameActions(want.Actions, live.Actions)
	assignDiffer := !sameAssignments(want.Assignments, live.Assignments)
	diffs := slices.Clone(props)
	if actionsDiffer {
		diffs = append(diffs, "actions")
	}
	if assignDiffer {
		diffs = append(diffs, "assignments")
	}
	if len(diffs) == 0 {
		return nil
	}
	if pol.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly {
		p.drift = append(p.drift, fmt.Sprintf("%s policy %s: %s", platform, live.ID, strings.Join(diffs, ", ")))
		return nil
	}
	if len(props) > 0 {
		if err := ic.PatchCompliancePolicy(ctx, live.ID, live.Type, patch); err != nil {
			return err
		}
	}
	if actionsDiffer {
		if err := ic.ScheduleComplianceActions(ctx, live.ID, want.Actions); err != nil {
			return err
		}
	}
	if assignDiffer {
		if err := ic.AssignCompliancePolicy(ctx, live.ID, want.Assignments); err != nil {
			return err
		}
	}
	emit(r.Recorder, pol, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("corrected the %s compliance policy %s: %s", platform, live.ID, strings.Join(diffs, ", ")))
	return nil
}

// deleteCompliancePolicy removes (or, per policy, orphans) a platform's policy.
func (r *DeviceRiskPolicyReconciler) deleteCompliancePolicy(ctx context.Context, p *policyPass, st v1.PlatformPolicyStatus) error {
	pol := p.pol
	if st.PolicyID == "" || pol.Spec.DeletionPolicy != v1.DeletionPolicyDelete || pol.Spec.ManagementPolicy != v1.ManagementPolicyManage {
		return nil
	}
	if err := p.clients.Intune.DeleteCompliancePolicy(ctx, st.PolicyID); err != nil && !outbound.IsNotFound(err) {
		return err
	}
	emit(r.Recorder, pol, corev1.EventTypeNormal, "Deleted", "Delete", fmt.Sprintf("deleted the %s compliance policy %s", st.Platform, st.PolicyID))
	return nil
}
