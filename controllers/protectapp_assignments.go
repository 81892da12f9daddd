package controllers

import (
	"context"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

// appPlatforms are the DeviceRiskPolicy platforms whose devices get each Protect app:
// the Managed Google Play app reaches every Android Enterprise mode; device
// administrator phones cannot get it.
var appPlatforms = map[v1.Platform][]v1.Platform{
	v1.PlatformIOS:               {v1.PlatformIOS},
	v1.PlatformAndroidEnterprise: {v1.PlatformAndroidEnterprise, v1.PlatformAndroidWorkProfile},
}

// appAssignments is who must have the platform's Protect app: spec.protectApp.assignments
// when set, else what the connector's DeviceRiskPolicies covering the platform include
// (union), minus the groups every one of them excludes (a group one policy excludes
// but another includes still gets the app: it is protected by that other policy).
func appAssignments(spec *v1.ProtectAppSpec, policies []v1.DeviceRiskPolicy, platform v1.Platform) []intune.AppAssignment {
	if spec.Assignments != nil {
		return required(desiredAssignments(*spec.Assignments))
	}
	var merged v1.Assignments
	var excludedByAll map[string]bool
	for _, pol := range policies {
		if !coversAny(pol.Spec.Platforms, appPlatforms[platform]) || !pol.DeletionTimestamp.IsZero() {
			continue
		}
		a := pol.Spec.Assignments
		merged.AllUsers = merged.AllUsers || a.AllUsers
		merged.AllDevices = merged.AllDevices || a.AllDevices
		merged.IncludeGroupIDs = append(merged.IncludeGroupIDs, a.IncludeGroupIDs...)
		mine := map[string]bool{}
		for _, g := range a.ExcludeGroupIDs {
			mine[strings.ToLower(string(g))] = true
		}
		if excludedByAll == nil {
			excludedByAll = mine
			continue
		}
		for g := range excludedByAll {
			if !mine[g] {
				delete(excludedByAll, g)
			}
		}
	}
	included := map[string]bool{}
	for _, g := range merged.IncludeGroupIDs {
		included[strings.ToLower(string(g))] = true
	}
	merged.IncludeGroupIDs = nil
	for _, g := range sortedKeys(included) {
		if !excludedByAll[g] {
			merged.IncludeGroupIDs = append(merged.IncludeGroupIDs, v1.GUID(g))
		}
	}
	for _, g := range sortedKeys(excludedByAll) {
		if !included[g] {
			merged.ExcludeGroupIDs = append(merged.ExcludeGroupIDs, v1.GUID(g))
		}
	}
	return required(desiredAssignments(merged))
}

func coversAny(have, want []v1.Platform) bool {
	for _, p := range want {
		if slices.Contains(have, p) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// required makes each target an assignment of intent required (an exclusion keeps the
// intent too: Intune asks for one on every app assignment).
func required(targets []intune.AssignmentTarget) []intune.AppAssignment {
	out := make([]intune.AppAssignment, len(targets))
	for i, t := range targets {
		out[i] = intune.AppAssignment{Intent: intune.AppRequired, Target: t}
	}
	return out
}

func targetsOf(as []intune.AppAssignment) []intune.AssignmentTarget {
	out := make([]intune.AssignmentTarget, len(as))
	for i, a := range as {
		out[i] = a.Target
	}
	return out
}

// sameAppAssignments compares assignment sets regardless of order and of settings.
func sameAppAssignments(a, b []intune.AppAssignment) bool {
	return sameSet(a, b, func(x intune.AppAssignment) string { return string(x.Intent) + "|" + targetKey(x.Target) })
}

// connectorPolicies lists the DeviceRiskPolicies that use the connector.
func connectorPolicies(ctx context.Context, c client.Client, conn *v1.MTDConnector) ([]v1.DeviceRiskPolicy, error) {
	var list v1.DeviceRiskPolicyList
	err := c.List(ctx, &list, client.InNamespace(conn.Namespace), client.MatchingFields{indexConnectorRef: conn.Name})
	return list.Items, err
}
