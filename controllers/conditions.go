package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// conditions edits one object's conditions, stamping each with the generation being
// reconciled. meta.SetStatusCondition keeps lastTransitionTime when the status does not
// change, so a re-written condition does not look like a transition.
type conditions struct {
	list       *[]metav1.Condition
	generation int64
}

func (c conditions) set(typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	c.setStatus(typ, status, reason, message)
}

func (c conditions) setStatus(typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(c.list, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(message, 32768), ObservedGeneration: c.generation,
	})
}

func (c conditions) get(typ string) *metav1.Condition { return meta.FindStatusCondition(*c.list, typ) }

// remove drops a condition that no longer applies (its feature is switched off).
func (c conditions) remove(typ string) { meta.RemoveStatusCondition(c.list, typ) }

// summary is a reconcile's verdict, written into the kstatus conditions that Flux,
// Argo CD and `kubectl wait` read: Ready; Reconciling (True while the spec is not yet
// realised, e.g. throttled or a transient failure); Stalled (True when only a person
// can fix it). Abnormal-true conditions are removed when they stop applying, as Flux
// does, so a healthy object carries none.
type summary struct {
	ready       bool
	reason      string
	message     string
	stalled     bool
	reconciling bool
}

func (c conditions) summarise(s summary) {
	c.set(v1.ConditionReady, s.ready, s.reason, s.message)
	if s.stalled {
		c.set(v1.ConditionStalled, true, s.reason, s.message)
	} else {
		meta.RemoveStatusCondition(c.list, v1.ConditionStalled)
	}
	if s.reconciling && !s.stalled {
		c.set(v1.ConditionReconciling, true, s.reason, s.message)
	} else {
		meta.RemoveStatusCondition(c.list, v1.ConditionReconciling)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
