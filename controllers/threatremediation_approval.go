package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// Approval separates duties as cert-manager's CertificateRequest approval does: the
// requester writes the plan (spec, and the requested-by annotation that admission sets
// from the request), an approver writes status.approval through the status
// subresource with the approve verb, and the chart's admission policy refuses an
// approver who is the requester, an approval of another plan, and any other status
// change. The checks below repeat what admission decides, so that a cluster without
// the policy still never runs a step on a self-approval: they cost nothing.

// ReasonApprovalDenied: an approver denied the plan; its gated steps are skipped.
const ReasonApprovalDenied = "ApprovalDenied"

// ApprovalGate is what the installation decides about approvals.
type ApprovalGate struct {
	// Exempt lists the actions the installation lets run without an approval: only
	// remoteLock and ignoreAlert may be exempted; retire and wipe never are.
	Exempt map[v1.StepAction]bool
	// Operator is the operator's own Kubernetes username: it never approves.
	Operator string
}

// Exemptible actions may be exempted from approval by the installation.
var Exemptible = []v1.StepAction{v1.StepRemoteLock, v1.StepIgnoreAlert}

// needsApproval says whether step waits for an approval.
func (g ApprovalGate) needsApproval(step v1.RemediationStep) bool {
	switch step.Action {
	case v1.StepRetire, v1.StepWipe:
		return true
	case v1.StepRemoteLock, v1.StepIgnoreAlert:
		return step.RequiresApproval || !g.Exempt[step.Action]
	}
	return step.RequiresApproval
}

// decision is what a pass may do with the plan's gated steps.
type decision struct {
	approval *v1.Approval // the valid decision, or nil: wait
	wait     string       // why there is none
}

// decide reads status.approval. An approval that does not hold (another plan, no
// approver, the requester or the operator as approver) is cleared with a warning, so
// that a valid one can be given: admission lets an approval be given only once.
func (r *ThreatRemediationReconciler) decide(p *remediationPass) decision {
	tr := p.tr
	requester := tr.Annotations[v1.AnnotationRequestedBy]
	a := tr.Status.Approval
	if a != nil {
		if why := r.Approvals.invalid(a, requester, tr.Status.PlanHash); why != "" {
			emit(r.Recorder, tr, corev1.EventTypeWarning, "ApprovalCleared", "Approve",
				fmt.Sprintf("the %s by %q was cleared: %s", a.Decision, a.User, why))
			tr.Status.Approval, a = nil, nil
		}
	}
	if a != nil {
		return decision{approval: a}
	}
	if requester == "" {
		return decision{wait: "no requester is recorded (annotation " + v1.AnnotationRequestedBy +
			", which the chart's admission policy sets), so an approval could not be told from a self-approval; " +
			"install the chart's admission policies, or set it to the username that wrote the plan"}
	}
	return decision{wait: fmt.Sprintf("waits for an approval of plan %s by someone other than its requester %s "+
		"(status.approval, written with the approve verb; see docs/security.md)", tr.Status.PlanHash, requester)}
}

// invalid says why an approval cannot stand, or "".
func (g ApprovalGate) invalid(a *v1.Approval, requester, plan string) string {
	switch {
	case a.PlanHash != plan:
		return fmt.Sprintf("it was given for plan %s and the plan is now %s; decide again", a.PlanHash, plan)
	case a.User == "":
		return "it names no approver"
	case requester == "":
		return "no requester is recorded, so it could be a self-approval"
	case a.User == requester:
		return "the requester cannot approve their own plan"
	case g.Operator != "" && a.User == g.Operator:
		return "the operator cannot approve a plan"
	}
	return ""
}

// approvedBy is the suffix of a step record run under an approval.
func approvedBy(a *v1.Approval) string {
	if a == nil {
		return ""
	}
	s := " (approved by " + a.User
	if a.Message != "" {
		s += ": " + a.Message
	}
	return s + ")"
}
