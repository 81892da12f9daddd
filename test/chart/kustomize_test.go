package chart_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// TestKustomizeInstallKeepsApprovalsASeparateDuty: the kustomize install (config/default)
// carries the chart's validating policy and roles for people, under its own names, so
// that approval is a separate duty there too: a plan's writer cannot approve it, another
// approver can, and only the kustomize install's ServiceAccount writes the rest.
func TestKustomizeInstallKeepsApprovalsASeparateDuty(t *testing.T) {
	const (
		prefix   = "mtd-operator-"
		operator = "system:serviceaccount:mtd-operator-system:mtd-operator-controller-manager"
	)
	c := startCluster(t)
	c.must("", "apply", "--server-side", "-k", filepath.Join(repoRoot(), "config", "default"))
	testkit.Eventually(t, 30*time.Second, "the CRDs served", func() (bool, string) {
		_, err := c.kubectl("", "get", "threatremediations", "-A")
		return err == nil, errText(err)
	})
	if got := c.must("", "get", "validatingadmissionpolicybinding", prefix+"approvals", "-o", "jsonpath={.spec.policyName}"); got != prefix+"approvals" {
		t.Fatalf("the binding names policy %q, want %q", got, prefix+"approvals")
	}
	c.must("", "create", "namespace", team)
	c.must("", "create", "rolebinding", "requesters", "-n", team, "--clusterrole="+prefix+"editor", "--user="+alice, "--user="+carol)
	c.must("", "create", "rolebinding", "approvers", "-n", team, "--clusterrole="+prefix+"approver", "--user="+bob, "--user="+carol)

	testkit.Eventually(t, 30*time.Second, "the validating policy enforced", func() (bool, string) {
		err := c.apply(alice, plan("forged"))
		return err != nil && strings.Contains(err.Error(), "must be "+alice), errText(err)
	})
	// carol holds both roles and writes a plan: she cannot approve it.
	if err := c.apply(carol, strings.Replace(plan("carols"), mallory, carol, 1)); err != nil {
		t.Fatalf("carol naming herself: %v", err)
	}
	if err := c.status(operator, "carols", `{"status":{"planHash":"plan-1","phase":"Pending"}}`); err != nil {
		t.Fatalf("the operator publishing the plan: %v", err)
	}
	if err := c.status(carol, "carols", approval("Approved", "plan-1", `,"user":"`+carol+`"`)); err == nil || !strings.Contains(err.Error(), "cannot approve it") {
		t.Fatalf("carol approving her own plan: %v", err)
	}
	if err := c.status(bob, "carols", `{"status":{"phase":"Resolved"}}`); err == nil {
		t.Fatal("an approver rewrote the operator's status")
	}
	if err := c.status(bob, "carols", approval("Approved", "plan-1", `,"user":"`+bob+`"`)); err != nil {
		t.Fatalf("bob approving: %v", err)
	}
	if got := c.remediation("carols").Status.Approval; got == nil || got.User != bob {
		t.Fatalf("approval = %+v, want bob's", got)
	}
}
