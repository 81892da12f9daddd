package mtdctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// why answers "why is this phone blocked?" from the objects alone: the device's
// ThreatRemediations (what the operator last read of it: risk, compliance, platform,
// Protect app), the DeviceRiskPolicies of its connector that cover its platform (the
// compliance rule and the Conditional Access policy), and the remediation's plan.
func (r *runner) why(ctx context.Context, args []string) error {
	w, err := r.read(ctx, true)
	if err != nil {
		return err
	}
	query := args[0]
	devices := groupDevices(w.threats, query)
	if len(devices) == 0 {
		r.unknown(w, query)
		return nil
	}
	for i, d := range devices {
		if i > 0 {
			fmt.Fprintln(r.out)
		}
		r.explain(w, d)
	}
	return nil
}

// device is one device's remediations, open ones first, newest first.
type device struct {
	namespace, connector string
	ids                  map[string]bool
	threats              []*v1.ThreatRemediation
}

// current is the remediation whose status describes the device best.
func (d *device) current() *v1.ThreatRemediation { return d.threats[0] }

func (d *device) open() []*v1.ThreatRemediation {
	var out []*v1.ThreatRemediation
	for _, tr := range d.threats {
		if !terminal(tr.Status.Phase) {
			out = append(out, tr)
		}
	}
	return out
}

// identities are the ways a remediation names its device, lower case.
func identities(tr *v1.ThreatRemediation) []string {
	var ids []string
	for _, s := range []string{tr.Status.IntuneDeviceID, string(tr.Spec.Device.IntuneDeviceID), string(tr.Spec.Device.EntraDeviceID),
		string(tr.Spec.Device.UESDeviceID), tr.Labels[labelIntuneDevice], tr.Labels[labelDevice]} {
		if s != "" {
			ids = append(ids, strings.ToLower(s))
		}
	}
	return ids
}

func matches(tr *v1.ThreatRemediation, query string) bool {
	if strings.EqualFold(tr.Status.DeviceName, query) {
		return true
	}
	for _, id := range identities(tr) {
		if id == strings.ToLower(query) {
			return true
		}
	}
	return false
}

// groupDevices finds the remediations that name the query and groups them by device:
// two remediations are of one device when they share a connector and an id (a
// hand-made one may name the Entra id only, the intake's the Intune id).
func groupDevices(threats []v1.ThreatRemediation, query string) []*device {
	var out []*device
	for i := range threats {
		tr := &threats[i]
		if !matches(tr, query) {
			continue
		}
		ids := identities(tr)
		d := findDevice(out, tr, ids)
		if d == nil {
			d = &device{namespace: tr.Namespace, connector: string(tr.Spec.ConnectorRef.Name), ids: map[string]bool{}}
			out = append(out, d)
		}
		for _, id := range ids {
			d.ids[id] = true
		}
		d.threats = append(d.threats, tr)
	}
	for _, d := range out {
		sort.SliceStable(d.threats, func(i, j int) bool {
			a, b := d.threats[i], d.threats[j]
			if terminal(a.Status.Phase) != terminal(b.Status.Phase) {
				return !terminal(a.Status.Phase)
			}
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		})
	}
	return out
}

func findDevice(devices []*device, tr *v1.ThreatRemediation, ids []string) *device {
	for _, d := range devices {
		if d.namespace != tr.Namespace || d.connector != string(tr.Spec.ConnectorRef.Name) {
			continue
		}
		for _, id := range ids {
			if d.ids[id] {
				return d
			}
		}
	}
	return nil
}

// facts is what the operator last recorded of the device, from its remediations (the
// newest value of each field wins).
type facts struct {
	name, intuneID, entraID, upn, compliance string
	platform                                 v1.Platform
	// risk is the partner's risk as Intune has it (status.deviceRisk, from the
	// connector's device snapshot); threat is the remediation's threat, which a fast
	// feed (syslog) may report before the partner's next report reaches Intune.
	risk       v1.RiskLevel
	threat     *v1.ThreatReference
	protectApp *bool
}

