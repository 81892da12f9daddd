package plugin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

func lower(s string) string { return strings.ToLower(s) }

// table parses a kubectl-style table into rows keyed by column header.
func table(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	// Headers may hold a space ("WITHOUT APP"): columns start where a header starts.
	var starts []int
	var names []string
	for i := 0; i < len(header); {
		if header[i] == ' ' {
			i++
			continue
		}
		j := strings.Index(header[i:], "  ")
		if j < 0 {
			j = len(header) - i
		}
		starts, names = append(starts, i), append(names, header[i:i+j])
		i += j
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			break // the notes after the table
		}
		row := map[string]string{}
		for k, s := range starts {
			end := len(l)
			if k+1 < len(starts) && starts[k+1] < len(l) {
				end = starts[k+1]
			}
			if s < len(l) {
				row[names[k]] = strings.TrimSpace(l[s:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func TestStatusShowsEveryConnectorWithItsHealthAndCounts(t *testing.T) {
	c := fixture(t)
	out := c.ok(t, "status")
	rows := table(t, out)
	if len(rows) != 2 {
		t.Fatalf("want a row for each of the 2 connectors, got %d:\n%s", len(rows), out)
	}
	want := map[string]string{"NAMESPACE": team, "NAME": "blackberry", "READY": "True", "REASON": "Ready", "PARTNER": "enabled",
		"DEVICES": "12", "SECURED": "9", "LOW": "1", "MEDIUM": "1", "HIGH": "1", "THREATS": "4", "SYSLOG": "Listening",
		"WITHOUT APP": "iOS:1/5,AndroidEnterprise:0/7"}
	got := rows[0]
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], v, out)
		}
	}
	if !strings.HasPrefix(got["HEARTBEAT"], "2m") {
		t.Errorf("HEARTBEAT = %q, want the heartbeat's age, about 2m\n%s", got["HEARTBEAT"], out)
	}
	legacy := rows[1]
	for k, v := range map[string]string{"NAMESPACE": otherTeam, "NAME": "legacy", "READY": "False", "REASON": "HeartbeatStale",
		"PARTNER": "unresponsive", "HEARTBEAT": "30h", "DEVICES": "-", "THREATS": "0", "SYSLOG": "-", "WITHOUT APP": "-"} {
		if legacy[k] != v {
			t.Errorf("legacy %s = %q, want %q\n%s", k, legacy[k], v, out)
		}
	}
	if !strings.Contains(out, "team-b/legacy is not Ready (HeartbeatStale): the partner's last heartbeat was 30h ago") {
		t.Errorf("the not-Ready connector's message is missing:\n%s", out)
	}

	t.Run("-n narrows to one namespace", func(t *testing.T) {
		rows := table(t, c.ok(t, "status", "-n", otherTeam))
		if len(rows) != 1 || rows[0]["NAME"] != "legacy" {
			t.Fatalf("status -n %s: %v", otherTeam, rows)
		}
	})
	t.Run("a user who may read one namespace gets the context's, with a note", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		data, err := os.ReadFile(c.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kc, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c.admin(t, "config", "set-context", "--current", "--namespace", team, "--kubeconfig", kc)
		res := c.mtd(t, "status", "--as", dave, "--kubeconfig", kc)
		if res.code != 0 || !strings.Contains(res.stderr, "you may not list in every namespace; showing namespace "+team) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		}
		if rows := table(t, res.stdout); len(rows) != 1 || rows[0]["NAME"] != "blackberry" {
			t.Fatalf("dave's status: %v", rows)
		}
	})
}

