package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// The approval attacks of the trust-boundaries issue, performed by real identities
// (kubectl --as) against a real API server with the chart installed by helm: its RBAC
// roles for people and its admission policies. No operator runs here; where the
// operator would write (publishing the plan's hash, clearing an approval), the test
// writes as the chart's ServiceAccount. test/e2e runs a wipe through the real operator
// after such an approval.

const (
	team       = "team-a"
	operatorSA = "system:serviceaccount:" + namespace + ":" + fullname
	// alice requests, bob approves, carol holds both roles, mallory is nobody.
	alice, bob, carol, mallory = "alice@contoso.example", "bob@contoso.example", "carol@contoso.example", "mallory@contoso.example"
)

type cluster struct {
	t    *testing.T
	env  *testenv.Env
	kcfg string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	env, err := testenv.StartBare()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kc, err := env.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, env: env, kcfg: path}
}

// helm runs helm against the cluster.
func (c *cluster) helm(args ...string) {
	c.t.Helper()
	if _, err := run(c.t, tool(c.t, "helm"), append(args, "--kubeconfig", c.kcfg)...); err != nil {
		c.t.Fatal(err)
	}
}

// kubectl runs kubectl as user ("" for the cluster admin) and returns stdout, or the
// error with stderr.
func (c *cluster) kubectl(user string, args ...string) (string, error) {
	c.t.Helper()
	if user != "" {
		args = append([]string{"--as=" + user}, args...)
	}
	out, stderr, err := c.env.Kubectl(args...)
	if err != nil {
		return out, &kubectlError{err: err, stderr: stderr}
	}
	return out, nil
}

type kubectlError struct {
	err    error
	stderr string
}

func (e *kubectlError) Error() string { return e.err.Error() + ": " + e.stderr }

func (c *cluster) must(user string, args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(user, args...)
	if err != nil {
		c.t.Fatalf("kubectl %s as %q: %v", strings.Join(args, " "), user, err)
	}
	return out
}

// refused runs kubectl as user and fails the test unless the API server refuses it
// with a message containing want.
func (c *cluster) refused(user, want string, args ...string) {
	c.t.Helper()
	_, err := c.kubectl(user, args...)
	if err == nil {
		c.t.Fatalf("kubectl %s as %q was accepted; want a refusal containing %q", strings.Join(args, " "), user, want)
	}
	if !strings.Contains(err.Error(), want) {
		c.t.Fatalf("kubectl %s as %q: %v\nwant a refusal containing %q", strings.Join(args, " "), user, err, want)
	}
}

func (c *cluster) apply(user, manifest string) error {
	c.t.Helper()
	f := filepath.Join(c.t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		c.t.Fatal(err)
	}
	_, err := c.kubectl(user, "apply", "-f", f)
	return err
}

func (c *cluster) remediation(name string) v1.ThreatRemediation {
	c.t.Helper()
	var tr v1.ThreatRemediation
	if err := json.Unmarshal([]byte(c.must("", "get", "threatremediation", name, "-n", team, "-o", "json")), &tr); err != nil {
		c.t.Fatal(err)
	}
	return tr
}

// status patches the status subresource as user.
func (c *cluster) status(user, name, patch string) error {
	c.t.Helper()
	_, err := c.kubectl(user, "patch", "threatremediation", name, "-n", team, "--subresource=status", "--type=merge", "-p", patch)
	return err
}

// publish writes the plan's hash as the operator does before any step runs.
func (c *cluster) publish(name, hash string) {
	c.t.Helper()
	if err := c.status(operatorSA, name, `{"status":{"planHash":"`+hash+`","phase":"Pending"}}`); err != nil {
		c.t.Fatalf("the operator publishing the plan: %v", err)
	}
}

func approval(decision, plan string, extra ...string) string {
	return `{"status":{"approval":{"decision":"` + decision + `","planHash":"` + plan + `"` + strings.Join(extra, "") + `}}}`
}

const wipePlan = `apiVersion: mtd.operator.dev/v1alpha1
kind: ThreatRemediation
metadata:
  name: NAME
  namespace: team-a
  annotations:
    mtd.operator.dev/requested-by: ` + mallory + `
spec:
  connectorRef: {name: blackberry}
  device: {intuneDeviceID: 0f6e2b3c-9d41-4a7e-8c52-1b3a4d5e6f70}
  steps:
    - action: notify
    - action: wipe
`

func plan(name string) string { return strings.Replace(wipePlan, "NAME", name, 1) }