func factsOf(d *device) facts {
	var f facts
	for i := len(d.threats) - 1; i >= 0; i-- { // oldest first, so newer values overwrite
		tr := d.threats[i]
		st := tr.Status
		set(&f.name, st.DeviceName)
		set(&f.intuneID, string(tr.Spec.Device.IntuneDeviceID))
		set(&f.intuneID, st.IntuneDeviceID) // as Intune spells it
		set(&f.entraID, string(tr.Spec.Device.EntraDeviceID))
		set(&f.upn, st.UserPrincipalName)
		set(&f.compliance, st.ComplianceState)
		if st.DevicePlatform != "" {
			f.platform = st.DevicePlatform
		}
		if st.DeviceRisk != "" {
			f.risk = st.DeviceRisk
		}
		if tr.Spec.Threat != nil {
			f.threat = tr.Spec.Threat
		}
		if st.ProtectAppInstalled != nil {
			f.protectApp = st.ProtectAppInstalled
		}
	}
	if f.entraID == "" {
		f.entraID = d.current().Labels[labelDevice]
	}
	return f
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// explain prints the answer for one device: a sentence, then the chain it rests on.
func (r *runner) explain(w *world, d *device) {
	f := factsOf(d)
	name := f.name
	if name == "" { // the operator has not found it in Intune yet
		name = "the device " + f.entraID
		if f.intuneID != "" {
			name = "the device " + f.intuneID
		}
	}
	conn := w.connector(d.namespace, d.connector)
	policies := w.policiesFor(d.namespace, d.connector, f.platform)
	fmt.Fprintln(r.out, r.headline(name, f, conn, policies, d))
	r.details(f, conn, policies, d)
}

// headline is the one-sentence answer.
func (r *runner) headline(name string, f facts, conn *v1.MTDConnector, policies []*v1.DeviceRiskPolicy, d *device) string {
	open := d.open()
	if len(open) == 0 {
		last := d.current()
		return fmt.Sprintf("%s has no open remediation: its last, %s, %s; %s", name, last.Name, r.ended(last), r.lastKnown(f))
	}
	parts := []string{r.riskClause(f, policies, conn)}
	if ca := caClause(f, policies); ca != "" {
		parts = append(parts, ca)
	}
	for _, tr := range open {
		parts = append(parts, "remediation "+tr.Name+" is "+orDash(string(tr.Status.Phase))+": "+r.nextStep(tr))
	}
	return fmt.Sprintf("%s %s: %s", name, complianceWord(f.compliance), strings.Join(parts, "; "))
}

// complianceWord is the device's Intune compliance as a predicate.
func complianceWord(state string) string {
	switch strings.ToLower(state) {
	case "noncompliant":
		return "is non-compliant"
	case "ingraceperiod":
		return "is non-compliant, in its grace period (still allowed until it ends)"
	case "compliant":
		return "is compliant in Intune"
	case "":
		return "has no Intune compliance recorded yet"
	}
	return "is " + state + " in Intune"
}

// riskClause says whether the device's risk breaks the strictest policy covering it.
func (r *runner) riskClause(f facts, policies []*v1.DeviceRiskPolicy, conn *v1.MTDConnector) string {
	partner := "BlackBerry"
	if conn != nil && conn.Spec.Partner != "" && conn.Spec.Partner != v1.PartnerBlackBerryProtectMobile {
		partner = string(conn.Spec.Partner)
	}
	if f.risk == "" {
		return r.noRiskYet(partner, f, conn)
	}
	if len(policies) == 0 {
		return fmt.Sprintf("%s reports %s risk, but no DeviceRiskPolicy of connector %s covers %s", partner, f.risk, connName(conn), platformOr(f.platform))
	}
	p := policies[0] // the strictest
	where := compliancePolicy(p, f.platform)
	if rank(f.risk) > rank(p.Spec.MaxAllowedRisk) {
		s := fmt.Sprintf("%s reports %s risk, above policy %s's maxAllowedRisk %s (%s)", partner, f.risk, p.Name, p.Spec.MaxAllowedRisk, where)
		if strings.EqualFold(f.compliance, "compliant") {
			s += ", which Intune has not applied yet (it re-evaluates at the device's next check-in)"
		}
		return s
	}
	s := fmt.Sprintf("%s reports %s risk, within policy %s's maxAllowedRisk %s (%s)", partner, f.risk, p.Name, p.Spec.MaxAllowedRisk, where)
	if strings.EqualFold(f.compliance, "noncompliant") {
		s += ", so another compliance setting or policy makes it non-compliant (Intune admin center › Devices › the device › Device compliance)"
	}
	return s
}

// noRiskYet explains a device Intune has no partner risk for: the partner has not
// reported it yet, or its report has not reached Intune, though a fast feed may have
// said what the threat is.
func (r *runner) noRiskYet(partner string, f facts, conn *v1.MTDConnector) string {
	s := "Intune has no risk from " + partner + " for it yet"
	if t := f.threat; t != nil && t.Risk != "" {
		s = fmt.Sprintf("%s reported a %s-risk threat %s ago, which has not reached Intune yet (the partner reports to Intune periodically)",
			orDash(string(t.Source)), t.Risk, r.ago(t.DetectedAt))
	}
	if strings.EqualFold(f.compliance, "noncompliant") && blockedOnMissingData(conn, f.platform) {
		s += "; Intune blocks a device without partner data (*DeviceBlockedOnMissingPartnerData of the connector)"
	}
	return s
}

// snapshotAge is how old the connector's device snapshot is, which the remediations'
// device fields come from.
func (r *runner) snapshotAge(c *v1.MTDConnector) string {
	if c == nil || c.Status.ThreatSync == nil || c.Status.ThreatSync.SnapshotTime == nil {
		return ""
	}
	return " (the connector's device snapshot of " + r.ago(c.Status.ThreatSync.SnapshotTime) + " ago)"
}

// compliancePolicy names the Intune compliance policy of the platform.
func compliancePolicy(p *v1.DeviceRiskPolicy, platform v1.Platform) string {
	if platform == "" {
		return "platform not recorded yet"
	}
	for _, s := range p.Status.Platforms {
		if s.Platform == platform && s.PolicyID != "" {
			return fmt.Sprintf("%s compliance policy %s", platform, s.PolicyID)
		}
	}
	return fmt.Sprintf("%s compliance policy not created yet", platform)
}

// caClause says what the Conditional Access policies of the covering policies do.
func caClause(f facts, policies []*v1.DeviceRiskPolicy) string {
	var out []string
	for _, p := range policies {
		ca := p.Spec.ConditionalAccess
		if ca == nil {
			continue
		}
		name := caName(p)
		apps := list(appNames(ca.Applications))
		switch ca.State {
		case v1.CAStateEnabled:
			out = append(out, fmt.Sprintf("Conditional Access policy %q (enabled) %s", name, enforced(f.compliance, apps)))
		case v1.CAStateDisabled:
			out = append(out, fmt.Sprintf("Conditional Access policy %q is disabled: it blocks nothing", name))
		default:
			out = append(out, fmt.Sprintf("Conditional Access policy %q is report-only: it logs the sign-ins to %s it would block and blocks none", name, apps))
		}
	}
	if len(out) == 0 && len(policies) > 0 {
		return "no DeviceRiskPolicy covering it manages a Conditional Access policy: access depends on the tenant's own"
	}
	return strings.Join(out, "; ")
}

// enforced says what an enabled Conditional Access policy does to the device.
func enforced(compliance, apps string) string {
	switch strings.ToLower(compliance) {
	case "noncompliant":
		return "blocks " + apps
	case "ingraceperiod":
		return "will block " + apps + " when the grace period ends"
	case "compliant":
		return "requires a compliant device for " + apps + ", so it lets this one in"
	}
	return "requires a compliant device for " + apps
}

func caName(p *v1.DeviceRiskPolicy) string {
	if n := p.Spec.ConditionalAccess.DisplayName; n != "" {
		return n
	}
	return p.Spec.DisplayName
}

func appNames(a v1.ConditionalAccessApplications) []string {
	var out []string
	if a.ExchangeOnline {
		out = append(out, "Exchange Online")
	}
	if a.SharePointOnline {
		out = append(out, "SharePoint Online")
	}
	if a.Office365 {
		out = append(out, "Office 365")
	}
	if n := len(a.ApplicationIDs); n > 0 {
		out = append(out, plural(n, "company app", "company apps"))
	}
	return out
}

// nextStep is where the plan stands: the first step that has not ended.
func (r *runner) nextStep(tr *v1.ThreatRemediation) string {
	// A stalled remediation (plan changed after a step ran, device not found, ...) needs
	// a person whatever its steps say.
	if c := meta.FindStatusCondition(tr.Status.Conditions, v1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return fmt.Sprintf("stalled (%s): %s", c.Reason, c.Message)
	}
	for i, step := range tr.Spec.Steps {
		rec := record(tr, i)
		state := v1.StepPending
		if rec != nil {
			state = rec.State
		}
		s := fmt.Sprintf("step %d %s", i, step.Action)
		switch state {
		case v1.StepSucceeded, v1.StepSkipped, v1.StepDryRun:
			continue
		case v1.StepAwaitingApproval:
			if a := tr.Status.Approval; a != nil && a.PlanHash == tr.Status.PlanHash {
				verb := map[v1.ApprovalDecision]string{v1.Approved: "runs", v1.Denied: "skips"}[a.Decision]
				return fmt.Sprintf("%s was %s by %s; the operator %s it at its next pass", s, strings.ToLower(string(a.Decision)), orDash(a.User), verb)
			}
			// A person's plan must be approved by another person; the intake's (a service
			// account's) by anyone with the approver role.
			who := ""
			if req := tr.Annotations[v1.AnnotationRequestedBy]; req != "" && !strings.HasPrefix(req, "system:serviceaccount:") {
				who = " by someone other than " + req
			}
			return fmt.Sprintf("%s waits for approval%s (kubectl mtd approve %s -n %s)", s, who, tr.Name, tr.Namespace)
		case v1.StepRunning:
			return s + " is running (started " + r.ago(rec.StartedAt) + " ago)"
		case v1.StepFailed:
			return s + " failed: " + orDash(rec.Message)
		}
		due, ok := dueAt(tr, i)
		switch {
		case ok && due.After(r.now):
			next := "next, " + s + " in " + human(due.Sub(r.now))
			if needsApproval(step) && tr.Status.Approval == nil {
				next += fmt.Sprintf(", once approved (kubectl mtd approve %s -n %s)", tr.Name, tr.Namespace)
			}
			return next
		case rec != nil && rec.Message != "":
			return s + " is due: " + rec.Message
		}
		return s + " is due"
	}
	return "every step has run; it resolves when the partner reports the device below the connector's minimumRisk and Intune reports it compliant"
}

// dueAt is when step i becomes due: the plan's clock plus the step's after.
func dueAt(tr *v1.ThreatRemediation, i int) (time.Time, bool) {
	start := tr.Status.DetectedAt
	if start == nil {
		return time.Time{}, false
	}
	var after time.Duration
	if a := tr.Spec.Steps[i].After; a != nil {
		after = a.Duration
	}
	return start.Add(after), true
}

// ended says how a terminal remediation ended.
func (r *runner) ended(tr *v1.ThreatRemediation) string {
	st := tr.Status
	switch st.Phase {
	case v1.PhaseResolved:
		s := "was Resolved " + r.ago(st.ResolvedAt) + " ago"
		if st.TimeToResolve != nil {
			s += " (in " + human(st.TimeToResolve.Duration) + ")"
		}
		return s
	case "":
		return "has no phase yet"
	}
	_, reason, msg := ready(st.Conditions)
	return fmt.Sprintf("ended %s (%s: %s)", st.Phase, reason, orDash(msg))
}

// lastKnown is the device's last recorded state, for a device with no open remediation.
func (r *runner) lastKnown(f facts) string {
	if strings.EqualFold(f.compliance, "compliant") {
		return fmt.Sprintf("then the partner reported %s risk and Intune reported it compliant, so its BlackBerry risk does not block it (a new threat opens a new remediation)", orDash(string(f.risk)))
	}
	return fmt.Sprintf("it was last recorded at %s risk and %s in Intune", orDash(string(f.risk)), orDash(f.compliance))
}

// details prints the chain, one fact a line.
func (r *runner) details(f facts, conn *v1.MTDConnector, policies []*v1.DeviceRiskPolicy, d *device) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(r.out, "  %-12s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	ids := []string{platformOr(f.platform)}
	if f.intuneID != "" {
		ids = append(ids, "Intune "+f.intuneID)
	}
	if f.entraID != "" {
		ids = append(ids, "Entra "+f.entraID)
	}
	if f.upn != "" {
		ids = append(ids, "user "+f.upn)
	}
	line("device", "%s (%s)", orDash(f.name), strings.Join(ids, ", "))
	line("connector", "%s", r.connectorLine(d, conn))
	if t := d.current().Spec.Threat; t != nil {
		line("threat", "%s", r.threatLine(t))
	}
	line("intune", "partner risk %s, compliance %s%s", orDash(string(f.risk)), orDash(f.compliance), r.snapshotAge(conn))
	for _, p := range policies {
		line("policy", "%s", policyLine(p, f.platform))
		if ca := p.Spec.ConditionalAccess; ca != nil {
			line("access", "%s", caLine(p))
		}
	}
	if len(policies) == 0 {
		line("policy", "no DeviceRiskPolicy of connector %s covers %s", d.connector, platformOr(f.platform))
	}
	line("protect app", "%s", protectAppLine(f, conn))
	for _, tr := range d.threats {
		line("remediation", "%s", r.remediationLine(tr))
		line("steps", "%s", stepSummary(tr))
	}
}

// readyWord is "Ready", or "not Ready (Reason)".
func readyWord(conds []metav1.Condition) string {
	st, reason, _ := ready(conds)
	if st == string(metav1.ConditionTrue) {
		return "Ready"
	}
	return "not Ready (" + reason + ")"
}

func platformOr(p v1.Platform) string {
	if p == "" {
		return "platform not recorded yet"
	}
	return string(p)
}

func connName(c *v1.MTDConnector) string {
	if c == nil {
		return "(not found)"
	}
	return c.Name
}

func (r *runner) connectorLine(d *device, c *v1.MTDConnector) string {
	if c == nil {
		return fmt.Sprintf("%s/%s, which does not exist (or you may not read it)", d.namespace, d.connector)
	}
	return fmt.Sprintf("%s/%s (%s, partner %s, heartbeat %s ago, minimumRisk %s)", c.Namespace, c.Name, readyWord(c.Status.Conditions),
		orDash(c.Status.PartnerState), r.ago(c.Status.LastHeartbeatTime), c.MinimumRisk())
}

func (r *runner) threatLine(t *v1.ThreatReference) string {
	var parts []string
	if t.Type != "" {
		parts = append(parts, string(t.Type))
	}
	if t.Detail != "" {
		parts = append(parts, fmt.Sprintf("%q", t.Detail))
	}
	if t.Risk != "" {
		parts = append(parts, string(t.Risk))
	}
	s := strings.Join(parts, " ")
	if t.DetectedAt != nil {
		s += ", detected " + r.ago(t.DetectedAt) + " ago"
	}
	if t.Source != "" {
		s += " (" + string(t.Source)
		if t.AlertID != "" {
			s += ", alert " + t.AlertID
		}
		s += ")"
	}
	return orDash(s)
}

func policyLine(p *v1.DeviceRiskPolicy, platform v1.Platform) string {
	s := fmt.Sprintf("%s: non-compliant above %s (%s", p.Name, p.Spec.MaxAllowedRisk, compliancePolicy(p, platform))
	if h := p.Spec.Actions.BlockGracePeriodHours; h > 0 {
		s += fmt.Sprintf(", grace period %dh", h)
	}
	return s + "; " + readyWord(p.Status.Conditions) + ")"
}

func caLine(p *v1.DeviceRiskPolicy) string {
	ca := p.Spec.ConditionalAccess
	id := p.Status.ConditionalAccessPolicyID
	if id == "" {
		id = "not created yet"
	}
	who := "all users"
	if !ca.AllUsers {
		who = "members of " + plural(len(ca.IncludeGroupIDs), "group", "groups")
	}
	if n := len(ca.ExcludeGroupIDs); n > 0 {
		who += " except " + plural(n, "group", "groups")
	}
	state := ca.State
	if state == "" {
		state = v1.CAStateReportOnly
	}
	return fmt.Sprintf("Conditional Access %q (%s, id %s) requires a compliant device for %s, for %s", caName(p), state, id, list(appNames(ca.Applications)), who)
}

// protectAppLine says whether the Protect app is on the device, and what its absence means.
func protectAppLine(f facts, conn *v1.MTDConnector) string {
	if f.protectApp == nil {
		return "not known (the connector declares no Protect app for the platform, or has not read Intune's inventory yet)"
	}
	if *f.protectApp {
		return "installed"
	}
	s := "NOT installed: the partner cannot report on the device, so it cannot report the threat gone; install it from the Company Portal"
	if blockedOnMissingData(conn, f.platform) {
		s += " (Intune blocks the device until the partner has reported: *DeviceBlockedOnMissingPartnerData)"
	}
	return s
}

// blockedOnMissingData reads the connector's *DeviceBlockedOnMissingPartnerData for the platform.
func blockedOnMissingData(c *v1.MTDConnector, platform v1.Platform) bool {
	if c == nil || c.Spec.Intune.ConnectorSettings == nil {
		return false
	}
	s := c.Spec.Intune.ConnectorSettings
	v := s.AndroidDeviceBlockedOnMissingPartnerData
	if platform == v1.PlatformIOS {
		v = s.IOSDeviceBlockedOnMissingPartnerData
	}
	return v != nil && *v
}

func (r *runner) remediationLine(tr *v1.ThreatRemediation) string {
	st := tr.Status
	s := fmt.Sprintf("%s %s, opened %s ago", tr.Name, orDash(string(st.Phase)), r.ago(&tr.CreationTimestamp))
	if st.PlanHash != "" {
		s += ", plan " + st.PlanHash
	}
	if req := tr.Annotations[v1.AnnotationRequestedBy]; req != "" {
		s += ", requested by " + req
	}
	if a := st.Approval; a != nil {
		s += fmt.Sprintf(", %s by %s", strings.ToLower(string(a.Decision)), orDash(a.User))
		if a.Message != "" {
			s += fmt.Sprintf(" (%q)", a.Message)
		}
	}
	if tr.Spec.DryRun {
		s += ", dry run"
	}
	return s
}

// stepSummary is "0 notify Succeeded, 1 syncDevice Pending, ...", in plan order.
func stepSummary(tr *v1.ThreatRemediation) string {
	var parts []string
	for i, step := range tr.Spec.Steps {
		state := v1.StepPending
		if rec := record(tr, i); rec != nil {
			state = rec.State
		}
		parts = append(parts, fmt.Sprintf("%d %s %s", i, step.Action, state))
	}
	return strings.Join(parts, ", ")
}

// unknown answers for a device no remediation names: what the objects say about devices
// in general, and where to look. A phone a connector lists without the Protect app is
// the one case the objects can name: the partner cannot report on it at all.
func (r *runner) unknown(w *world, query string) {
	fmt.Fprintf(r.out, "%s: no ThreatRemediation in %s names this device (by device name, Intune, Entra or UES device id).\n", query, w.scope)
	missing := false
	for i := range w.connectors {
		c := &w.connectors[i]
		for _, p := range c.Status.ProtectApp {
			for _, n := range p.WithoutApp {
				if strings.EqualFold(n, query) {
					missing = true
					fmt.Fprintf(r.out, "Connector %s/%s lists it among its %s devices without the Protect app: %s.\n", c.Namespace, c.Name, p.Platform,
						strings.TrimPrefix(protectAppLine(facts{protectApp: new(bool), platform: p.Platform}, c), "NOT installed: "))
				}
			}
		}
	}
	if !missing {
		fmt.Fprintln(r.out, "The operator opens one when the partner reports a device at or above its connector's minimumRisk, so the device is below it:")
		fmt.Fprintln(r.out, "most likely compliant, unless another compliance setting fails or it lacks the Protect app.")
	}
	fmt.Fprintln(r.out, "What the objects say:")
	if len(w.connectors) == 0 {
		fmt.Fprintf(r.out, "  no MTDConnector in %s\n", w.scope)
	}
	for i := range w.connectors {
		c := &w.connectors[i]
		fmt.Fprintf(r.out, "  connector %s/%s: minimumRisk %s; %s\n", c.Namespace, c.Name, c.MinimumRisk(), r.devicesLine(c))
		for _, p := range w.policiesFor(c.Namespace, c.Name, "") {
			s := fmt.Sprintf("    DeviceRiskPolicy %s: %s non-compliant above %s", p.Name, joinPlatforms(p.Spec.Platforms), p.Spec.MaxAllowedRisk)
			if p.Spec.ConditionalAccess != nil {
				s += "; " + caLine(p)
			}
			fmt.Fprintln(r.out, s)
		}
	}
	fmt.Fprintf(r.out, "To check the device itself: Intune admin center › Devices › All devices › %s › Device compliance;\n", query)
	fmt.Fprintln(r.out, "its remediations by id: kubectl get threatremediations -A -l "+labelIntuneDevice+"=<Intune device id, lower case>.")
}

func (r *runner) devicesLine(c *v1.MTDConnector) string {
	d := c.Status.Devices
	if d == nil {
		return "no device snapshot yet"
	}
	s := fmt.Sprintf("%d devices: %d secured, %d low, %d medium, %d high", d.Total, d.Secured, d.Low, d.Medium, d.High)
	if ts := c.Status.ThreatSync; ts != nil && ts.SnapshotTime != nil {
		s += " (snapshot " + r.ago(ts.SnapshotTime) + " ago)"
	}
	return s + fmt.Sprintf("; %s open", plural(int(c.Status.ActiveThreats), "threat", "threats"))
}

func joinPlatforms(ps []v1.Platform) string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p))
	}
	return strings.Join(out, ", ")
}
