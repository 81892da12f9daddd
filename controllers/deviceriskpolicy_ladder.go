package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// pendingCreatePrefix marks an object create that was started but whose id may not have
// reached the status (a crash between the two): the next pass looks for the object
// before creating it again, so a crash never leaves a duplicate.
const pendingCreatePrefix = "mtd.operator.dev/create-pending-"

func pendingKey(what string) string { return pendingCreatePrefix + strings.ToLower(what) }

// keeper is the object that keeps Intune objects through the ladder, with its pass: a
// DeviceRiskPolicy (compliance and Conditional Access policies) or an MTDConnector (the
// Protect app and its configuration).
type keeper interface {
	// object carries the create-pending annotations and the events.
	object() client.Object
	adoption() v1.AdoptionPolicy
	// mayWrite reports whether the keeper may change Intune, recording drift when not.
	mayWrite(drift string) bool
	// block records the first problem only a person can resolve.
	block(s summary)
	// clearAfterWrite removes the annotation once the status holding the id is stored.
	clearAfterWrite(key string)
	// managedBy names another keeper that records id, "" when none does.
	managedBy(ctx context.Context, id string) (string, error)
}

// ladder is how one object is kept in Intune or Entra (a platform's compliance policy,
// the Conditional Access policy, the Protect app), the same way for every kind, as
// Azure Service Operator does: the recorded id; else adopt the one object of the exact
// type and display name — or, after a crash between a create and the status write, the
// one that create left (the create-pending annotation) —; else create; then correct
// only what differs. When the section goes, the object is deleted or orphaned per
// deletionPolicy.
type ladder[T any] struct {
	what    string // for events and messages, e.g. "Android compliance policy"
	plural  string // e.g. "Android compliance policies"
	pending string // the create-pending annotation's suffix
	name    string // the wanted display name
	id      string // the recorded id, "" when none
	idOf    func(*T) string
	// record stores the object's id (and version) in the status; forget clears it.
	record func(live *T, adopted bool)
	forget func()
	get    func(ctx context.Context, id string) (*T, error)
	// candidates are the objects of the wanted type and exact display name (from one
	// list per pass).
	candidates func(ctx context.Context) ([]T, error)
	create     func(ctx context.Context) (*T, error) // see climb for an object with an error
	correct    func(ctx context.Context, live T) error
}

// climb keeps l's object in place and returns it, with fresh true when this pass created
// it (as wanted, so not corrected). A nil object with a nil error means the pass cannot
// go on for it: ObserveOnly with nothing to observe, or a refusal recorded in p.blocked.
func climb[T any](ctx context.Context, c client.Client, rec events.EventRecorder, k keeper, l ladder[T]) (*T, bool, error) {
	obj := k.object()
	if l.id != "" {
		live, err := l.get(ctx, l.id)
		if err == nil {
			return live, false, l.correct(ctx, *live)
		}
		if !outbound.IsNotFound(err) {
			return nil, false, err
		}
		log.FromContext(ctx).Info("recorded object deleted outside the operator", "object", l.what, "id", l.id, "owner", obj.GetName())
		emit(rec, obj, corev1.EventTypeWarning, "PolicyMissing", "Observe", fmt.Sprintf("the %s %s was deleted outside the operator", l.what, l.id))
		l.forget()
	}
	key := pendingKey(l.pending)
	_, pending := obj.GetAnnotations()[key]
	if pending || k.adoption() == v1.AdoptionAdoptOrCreate {
		found, err := l.candidates(ctx)
		if err != nil {
			return nil, false, err
		}
		if len(found) > 0 {
			live, err := adopt(ctx, rec, k, l, found, pending)
			if err != nil || live == nil {
				return nil, false, err
			}
			return live, false, l.correct(ctx, *live)
		}
	}
	if !k.mayWrite(fmt.Sprintf("no %s named %q exists", l.what, l.name)) {
		return nil, false, nil
	}
	// The guard goes on before the create and comes off only once the id is stored.
	if err := setAnnotation(ctx, c, obj, key, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return nil, false, err
	}
	// create may return the object with an error when a follow-up call (an assignment)
	// failed: it exists, so its id is recorded and the next pass corrects it.
	created, err := l.create(ctx)
	if created != nil {
		log.FromContext(ctx).Info("created", "object", l.what, "id", l.idOf(created), "owner", obj.GetName())
		l.record(created, false)
		k.clearAfterWrite(key)
		emit(rec, obj, corev1.EventTypeNormal, "Created", "Create", fmt.Sprintf("created %s %s", l.what, l.idOf(created)))
	}
	if err != nil {
		return nil, false, err
	}
	return created, true, nil
}