func installWithPeople(t *testing.T, extra ...string) *cluster {
	c := startCluster(t)
	c.helm(append([]string{"install", release, chartDir(), "--namespace", namespace, "--create-namespace", "--wait=false"}, extra...)...)
	testkit.Eventually(t, 30*time.Second, "the CRDs served", func() (bool, string) {
		_, err := c.kubectl("", "get", "threatremediations", "-A")
		return err == nil, errText(err)
	})
	c.must("", "create", "namespace", team)
	c.must("", "create", "rolebinding", "requesters", "-n", team, "--clusterrole="+fullname+"-editor", "--user="+alice, "--user="+carol)
	c.must("", "create", "rolebinding", "approvers", "-n", team, "--clusterrole="+fullname+"-approver", "--user="+bob, "--user="+carol)
	return c
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestApprovalIsASeparateDutyUnderTheChartsPolicies(t *testing.T) {
	c := installWithPeople(t)
	for _, k := range []string{"validatingadmissionpolicy/" + fullname + "-approvals", "mutatingadmissionpolicy/" + fullname + "-requester", "mutatingadmissionpolicy/" + fullname + "-approver"} {
		c.must("", "get", k)
	}
	// Admission policies are picked up asynchronously: wait until the requester is recorded.
	testkit.Eventually(t, 30*time.Second, "the policies enforced", func() (bool, string) {
		_, _ = c.kubectl("", "delete", "threatremediation", "probe", "-n", team, "--ignore-not-found")
		if err := c.apply(alice, plan("probe")); err != nil {
			return false, err.Error()
		}
		got := c.remediation("probe").Annotations[v1.AnnotationRequestedBy]
		return got == alice, "requested-by = " + got
	})

	// Alice writes a wipe. She named mallory as requester; admission records alice.
	if err := c.apply(alice, plan("lost-phone")); err != nil {
		t.Fatal(err)
	}
	if got := c.remediation("lost-phone").Annotations[v1.AnnotationRequestedBy]; got != alice {
		t.Fatalf("requested-by = %q, want the plan's writer %q", got, alice)
	}
	c.publish("lost-phone", "plan-1")

	t.Run("the requester cannot approve: her role does not reach the status", func(t *testing.T) {
		c.refused(alice, "forbidden", "patch", "threatremediation", "lost-phone", "-n", team, "--subresource=status", "--type=merge", "-p", approval("Approved", "plan-1"))
	})
	t.Run("the requester cannot hand the request to someone else", func(t *testing.T) {
		c.must(alice, "annotate", "--overwrite", "threatremediation", "lost-phone", "-n", team, v1.AnnotationRequestedBy+"="+bob)
		if got := c.remediation("lost-phone").Annotations[v1.AnnotationRequestedBy]; got != alice {
			t.Fatalf("requested-by = %q after a metadata edit, want it kept as %q", got, alice)
		}
	})
	t.Run("someone who is nobody's approver cannot approve", func(t *testing.T) {
		c.refused(mallory, "forbidden", "patch", "threatremediation", "lost-phone", "-n", team, "--subresource=status", "--type=merge", "-p", approval("Approved", "plan-1"))
	})
	t.Run("an approver cannot approve another plan than the one published", func(t *testing.T) {
		if err := c.status(bob, "lost-phone", approval("Approved", "plan-0")); err == nil || !strings.Contains(err.Error(), "status.approval.planHash must be the plan as it stands, plan-1") {
			t.Fatalf("approval of a stale plan: %v", err)
		}
	})
	t.Run("an approver cannot rewrite the audit trail", func(t *testing.T) {
		patch := `{"status":{"planHash":"plan-9","approval":{"decision":"Approved","planHash":"plan-9"}}}`
		if err := c.status(bob, "lost-phone", patch); err == nil || !strings.Contains(err.Error(), "only the operator writes a ThreatRemediation's status") {
			t.Fatalf("unfreezing the plan with an approval: %v", err)
		}
		if err := c.status(bob, "lost-phone", `{"status":{"phase":"Resolved"}}`); err == nil || !strings.Contains(err.Error(), "only the operator writes") {
			t.Fatalf("an approver writing the phase: %v", err)
		}
	})
	t.Run("the operator cannot approve", func(t *testing.T) {
		if err := c.status(operatorSA, "lost-phone", approval("Approved", "plan-1", `,"user":"`+bob+`"`)); err == nil || !strings.Contains(err.Error(), "given once and never changed; the operator may only clear") {
			t.Fatalf("the operator approving: %v", err)
		}
	})
	t.Run("someone holding both roles cannot approve the plan they wrote", func(t *testing.T) {
		if err := c.apply(carol, plan("carols-plan")); err != nil {
			t.Fatal(err)
		}
		c.publish("carols-plan", "plan-c")
		if err := c.status(carol, "carols-plan", approval("Approved", "plan-c")); err == nil || !strings.Contains(err.Error(), carol+" wrote this plan and cannot approve it") {
			t.Fatalf("carol approving her own plan: %v", err)
		}
		// Nor by rewriting alice's plan and approving that: the rewrite makes her its requester.
		c.must(carol, "patch", "threatremediation", "lost-phone", "-n", team, "--type=json", "-p", `[{"op":"add","path":"/spec/steps/-","value":{"action":"retire"}}]`)
		if got := c.remediation("lost-phone").Annotations[v1.AnnotationRequestedBy]; got != carol {
			t.Fatalf("requested-by = %q after carol rewrote the plan", got)
		}
		c.publish("lost-phone", "plan-2")
		if err := c.status(carol, "lost-phone", approval("Approved", "plan-2")); err == nil || !strings.Contains(err.Error(), "cannot approve it") {
			t.Fatalf("carol approving the plan she rewrote: %v", err)
		}
	})
	t.Run("another person's approval of the plan as it stands is recorded with who gave it", func(t *testing.T) {
		// bob names someone else as approver; admission records bob.
		if err := c.status(bob, "lost-phone", approval("Approved", "plan-2", `,"user":"`+mallory+`","message":"INC-7"`)); err != nil {
			t.Fatalf("bob's approval: %v", err)
		}
		got := c.remediation("lost-phone").Status.Approval
		want := &v1.Approval{Decision: v1.Approved, PlanHash: "plan-2", User: bob, Message: "INC-7"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("approval = %+v, want %+v", got, want)
		}
	})
	t.Run("an approval is given once", func(t *testing.T) {
		if err := c.status(bob, "lost-phone", approval("Denied", "plan-2")); err == nil || !strings.Contains(err.Error(), "given once and never changed") {
			t.Fatalf("changing a decision: %v", err)
		}
	})
	t.Run("the operator may clear an approval, so that a changed plan is decided again", func(t *testing.T) {
		if err := c.status(operatorSA, "lost-phone", `{"status":{"approval":null}}`); err != nil {
			t.Fatalf("the operator clearing the approval: %v", err)
		}
		if a := c.remediation("lost-phone").Status.Approval; a != nil {
			t.Fatalf("approval = %+v after clearing", a)
		}
	})
}

// TestApprovalWithoutMutatingPolicies: on an API server without
// MutatingAdmissionPolicy (before Kubernetes 1.36), the validating policy alone keeps the
// duties apart: the requester and the approver must name themselves.
func TestApprovalWithoutMutatingPolicies(t *testing.T) {
	c := installWithPeople(t, "--set", "approvals.mutatingPolicy=false")
	if _, err := c.kubectl("", "get", "mutatingadmissionpolicy/"+fullname+"-requester"); err == nil {
		t.Fatal("the mutating policy was installed with approvals.mutatingPolicy=false")
	}
	testkit.Eventually(t, 30*time.Second, "the validating policy enforced", func() (bool, string) {
		err := c.apply(alice, plan("forged"))
		return err != nil && strings.Contains(err.Error(), "must be "+alice), errText(err)
	})
	own := strings.Replace(plan("own-name"), mallory, alice, 1)
	if err := c.apply(alice, own); err != nil {
		t.Fatalf("alice naming herself: %v", err)
	}
	c.publish("own-name", "plan-1")
	if err := c.status(bob, "own-name", approval("Approved", "plan-1")); err == nil || !strings.Contains(err.Error(), "status.approval.user must be the approver, "+bob) {
		t.Fatalf("an approval naming nobody: %v", err)
	}
	if err := c.status(bob, "own-name", approval("Approved", "plan-1", `,"user":"`+bob+`"`)); err != nil {
		t.Fatalf("bob naming himself: %v", err)
	}
}

// TestApprovalPolicyGuardsEveryStatusField: the policy lists the status fields an
// approver may not touch; a field added to the API must be added there too.
func TestApprovalPolicyGuardsEveryStatusField(t *testing.T) {
	policy, err := os.ReadFile(filepath.Join(chartDir(), "templates", "admission-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range jsonFields(reflect.TypeOf(v1.ThreatRemediationStatus{})) {
		if f == "approval" {
			continue
		}
		if want := "object.?status.?" + f + " == oldObject.?status.?" + f; !strings.Contains(string(policy), want) {
			t.Errorf("the approval policy does not keep status.%s for the operator (want %q)", f, want)
		}
	}
}

// jsonFields lists a struct's JSON field names, inlined structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")
		if len(tag) > 1 && tag[1] == "inline" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		out = append(out, tag[0])
	}
	return out
}
