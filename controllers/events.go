package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// emit records one Kubernetes event about obj; notes are bounded so a long cloud error
// cannot bloat the event.
func emit(rec events.EventRecorder, obj client.Object, kind, reason, action, note string) {
	rec.Eventf(obj, nil, kind, reason, action, "%s", truncate(note, 1024))
}

// warnOnce emits a Warning event when the object's Ready reason or message is about to
// change to reason/msg, so a stuck object explains itself once rather than every pass.
// Call it before the conditions are summarised.
func warnOnce(rec events.EventRecorder, obj client.Object, conds conditions, reason, msg string) {
	if c := conds.get(v1.ConditionReady); c != nil && c.Reason == reason && c.Message == msg {
		return
	}
	emit(rec, obj, corev1.EventTypeWarning, reason, "Reconcile", msg)
}
