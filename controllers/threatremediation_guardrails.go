package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// destructive actions remove company data or the whole device.
func destructive(a v1.StepAction) bool { return a == v1.StepRetire || a == v1.StepWipe }

// capped actions count against the connector's maxDestructiveActionsPerHour: the
// destructive ones, remoteLock, and ignoreAlert, which lowers the device's risk and so
// lifts its Conditional Access block.
func capped(a v1.StepAction) bool {
	return destructive(a) || a == v1.StepRemoteLock || a == v1.StepIgnoreAlert
}

// guardedAction: such actions never touch a device whose user or device is in one of the
// connector's protectedGroupIDs: locking a break-glass phone is as bad as wiping it.
func guardedAction(a v1.StepAction) bool { return a == v1.StepRemoteLock || destructive(a) }

// capWindow is the rolling window of maxDestructiveActionsPerHour.
const capWindow = time.Hour

// overCap counts the connector's capped steps started in the last hour, across
// all its ThreatRemediations as the API server holds them (not the cache, which may
// not yet show a step another worker just started). An attempt counts whatever its
// outcome: a Running or Failed wipe may well have happened. Over the cap, it says why
// and sets the pass to come back when the oldest counted step leaves the window.
func (r *ThreatRemediationReconciler) overCap(ctx context.Context, p *remediationPass) (*summary, error) {
	limit := p.conn.MaxDestructiveActionsPerHour()
	if ceiling := r.MaxDestructiveActionsPerHour; ceiling > 0 && int32(ceiling) < limit {
		limit = int32(ceiling)
	}
	if limit == 0 {
		return &summary{reason: ReasonDestructiveCap, reconciling: true,
			message: "the connector's spec.guardrails.maxDestructiveActionsPerHour is 0: retire, wipe, remoteLock and ignoreAlert are forbidden"}, nil
	}
	var list v1.ThreatRemediationList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(p.tr.Namespace)); err != nil {
		return nil, err
	}
	since := p.now.Add(-capWindow)
	var starts []time.Time
	for _, tr := range list.Items {
		if string(tr.Spec.ConnectorRef.Name) != p.conn.Name {
			continue
		}
		for _, rec := range tr.Status.Steps {
			attempted := rec.State == v1.StepRunning || rec.State == v1.StepSucceeded || rec.State == v1.StepFailed
			if capped(rec.Action) && attempted && rec.StartedAt != nil && rec.StartedAt.After(since) {
				starts = append(starts, rec.StartedAt.Time)
			}
		}
	}
	if int32(len(starts)) < limit {
		return nil, nil
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	free := starts[len(starts)-int(limit)].Add(capWindow)
	capHolds.WithLabelValues(p.conn.Namespace, p.conn.Name).Inc()
	p.wakeAt(free)
	return &summary{reason: ReasonDestructiveCap, reconciling: true, message: fmt.Sprintf(
		"the connector's cap of %d retire, wipe, remoteLock and ignoreAlert actions per hour is reached (%d in the last hour); the next is possible at %s",
		limit, len(starts), free.UTC().Format(time.RFC3339))}, nil
}

// protectedGroup returns the first of the connector's protected groups holding the
// device's user or the device, or "". Graph is read only when a protected step is due
// and the connector names protected groups: the user's groups, then, unless those
// already decide, the device's.
func (r *ThreatRemediationReconciler) protectedGroup(ctx context.Context, p *remediationPass) (string, error) {
	guarded := p.conn.Spec.Guardrails.ProtectedGroupIDs
	if len(guarded) == 0 || p.device == nil {
		return "", nil
	}
	for _, obj := range []struct {
		kind intune.DirectoryObjectKind
		id   string
	}{{intune.DirectoryUser, p.device.UserID}, {intune.DirectoryDevice, p.device.AzureADDeviceID}} {
		if obj.id == "" {
			continue
		}
		groups, err := p.clients.Intune.MemberOf(ctx, obj.kind, obj.id)
		if outbound.IsNotFound(err) {
			continue // no such directory object: it is in no group
		}
		if err != nil {
			return "", err // unknown membership: wait rather than risk a protected device
		}
		for _, g := range guarded {
			if slices.ContainsFunc(groups, func(id string) bool { return strings.EqualFold(id, string(g)) }) {
				return string(g), nil
			}
		}
	}
	return "", nil
}
