package mtdctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// An approval is the approver's own write (docs/security.md#approvals): status.approval
// {decision, planHash, user, message}, through the status subresource, once, for the
// plan the operator published in status.planHash, by someone other than the requester
// (annotation mtd.operator.dev/requested-by). The chart's ValidatingAdmissionPolicy
// refuses anything else, and the operator clears an approval that does not hold
// (controllers/threatremediation_approval.go). The plugin refuses up front what it can
// see is pointless (nothing to decide, a decision already given, no plan published),
// and leaves who may decide to the API server: admission knows the caller as the
// request names them, and its refusal says why.

const (
	decisionApproved = v1.Approved
	decisionDenied   = v1.Denied
)

func (r *runner) decide(ctx context.Context, args []string, decision v1.ApprovalDecision) error {
	s := r.session
	var tr v1.ThreatRemediation
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: args[0]}, &tr); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no ThreatRemediation %s in namespace %s (kubectl get tr -A lists them; -n selects the namespace)", args[0], s.namespace)
		}
		return err
	}
	gated := gatedSteps(&tr)
	if why := undecidable(&tr, gated); why != "" {
		return fmt.Errorf("%s/%s: %s", tr.Namespace, tr.Name, why)
	}
	user, err := whoami(ctx, s.client)
	if err != nil {
		return err
	}
	approval := v1.Approval{Decision: decision, PlanHash: tr.Status.PlanHash, User: user, Message: r.message}
	// The resourceVersion makes the write conditional: a plan that changed since it
	// was read here is not decided on unseen.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": tr.ResourceVersion},
		"status":   map[string]any{"approval": approval},
	})
	if err != nil {
		return err
	}
	if err := s.client.Status().Patch(ctx, &tr, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return refusal(&tr, err)
	}
	r.printDecision(&tr, gated)
	return nil
}

// undecidable says why a decision cannot be given now, or "".
func undecidable(tr *v1.ThreatRemediation, gated []gatedStep) string {
	st := tr.Status
	switch {
	case terminal(st.Phase):
		return fmt.Sprintf("the remediation is %s: nothing awaits a decision", st.Phase)
	case st.Approval != nil:
		return fmt.Sprintf("the plan was already %s by %s for plan %s; a decision is given once (when the plan changes, the operator clears it and asks again)",
			strings.ToLower(string(st.Approval.Decision)), orDash(st.Approval.User), st.Approval.PlanHash)
	case len(gated) == 0:
		return "nothing awaits approval: no step still to run needs one (" + stepSummary(tr) + ")"
	case st.PlanHash == "":
		return "the operator has not published the plan's hash yet (status.planHash): wait until it has reconciled the remediation and decide on the plan it shows"
	case tr.Annotations[v1.AnnotationRequestedBy] == "":
		return "the remediation names no requester (annotation " + v1.AnnotationRequestedBy + ", which the chart's admission policy sets), so no approval of it can be told from a self-approval and the operator would clear one"
	}
	return ""
}

// gatedStep is a step still to run that waits for a decision.
type gatedStep struct {
	index  int
	action v1.StepAction
	state  v1.StepState
}

// gatedSteps are the steps not yet run that need an approval: retire, wipe, remoteLock
// and ignoreAlert, and any step with requiresApproval. An installation may exempt
// remoteLock and ignoreAlert (--approval-exempt-actions), which the plugin cannot see:
// a step the operator records AwaitingApproval is gated in any case.
func gatedSteps(tr *v1.ThreatRemediation) []gatedStep {
	var out []gatedStep
	for i, step := range tr.Spec.Steps {
		state := v1.StepPending
		if rec := record(tr, i); rec != nil {
			state = rec.State
		}
		if state != v1.StepPending && state != v1.StepAwaitingApproval {
			continue // ran, or was skipped
		}
		if state == v1.StepAwaitingApproval || needsApproval(step) {
			out = append(out, gatedStep{index: i, action: step.Action, state: state})
		}
	}
	return out
}

// needsApproval is the operator's rule without the installation's exemptions.
func needsApproval(step v1.RemediationStep) bool {
	switch step.Action {
	case v1.StepRetire, v1.StepWipe, v1.StepRemoteLock, v1.StepIgnoreAlert:
		return true
	}
	return step.RequiresApproval
}

func record(tr *v1.ThreatRemediation, i int) *v1.StepRecord {
	for j := range tr.Status.Steps {
		if tr.Status.Steps[j].Index == int32(i) {
			return &tr.Status.Steps[j]
		}
	}
	return nil
}

// whoami asks the API server who the caller is (a SelfSubjectReview, as `kubectl auth
// whoami` does): the name admission will see, impersonation included.
func whoami(ctx context.Context, c client.Client) (string, error) {
	review := &authnv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("the API server did not say who you are (SelfSubjectReview returned no username)")
	}
	return review.Status.UserInfo.Username, nil
}

// refusal explains a refused write.
func refusal(tr *v1.ThreatRemediation, err error) error {
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s/%s changed while you decided (its plan may have changed): run the command again to decide on the plan as it stands", tr.Namespace, tr.Name)
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
		return fmt.Errorf("the API server refused the decision on %s/%s: %w", tr.Namespace, tr.Name, err)
	}
	return err
}

func (r *runner) printDecision(tr *v1.ThreatRemediation, gated []gatedStep) {
	a := tr.Status.Approval
	if a == nil { // the write succeeded; show what was asked
		fmt.Fprintf(r.out, "%s/%s: decision written\n", tr.Namespace, tr.Name)
		return
	}
	by := a.User
	if a.Message != "" {
		by += fmt.Sprintf(" (%q)", a.Message)
	}
	fmt.Fprintf(r.out, "%s threatremediation %s/%s: plan %s, by %s\n", a.Decision, tr.Namespace, tr.Name, a.PlanHash, by)
	var steps []string
	for _, g := range gated {
		steps = append(steps, r.gatedText(tr, g))
	}
	if a.Decision == v1.Approved {
		fmt.Fprintf(r.out, "  releases: %s\n", strings.Join(steps, "; "))
		fmt.Fprintln(r.out, "  each runs when due, at most once, under the connector's hourly cap and never on its protected groups")
	} else {
		fmt.Fprintf(r.out, "  skips: %s\n", strings.Join(steps, "; "))
		fmt.Fprintln(r.out, "  the rest of the plan goes on; the remediation still resolves when the device is secured again")
	}
	if req := tr.Annotations[v1.AnnotationRequestedBy]; req == a.User {
		fmt.Fprintf(r.out, "  warning: %s is also the plan's requester; the operator will clear this decision (no admission policy refused it: is the chart's approvals.admissionPolicies off?)\n", req)
	}
}

// gatedText is "step 2 remoteLock (awaiting approval)" or "step 3 retire (due in 23h)".
func (r *runner) gatedText(tr *v1.ThreatRemediation, g gatedStep) string {
	s := fmt.Sprintf("step %d %s", g.index, g.action)
	if g.state == v1.StepAwaitingApproval {
		return s + " (awaiting approval)"
	}
	if due, ok := dueAt(tr, g.index); ok && due.After(r.now) {
		return s + " (due in " + human(due.Sub(r.now)) + ")"
	}
	return s + " (due)"
}
