package controllers

// The connector's ownership of its tenant and its deletion.

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// tenantOwner returns the MTDConnector that owns the Intune tenant: the oldest of the
// connectors (in any namespace) naming it whose credentials have authenticated to it,
// ties broken by namespace/name; nil while none has, when every connector may try its
// own credentials. A connector with made-up credentials therefore never owns a tenant,
// however early it was created. It is derived from the API server's objects on every
// pass, so replicas and restarts agree.
func (r *MTDConnectorReconciler) tenantOwner(ctx context.Context, conn *v1.MTDConnector) (*v1.MTDConnector, error) {
	var list v1.MTDConnectorList
	if err := r.List(ctx, &list, client.MatchingFields{indexIntuneTenant: tenantKey(conn)}); err != nil {
		return nil, err
	}
	// A recorded Intune connector id also proves it (objects from before authenticatedAt).
	owners := slices.DeleteFunc(list.Items, func(c v1.MTDConnector) bool { return c.Status.AuthenticatedAt == nil && c.Status.ConnectorID == "" })
	if len(owners) == 0 {
		return nil, nil
	}
	oldest := slices.MinFunc(owners, func(a, b v1.MTDConnector) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		// Creation times have one-second resolution: within the same second the one
		// already acting as owner keeps the tenant, then namespace/name decides.
		if ia, ib := incumbent(&a), incumbent(&b); ia != ib {
			if ia {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return &oldest, nil
}

// incumbent reports whether a connector has acted as its tenant's owner: it recorded
// the Intune connector or holds the finalizer it takes before writing.
func incumbent(c *v1.MTDConnector) bool {
	return c.Status.ConnectorID != "" || controllerutil.ContainsFinalizer(c, Finalizer)
}

// finalize runs the deletion policy once nothing refers to the connector any more:
// with AllowsDelete, the connector's platforms are switched off (the partner connection
// itself is kept); otherwise Intune is left as it is.
func (p *connectorPass) finalize(ctx context.Context) (ctrl.Result, bool, error) {
	r, conn := p.r, p.conn
	if users, err := r.referrers(ctx, conn); err != nil {
		return ctrl.Result{}, false, err
	} else if len(users) > 0 {
		msg := "deletion waits: still referenced by " + strings.Join(users, ", ")
		p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: msg, reconciling: true})
		return ctrl.Result{RequeueAfter: time.Minute}, false, nil
	}
	if v1.AllowsDelete(conn) {
		if res, err, done := r.disconnectPlatforms(ctx, p); !done {
			return res, false, err
		}
		if err := r.releaseProtectApp(ctx, p); err != nil {
			p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: "deleting the Protect app: " + err.Error() + " (set deletionPolicy: Orphan to delete without it)", reconciling: !outbound.IsTerminal(err), stalled: outbound.IsTerminal(err)})
			res, err := requeueFor(err)
			return res, false, err
		}
	}
	return ctrl.Result{}, true, nil
}

// forget drops what the process holds for a deleted connector.
func (r *MTDConnectorReconciler) forget(conn *v1.MTDConnector) {
	r.Clients.Forget(conn.UID)
	r.Snapshots.Forget(conn.UID)
	r.Inventories.Forget(conn.UID)
	forgetConnectorMetrics(conn)
}

// disconnectPlatforms turns every connected platform off; done is false while that has
// not yet succeeded.
func (r *MTDConnectorReconciler) disconnectPlatforms(ctx context.Context, p *connectorPass) (ctrl.Result, error, bool) {
	conn := p.conn
	fail := func(err error) (ctrl.Result, error, bool) {
		msg := "deletionPolicy Delete could not switch the platforms off: " + err.Error() + " (set deletionPolicy: Orphan to delete without it)"
		warnOnce(r.Recorder, p.conn, p.conds, ReasonDeletionBlocked, msg)
		p.conds.summarise(summary{reason: ReasonDeletionBlocked, message: msg, stalled: outbound.IsTerminal(err), reconciling: !outbound.IsTerminal(err)})
		res, rerr := requeueFor(err)
		return res, rerr, false
	}
	clients, err := r.Clients.Get(ctx, conn)
	if err != nil {
		return fail(err)
	}
	live, err := clients.Intune.GetConnector(ctx, intune.BlackBerryConnectorID)
	if outbound.IsNotFound(err) {
		return ctrl.Result{}, nil, true // nothing left to switch off
	}
	if err != nil {
		return fail(err)
	}
	patch, names := platformsOff(live.Settings)
	if len(names) == 0 {
		return ctrl.Result{}, nil, true
	}
	if _, err := clients.Intune.PatchConnector(ctx, intune.BlackBerryConnectorID, patch); err != nil {
		return fail(err)
	}
	emit(r.Recorder, conn, corev1.EventTypeNormal, "Disconnected", "Delete", "deletionPolicy Delete: switched off "+strings.Join(names, ", ")+" (the partner connection itself is kept)")
	return ctrl.Result{}, nil, true
}

// referrers names the policies and remediations that still use the connector.
func (r *MTDConnectorReconciler) referrers(ctx context.Context, conn *v1.MTDConnector) ([]string, error) {
	var out []string
	var policies v1.DeviceRiskPolicyList
	if err := r.List(ctx, &policies, client.InNamespace(conn.Namespace), client.MatchingFields{indexConnectorRef: conn.Name}); err != nil {
		return nil, err
	}
	for _, p := range policies.Items {
		out = append(out, "DeviceRiskPolicy "+p.Name)
	}
	var rems v1.ThreatRemediationList
	if err := r.List(ctx, &rems, client.InNamespace(conn.Namespace), client.MatchingFields{indexConnectorRef: conn.Name}); err != nil {
		return nil, err
	}
	for _, t := range rems.Items {
		// A finished remediation is an audit record, kept for its retention period; it
		// needs nothing more from the connector.
		if !terminalPhase(t.Status.Phase) {
			out = append(out, "ThreatRemediation "+t.Name)
		}
	}
	return out, nil
}

// releaseProtectApp lets the iOS Protect app and its configuration go with a deleted
// connector (AllowsDelete). The Managed Google Play app, approved in Google's console,
// stays, as do its assignments.
func (r *MTDConnectorReconciler) releaseProtectApp(ctx context.Context, p *connectorPass) error {
	if findAppStatus(p.conn, v1.PlatformIOS) == nil {
		return nil
	}
	clients, err := r.Clients.Get(ctx, p.conn)
	if err != nil {
		return err
	}
	p.clients = clients
	return r.releaseIOSApp(ctx, p)
}
