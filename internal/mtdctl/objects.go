package mtdctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// Labels the operator's intake puts on the ThreatRemediations it opens
// (controllers/threatsync_intake.go; test/plugin checks that they agree). The plugin
// cannot import the controllers package: it would bring the Graph client with it.
const (
	labelConnector    = "mtd.operator.dev/connector"
	labelDevice       = "mtd.operator.dev/device"        // Entra device id, lower case
	labelIntuneDevice = "mtd.operator.dev/intune-device" // Intune managedDevice id, lower case
)

// world is every object a command reads, from one scope.
type world struct {
	connectors []v1.MTDConnector
	policies   []v1.DeviceRiskPolicy
	threats    []v1.ThreatRemediation
	// scope says where they were read: "every namespace" or "namespace X".
	scope string
}

// scope lists in every namespace unless -n was given. A user whose RBAC does not reach
// every namespace gets the context's namespace instead, with a note: kubectl's default
// is the context's namespace, and that is where such a user works.
func (r *runner) listScope(ctx context.Context, list client.ObjectList) (string, error) {
	s := r.session
	if s.explicit && !s.all {
		return "namespace " + s.namespace, s.client.List(ctx, list, client.InNamespace(s.namespace))
	}
	err := s.client.List(ctx, list)
	if apierrors.IsForbidden(err) && !s.all {
		fmt.Fprintf(r.errOut, "note: you may not list in every namespace; showing namespace %s (-n to choose another)\n", s.namespace)
		s.explicit = true
		return "namespace " + s.namespace, s.client.List(ctx, list, client.InNamespace(s.namespace))
	}
	return "every namespace", err
}

// read lists the connectors, policies and (when threats is set) remediations in scope.
func (r *runner) read(ctx context.Context, threats bool) (*world, error) {
	w := &world{}
	var conns v1.MTDConnectorList
	scope, err := r.listScope(ctx, &conns)
	if err != nil {
		return nil, fmt.Errorf("listing MTDConnectors: %w", err)
	}
	w.scope, w.connectors = scope, conns.Items
	var pols v1.DeviceRiskPolicyList
	if _, err := r.listScope(ctx, &pols); err != nil {
		return nil, fmt.Errorf("listing DeviceRiskPolicies: %w", err)
	}
	w.policies = pols.Items
	if threats {
		var trs v1.ThreatRemediationList
		if _, err := r.listScope(ctx, &trs); err != nil {
			return nil, fmt.Errorf("listing ThreatRemediations: %w", err)
		}
		w.threats = trs.Items
	}
	sort.Slice(w.connectors, func(i, j int) bool { return key(&w.connectors[i]) < key(&w.connectors[j]) })
	sort.Slice(w.policies, func(i, j int) bool { return key(&w.policies[i]) < key(&w.policies[j]) })
	return w, nil
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

func (w *world) connector(ns, name string) *v1.MTDConnector {
	for i := range w.connectors {
		if c := &w.connectors[i]; c.Namespace == ns && c.Name == name {
			return c
		}
	}
	return nil
}

// policiesFor are the connector's DeviceRiskPolicies that cover platform (all of the
// connector's when the platform is not known), strictest first: Intune applies every
// policy assigned to a device, so the lowest maxAllowedRisk decides.
func (w *world) policiesFor(ns, connector string, platform v1.Platform) []*v1.DeviceRiskPolicy {
	var out []*v1.DeviceRiskPolicy
	for i := range w.policies {
		p := &w.policies[i]
		if p.Namespace != ns || string(p.Spec.ConnectorRef.Name) != connector {
			continue
		}
		if platform == "" || covers(p, platform) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Spec.MaxAllowedRisk) < rank(out[j].Spec.MaxAllowedRisk) })
	return out
}

func covers(p *v1.DeviceRiskPolicy, platform v1.Platform) bool {
	for _, q := range p.Spec.Platforms {
		if q == platform {
			return true
		}
	}
	return false
}

// rank orders risk levels as Intune's MTD rule does; an unknown level ranks -1.
func rank[T ~string](level T) int {
	switch strings.ToLower(string(level)) {
	case "secured", "none":
		return 0
	case "low":
		return 1
	case "medium":
		return 2
	case "high", "compromised":
		return 3
	}
	return -1
}

// terminal says whether a remediation has ended (the operator's terminalPhase).
func terminal(p v1.RemediationPhase) bool {
	return p == v1.PhaseResolved || p == v1.PhaseFailed || p == v1.PhaseExpired
}

// ready is the Ready condition's status and reason, "Unknown" when absent.
func ready(conds []metav1.Condition) (status, reason, message string) {
	c := meta.FindStatusCondition(conds, v1.ConditionReady)
	if c == nil {
		return "Unknown", "-", ""
	}
	return string(c.Status), c.Reason, c.Message
}

// ago is a kubectl-style age ("5m", "3h10m"), or "-" for no time.
func (r *runner) ago(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(r.now.Sub(t.Time))
}

// human is a duration as kubectl prints ages.
func human(d time.Duration) string { return duration.HumanDuration(d) }

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// list joins items as prose: "a", "a and b", "a, b and c".
func list(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
