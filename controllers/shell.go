package controllers

import (
	"context"
	"encoding/json"
	"errors"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// managed is a kind the shell reconciles: an API object with the shared lifecycle.
type managed interface {
	client.Object
	v1.Lifecycle
}

// pass is one kind's part of a reconcile (crossplane-runtime's managed reconciler and
// ASO's generic reconciler, in a small form): the shell owns the order, the finalizer,
// suspend, the deletion policy and the status write; the pass only talks to the clouds.
type pass interface {
	// connect finds what the pass needs besides the object (the tenant's ownership, the
	// clients, the connector); a summary says why the object waits instead.
	connect(ctx context.Context) (wait *summary, res ctrl.Result, err error)
	// sync realises the spec (observe, create, update; under ObserveOnly, observe and
	// report drift) and sets the conditions and the pacing.
	sync(ctx context.Context) (ctrl.Result, error)
	// finalize cleans up outside the cluster before the finalizer goes: what
	// AllowsDelete permits, or nothing (orphan). done false keeps the finalizer.
	finalize(ctx context.Context) (res ctrl.Result, done bool, err error)
	// forget drops what the process holds for an object that is gone.
	forget()
	// written runs after the status write (clearing crash guards that only a stored id
	// makes safe to remove).
	written(ctx context.Context) error
}

// reconcileManaged is the one reconcile shell. It reads the object; a deleted one goes
// to finalize (if it still holds the finalizer); a suspended one reports Suspended and
// makes no call; otherwise the pass connects, the finalizer is written before the first
// external write (never under ObserveOnly, which writes nothing outside), and the pass
// syncs. The status is then written as a JSON merge patch of only what the pass changed:
// other writers of the same status (the threat sync, the active-threats count) are
// neither overwritten nor raced on the resourceVersion.
func reconcileManaged[O managed](ctx context.Context, c client.Client, req ctrl.Request, obj O, newPass func(O, conditions) pass) (ctrl.Result, error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before, err := statusJSON(obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := obj.GetReconcileStatus()
	conds := conditions{list: &st.Conditions, generation: obj.GetGeneration()}
	p := newPass(obj, conds)
	res, err := runPass(ctx, c, obj, conds, p)
	if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return res, err // the object is going; nothing left to report on
	}
	st.ObservedGeneration = obj.GetGeneration()
	if werr := writeStatus(ctx, c, obj, before); werr != nil {
		return ctrl.Result{}, errors.Join(err, werr)
	}
	if werr := p.written(ctx); werr != nil {
		return ctrl.Result{}, errors.Join(err, werr)
	}
	return res, err
}

func runPass(ctx context.Context, c client.Client, obj managed, conds conditions, p pass) (ctrl.Result, error) {
	if !obj.GetDeletionTimestamp().IsZero() {
		if !controllerutil.ContainsFinalizer(obj, Finalizer) {
			p.forget()
			return ctrl.Result{}, nil
		}
		res, done, err := p.finalize(ctx)
		if !done || err != nil {
			return res, err
		}
		log.FromContext(ctx).Info("finalized", "allowsDelete", v1.AllowsDelete(obj))
		controllerutil.RemoveFinalizer(obj, Finalizer)
		if err := c.Update(ctx, obj); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		p.forget()
		return ctrl.Result{}, nil
	}
	if obj.IsSuspended() {
		conds.summarise(summary{reason: ReasonSuspended, message: "spec.suspend is true: no calls are made to Intune or UES"})
		return ctrl.Result{}, nil
	}
	if wait, res, err := p.connect(ctx); wait != nil || err != nil {
		if wait != nil {
			conds.summarise(*wait)
		}
		return res, err
	}
	if v1.AllowsModify(obj) && !controllerutil.ContainsFinalizer(obj, Finalizer) {
		// Written before the first external write, so a deletion can never skip cleanup.
		controllerutil.AddFinalizer(obj, Finalizer)
		if err := c.Update(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	return p.sync(ctx)
}

// statusJSON is the object's status as JSON, the base of the merge patch.
func statusJSON(obj client.Object) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Status json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]json.RawMessage{"status": doc.Status})
}

// writeStatus patches what changed in the status since before; nothing when unchanged.
func writeStatus(ctx context.Context, c client.Client, obj client.Object, before []byte) error {
	after, err := statusJSON(obj)
	if err != nil {
		return err
	}
	patch, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return err
	}
	if string(patch) == "{}" {
		return nil
	}
	err = c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
