package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

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
	return entryFor(&pol.Status.Platforms, func(s *v1.PlatformPolicyStatus) bool { return s.Platform == platform },
		v1.PlatformPolicyStatus{Platform: platform})
}

func (r *DeviceRiskPolicyReconciler) syncPlatform(ctx context.Context, p *policyPass, platform v1.Platform) error {
	ic := p.clients.Intune
	want := desiredCompliancePolicy(p.pol, platform)
	what := string(platform) + " compliance policy"
	live, _, err := climb(ctx, r.Client, r.Recorder, p, ladder[intune.CompliancePolicy]{
		what: what, plural: string(platform) + " compliance policies", pending: string(platform), name: want.DisplayName,
		id:   platformStatus(p.pol, platform).PolicyID,
		idOf: func(c *intune.CompliancePolicy) string { return c.ID },
		record: func(c *intune.CompliancePolicy, adopted bool) {
			st := platformStatus(p.pol, platform)
			st.PolicyID, st.Version, st.Adopted = c.ID, c.Version, adopted
		},
		forget: func() { *platformStatus(p.pol, platform) = v1.PlatformPolicyStatus{Platform: platform} },
		get:    ic.GetCompliancePolicy,
		candidates: func(ctx context.Context) ([]intune.CompliancePolicy, error) {
			all, err := listOnce(ctx, &p.listed, ic.ListCompliancePolicies)
			return slices.DeleteFunc(slices.Clone(all), func(c intune.CompliancePolicy) bool {
				return c.Type != want.Type || c.DisplayName != want.DisplayName
			}), err
		},
		create: func(ctx context.Context) (*intune.CompliancePolicy, error) {
			created, err := ic.CreateCompliancePolicy(ctx, want)
			if err != nil {
				return nil, err
			}
			// Creation carries the actions; assignments take their own call. A failed
			// assign still records the id: the next pass corrects, not creates again.
			created.Assignments = want.Assignments
			if len(want.Assignments) > 0 {
				if err := ic.AssignCompliancePolicy(ctx, created.ID, want.Assignments); err != nil {
					return created, err
				}
			}
			return created, nil
		},
		correct: func(ctx context.Context, live intune.CompliancePolicy) error {
			return r.correctCompliancePolicy(ctx, p, what, want, live)
		},
	})
	if err != nil || live == nil {
		return err
	}
	platformStatus(p.pol, platform).Version = live.Version
	overview, err := ic.GetCompliancePolicyDeviceOverview(ctx, live.ID)
	if err != nil {
		return err
	}
	st := platformStatus(p.pol, platform)
	st.CompliantDevices, st.NonCompliantDevices = overview.Success, overview.Failed
	return nil
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
func (r *DeviceRiskPolicyReconciler) correctCompliancePolicy(ctx context.Context, p *policyPass, what string, want, live intune.CompliancePolicy) error {
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
	if !p.mayWrite(fmt.Sprintf("%s %s: %s", what, live.ID, strings.Join(diffs, ", "))) {
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
	emit(r.Recorder, pol, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("corrected the %s %s: %s", what, live.ID, strings.Join(diffs, ", ")))
	return nil
}

// deleteCompliancePolicy removes (or, per policy, orphans) a platform's policy.
func (r *DeviceRiskPolicyReconciler) deleteCompliancePolicy(ctx context.Context, p *policyPass, st v1.PlatformPolicyStatus) error {
	return release(ctx, r.Recorder, p.pol, string(st.Platform)+" compliance policy", st.PolicyID, p.clients.Intune.DeleteCompliancePolicy)
}