// adopt takes over the one candidate, refusing several (ambiguous) and one that another
// keeper records (already managed).
func adopt[T any](ctx context.Context, rec events.EventRecorder, k keeper, l ladder[T], found []T, pending bool) (*T, error) {
	ids := make([]string, len(found))
	for i := range found {
		ids[i] = l.idOf(&found[i])
	}
	if len(found) > 1 {
		k.block(summary{reason: ReasonAmbiguousAdoption, stalled: true, message: fmt.Sprintf(
			"%d %s are named %q (%s); rename or delete all but one, or set adoption: CreateOnly", len(found), l.plural, l.name, strings.Join(ids, ", "))})
		return nil, nil
	}
	owner, err := k.managedBy(ctx, ids[0])
	if err != nil || owner != "" {
		if owner != "" {
			k.block(summary{reason: ReasonAlreadyManaged, stalled: true, message: fmt.Sprintf(
				"the %s %q (%s) is already managed by %s", l.what, l.name, ids[0], owner)})
		}
		return nil, err
	}
	live := &found[0]
	obj := k.object()
	log.FromContext(ctx).Info("adopted by exact display name", "object", l.what, "id", ids[0], "owner", obj.GetName(), "afterInterruption", pending)
	l.record(live, !pending)
	if pending {
		k.clearAfterWrite(pendingKey(l.pending))
		emit(rec, obj, corev1.EventTypeNormal, "Recovered", "Create", fmt.Sprintf("found the %s %s created before an interruption; not creating it again", l.what, ids[0]))
	} else {
		emit(rec, obj, corev1.EventTypeNormal, "Adopted", "Adopt", fmt.Sprintf("adopted the existing %s %s", l.what, ids[0]))
	}
	return live, nil
}

// clearGuards removes the create-pending annotations keys from obj: called once the
// status holding the created objects' ids is stored.
func clearGuards(ctx context.Context, c client.Client, obj client.Object, keys []string) error {
	for _, key := range keys {
		if err := setAnnotation(ctx, c, obj, key, ""); err != nil {
			return err
		}
	}
	return nil
}

// entryFor is the element of *list that match selects, appended as fresh when there is
// none (a per-platform status entry).
func entryFor[T any](list *[]T, match func(*T) bool, fresh T) *T {
	for i := range *list {
		if match(&(*list)[i]) {
			return &(*list)[i]
		}
	}
	*list = append(*list, fresh)
	return &(*list)[len(*list)-1]
}

// release deletes the object with id, or orphans it, per the owner's deletionPolicy
// (and never under ObserveOnly).
func release(ctx context.Context, rec events.EventRecorder, owner managed, what, id string, del func(context.Context, string) error) error {
	if id == "" || !v1.AllowsDelete(owner) {
		return nil
	}
	if err := del(ctx, id); err != nil && !outbound.IsNotFound(err) {
		return err
	}
	emit(rec, owner, corev1.EventTypeNormal, "Deleted", "Delete", fmt.Sprintf("deleted the %s %s", what, id))
	return nil
}

// listOnce fills *cache with one list per pass, made only when an object must be looked
// for by name.
func listOnce[T any](ctx context.Context, cache *[]T, list func(context.Context) ([]T, error)) ([]T, error) {
	if *cache == nil {
		all, err := list(ctx)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = []T{}
		}
		*cache = all
	}
	return *cache, nil
}