func TestWhyExplainsABlockedDevice(t *testing.T) {
	c := fixture(t)
	out := c.ok(t, "why", "carol-iphone")
	headline := strings.SplitN(out, "\n", 2)[0]
	for _, want := range []string{
		"carol-iphone is non-compliant: BlackBerry reports high risk, above policy mobile-threat-level's maxAllowedRisk low (iOS compliance policy " + iosPolicy + ")",
		`Conditional Access policy "` + caName + `" (enabled) blocks Exchange Online, SharePoint Online and 1 company app`,
		"remediation carol-iphone-1 is Blocked: step 2 remoteLock waits for approval (kubectl mtd approve carol-iphone-1 -n team-a)",
	} {
		if !strings.Contains(headline, want) {
			t.Errorf("the answer lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"device:      carol-iphone (iOS, Intune " + carolIntune + ", Entra " + carolEntra + ", user " + carol + ")",
		"threat:      maliciousApplication \"com.flashlight.free (Trojan)\" high, detected 10m",
		"(UESSyslog, alert a-1001)",
		"Conditional Access \"" + caName + "\" (enabled, id " + caPolicy + ") requires a compliant device",
		"protect app: installed",
		"steps:       0 notify Succeeded, 1 syncDevice Succeeded, 2 remoteLock AwaitingApproval, 3 retire Pending",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the details lack %q:\n%s", want, out)
		}
	}
	// Only the policies of the device's platform explain it.
	if strings.Contains(out, "android-strict") {
		t.Errorf("an Android-only policy explains an iPhone:\n%s", out)
	}

	t.Run("by Intune or Entra device id, in any case", func(t *testing.T) {
		for _, id := range []string{carolIntune, lower(carolIntune), strings.ToUpper(carolEntra)} {
			if got := strings.SplitN(c.ok(t, "why", id), "\n", 2)[0]; got != headline {
				t.Errorf("why %s:\n%s\nwant\n%s", id, got, headline)
			}
		}
	})
	t.Run("a threat syslog reported before the partner's report reached Intune", func(t *testing.T) {
		out := c.ok(t, "why", "gina-iphone")
		want := regexp.MustCompile(`^gina-iphone is non-compliant: UESSyslog reported a high-risk threat \d+s ago, which has not reached Intune yet \(the partner reports to Intune periodically\); ` +
			regexp.QuoteMeta("Intune blocks a device without partner data (*DeviceBlockedOnMissingPartnerData of the connector); "+
				`Conditional Access policy "`+caName+`" (enabled) blocks Exchange Online, SharePoint Online and 1 company app; `+
				"remediation gina-iphone-1 is Pending: next, step 1 syncDevice in ") + `\d+s\n`)
		if !want.MatchString(out) || !regexp.MustCompile(`intune: +partner risk -, compliance noncompliant \(the connector's device snapshot of \d+s ago\)`).MatchString(out) {
			t.Errorf("gina's answer:\n%s\nwant it to match\n%s", out, want)
		}
	})
	t.Run("the strictest policy of the platform decides", func(t *testing.T) {
		out := c.ok(t, "why", "frank-pixel")
		if !strings.Contains(out, "frank-pixel is non-compliant: BlackBerry reports high risk, above policy android-strict's maxAllowedRisk secured (AndroidEnterprise compliance policy") {
			t.Errorf("frank's answer:\n%s", out)
		}
	})
}

func TestWhyAboutADeviceNoRemediationNames(t *testing.T) {
	c := fixture(t)
	out := c.ok(t, "why", "nobody-phone")
	if !regexp.MustCompile(`connector team-a/blackberry: minimumRisk high; 12 devices: 9 secured, 1 low, 1 medium, 1 high \(snapshot \d+s ago\); 4 threats open`).MatchString(out) {
		t.Errorf("the answer lacks the connector's device counts:\n%s", out)
	}
	for _, want := range []string{
		"nobody-phone: no ThreatRemediation in every namespace names this device",
		"most likely compliant",
		"DeviceRiskPolicy mobile-threat-level: AndroidEnterprise, AndroidWorkProfile, iOS non-compliant above low",
		"Intune admin center › Devices › All devices › nobody-phone › Device compliance",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the answer lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "without the Protect app") {
		t.Errorf("nobody-phone is not among the phones without the app:\n%s", out)
	}

	t.Run("a phone the connector lists without the Protect app", func(t *testing.T) {
		out := c.ok(t, "why", "dave-ipad")
		if !strings.Contains(out, "Connector team-a/blackberry lists it among its iOS devices without the Protect app: the partner cannot report on the device") ||
			strings.Contains(out, "most likely compliant") ||
			!strings.Contains(out, "Intune blocks the device until the partner has reported") {
			t.Errorf("dave-ipad:\n%s", out)
		}
	})
	t.Run("a device whose remediation is resolved", func(t *testing.T) {
		out := c.ok(t, "why", "erin-iphone")
		if !regexp.MustCompile(`^erin-iphone has no open remediation: its last, erin-iphone-1, was Resolved 5m\d*s? ago \(in 3m\); then the partner reported secured risk and Intune reported it compliant`).MatchString(out) {
			t.Errorf("erin-iphone:\n%s", out)
		}
	})
}

func TestApproveWritesTheApprovalTheOperatorAndAdmissionAccept(t *testing.T) {
	c := fixture(t)
	lostDevice := "1f6b4d8c-5e7a-4f9b-8c0d-2e3f4a5b6c7d" // hand-made remediations name the Entra id
	if why := c.ok(t, "why", lostDevice); !strings.Contains(why, "remediation lost-phone is Pending: step 1 remoteLock waits for approval by someone other than "+alice+" (kubectl mtd approve lost-phone -n team-a)") {
		t.Errorf("why before the approval:\n%s", why)
	}
	out := c.ok(t, "approve", "lost-phone", "-n", team, "--as", bob, "-m", "INC-7")
	tr := c.remediation(t, "lost-phone")
	want := &v1.Approval{Decision: v1.Approved, PlanHash: lostPlan, User: bob, Message: "INC-7"}
	if !reflect.DeepEqual(tr.Status.Approval, want) {
		t.Fatalf("approval = %+v, want %+v", tr.Status.Approval, want)
	}
	// What the operator checks before a gated step runs (controllers/threatremediation_approval.go).
	if a := tr.Status.Approval; a.PlanHash != tr.Status.PlanHash || a.User == "" || a.User == tr.Annotations[v1.AnnotationRequestedBy] || a.User == operator {
		t.Fatalf("the operator would clear approval %+v (plan %s, requester %s)", a, tr.Status.PlanHash, tr.Annotations[v1.AnnotationRequestedBy])
	}
	if tr.Status.Phase != v1.PhasePending || len(tr.Status.Steps) != 3 || tr.Status.Steps[1].State != v1.StepAwaitingApproval {
		t.Fatalf("the approval changed the operator's audit trail: %+v", tr.Status)
	}
	for _, w := range []string{"Approved threatremediation team-a/lost-phone: plan " + lostPlan + ", by " + bob + ` ("INC-7")`,
		"releases: step 1 remoteLock (awaiting approval); step 2 retire (due in 23h"} {
		if !strings.Contains(out, w) {
			t.Errorf("the output lacks %q:\n%s", w, out)
		}
	}

	if why := c.ok(t, "why", lostDevice); !strings.Contains(why, "remediation lost-phone is Pending: step 1 remoteLock was approved by "+bob+"; the operator runs it at its next pass") {
		t.Errorf("why after the approval:\n%s", why)
	}
	t.Run("a decision is given once", func(t *testing.T) {
		res := c.mtd(t, "deny", "lost-phone", "-n", team, "--as", carol)
		if res.code != 1 || !strings.Contains(res.stderr, "the plan was already approved by "+bob+" for plan "+lostPlan) {
			t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("nothing awaits approval", func(t *testing.T) {
		res := c.mtd(t, "approve", "notify-only", "-n", team, "--as", bob)
		if res.code != 1 || !strings.Contains(res.stderr, "team-a/notify-only: nothing awaits approval: no step still to run needs one (0 notify Succeeded)") {
			t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
		if a := c.remediation(t, "notify-only").Status.Approval; a != nil {
			t.Fatalf("approval written: %+v", a)
		}
	})
	t.Run("someone without the approver role", func(t *testing.T) {
		res := c.mtd(t, "approve", "carol-iphone-1", "-n", team, "--as", mallory)
		if res.code != 1 || !strings.Contains(res.stderr, "forbidden") {
			t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
}

func TestTheRequesterCannotApproveTheirOwnPlan(t *testing.T) {
	c := fixture(t)
	// carol holds both roles: her RBAC allows the write; the admission policy refuses it.
	res := c.mtd(t, "approve", "carols-plan", "-n", team, "--as", carol)
	if res.code != 1 || !strings.Contains(res.stderr, "the API server refused the decision on team-a/carols-plan") ||
		!strings.Contains(res.stderr, carol+" wrote this plan and cannot approve it") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if a := c.remediation(t, "carols-plan").Status.Approval; a != nil {
		t.Fatalf("a self-approval was written: %+v", a)
	}
	// Someone else may.
	c.ok(t, "approve", "carols-plan", "-n", team, "--as", bob)
	if a := c.remediation(t, "carols-plan").Status.Approval; a == nil || a.User != bob || a.PlanHash != carolsPlan {
		t.Fatalf("bob's approval: %+v", a)
	}
}

func TestDenySkipsTheGatedSteps(t *testing.T) {
	c := fixture(t)
	out := c.ok(t, "deny", "frank-pixel-1", "-n", team, "--as", bob, "--message", "false positive, INC-9")
	want := &v1.Approval{Decision: v1.Denied, PlanHash: frankPlan, User: bob, Message: "false positive, INC-9"}
	if got := c.remediation(t, "frank-pixel-1").Status.Approval; !reflect.DeepEqual(got, want) {
		t.Fatalf("approval = %+v, want %+v", got, want)
	}
	if !strings.Contains(out, "Denied threatremediation team-a/frank-pixel-1: plan "+frankPlan) ||
		!strings.Contains(out, "skips: step 2 remoteLock (awaiting approval); step 3 retire (due in 23h") {
		t.Errorf("deny's output:\n%s", out)
	}
	if why := c.ok(t, "why", "frank-pixel"); !strings.Contains(why, "denied by "+bob+` ("false positive, INC-9")`) {
		t.Errorf("why does not show the denial:\n%s", why)
	}
}

// TestThePluginReadsOnlyTheKubernetesAPI: the plugin must not link the Graph client.
func TestThePluginReadsOnlyTheKubernetesAPI(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/kubectl-mtd")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "msgraph") || strings.HasSuffix(dep, "/internal/intune") || strings.HasSuffix(dep, "/internal/ues") ||
			strings.HasSuffix(dep, "mtd-operator/controllers") {
			t.Errorf("cmd/kubectl-mtd depends on %s", dep)
		}
	}
}

// TestTheLabelsAreTheOperators: the plugin repeats the intake's label keys (it cannot
// import the controllers); they must stay equal.
func TestTheLabelsAreTheOperators(t *testing.T) {
	root := testenv.RepoRoot()
	operator := constants(t, filepath.Join(root, "controllers", "threatsync_intake.go"))
	plugin := constants(t, filepath.Join(root, "internal", "mtdctl", "objects.go"))
	for p, o := range map[string]string{"labelConnector": "LabelConnector", "labelDevice": "LabelDevice", "labelIntuneDevice": "LabelIntuneDevice"} {
		if plugin[p] == "" || plugin[p] != operator[o] {
			t.Errorf("the plugin's %s = %q, the operator's %s = %q", p, plugin[p], o, operator[o])
		}
	}
}

// constants reads a Go file's string constants.
func constants(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	return out
}
