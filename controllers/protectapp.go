package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// Reasons of the ProtectAppReady condition.
const (
	ReasonProtectAppDeployed = "Deployed"
	ReasonAppNotInIntune     = "AppNotInManagedGooglePlay"
	ReasonProtectAppBlocked  = "ProtectAppBlocked"
)

// managedGooglePlayHelp is what an administrator does for an Android app the operator
// cannot create: Graph has no call that approves a Managed Google Play app.
const managedGooglePlayHelp = "Intune has no Managed Google Play app with package %s. Approve it in Managed Google Play: Intune admin center > Apps > Android > Add > Managed Google Play app, search for the app, Approve (accept its permissions, keep approvals automatic), then Sync. The operator looks again at every resync (and at once when this object changes), then assigns it."

// appKeeper is the connector's keeper for one platform's Protect app: it owns no
// DeviceRiskPolicy fields, and its drift and refusals go into that platform's status
// and the ProtectAppReady condition, never into Ready.
type appKeeper struct {
	p       *connectorPass
	drift   []string
	blocked *summary
}

func (k *appKeeper) object() client.Object { return k.p.conn }

// adoption: the connector owns its tenant, so an app of the exact name and identifier
// is the tenant's Protect app, made by hand before the operator came.
func (k *appKeeper) adoption() v1.AdoptionPolicy { return v1.AdoptionAdoptOrCreate }
func (k *appKeeper) clearAfterWrite(key string)  { k.p.guards = append(k.p.guards, key) }
func (k *appKeeper) managedBy(context.Context, string) (string, error) {
	return "", nil // one connector per tenant: no other keeper records apps
}
func (k *appKeeper) block(s summary) {
	if k.blocked == nil {
		k.blocked = &s
	}
}
func (k *appKeeper) mayWrite(drift string) bool {
	if v1.AllowsModify(k.p.conn) {
		return true
	}
	k.drift = append(k.drift, drift)
	return false
}

// settle turns the keeper's findings into the platform's state.
func (k *appKeeper) settle(st *v1.ProtectAppStatus) {
	switch {
	case k.blocked != nil:
		st.State, st.Message = v1.ProtectAppBlocked, k.blocked.message
	case len(k.drift) > 0:
		st.State, st.Message = v1.ProtectAppDrifted, "ObserveOnly: Intune differs from the spec: "+strings.Join(k.drift, "; ")
	default:
		st.State, st.Message = v1.ProtectAppDeployed, ""
	}
}

// appStatus is the platform's entry, added (Pending) when missing. An entry keeps its
// state through a failed pass: ProtectAppReady carries the error.
func appStatus(conn *v1.MTDConnector, platform v1.Platform) *v1.ProtectAppStatus {
	return entryFor(&conn.Status.ProtectApp, func(s *v1.ProtectAppStatus) bool { return s.Platform == platform },
		v1.ProtectAppStatus{Platform: platform, State: v1.ProtectAppPending})
}

func dropAppStatus(conn *v1.MTDConnector, platform v1.Platform) {
	conn.Status.ProtectApp = slices.DeleteFunc(conn.Status.ProtectApp, func(s v1.ProtectAppStatus) bool { return s.Platform == platform })
}

// syncProtectApp keeps the declared Protect apps, their configuration and assignments,
// then reads which devices lack them. It sets ProtectAppReady and never fails Ready.
func (r *MTDConnectorReconciler) syncProtectApp(ctx context.Context, p *connectorPass) error {
	conn, spec := p.conn, p.conn.Spec.ProtectApp
	if spec == nil || spec.IOS == nil {
		if err := r.releaseIOSApp(ctx, p); err != nil {
			return r.judgeProtectApp(p, err)
		}
	}
	if spec == nil || spec.AndroidEnterprise == nil {
		dropAppStatus(conn, v1.PlatformAndroidEnterprise)
	}
	if spec == nil {
		p.conds.remove(v1.ConditionProtectAppReady)
		r.Inventories.Forget(conn.UID)
		forgetAppMetrics(conn)
		return nil
	}
	policies, err := connectorPolicies(ctx, r.Client, conn)
	if err != nil {
		return r.judgeProtectApp(p, err)
	}
	var errs []error
	if spec.IOS != nil {
		errs = append(errs, r.syncIOSApp(ctx, p, spec, policies))
	}
	if spec.AndroidEnterprise != nil {
		errs = append(errs, r.syncAndroidApp(ctx, p, spec, policies))
	}
	err = errors.Join(errs...)
	if err == nil {
		err = r.takeAppInventory(ctx, p)
	}
	return r.judgeProtectApp(p, err)
}

// judgeProtectApp sets ProtectAppReady from the platforms' states (or err), with a
// warning event when it turns false for a new reason.
func (r *MTDConnectorReconciler) judgeProtectApp(p *connectorPass, err error) error {
	reason, msg := ReasonProtectAppDeployed, ""
	var parts []string
	for _, st := range p.conn.Status.ProtectApp {
		parts = append(parts, fmt.Sprintf("%s: %d of %d devices without the app", st.Platform, st.DevicesWithoutApp, st.Devices))
		if reason == ReasonProtectAppDeployed && st.State != v1.ProtectAppDeployed {
			reason, msg = ReasonProtectAppBlocked, string(st.Platform)+": "+st.Message
			switch st.State {
			case v1.ProtectAppNotInIntune:
				reason = ReasonAppNotInIntune
			case v1.ProtectAppDrifted:
				reason = ReasonDriftDetected
			}
		}
	}
	if err != nil {
		reason, msg = reasonFor(err), "keeping the Protect app: "+err.Error()
	}
	if reason == ReasonProtectAppDeployed {
		p.conds.set(v1.ConditionProtectAppReady, true, reason, "deployed and assigned; "+strings.Join(parts, "; "))
		return nil
	}
	if c := p.conds.get(v1.ConditionProtectAppReady); c == nil || c.Reason != reason || c.Message != msg {
		if err == nil || outbound.IsTerminal(err) {
			emit(r.Recorder, p.conn, corev1.EventTypeWarning, reason, "ProtectApp", msg)
		}
	}
	p.conds.set(v1.ConditionProtectAppReady, false, reason, msg)
	return err
}

// syncAndroidApp finds the Managed Google Play app synced into Intune by package id and
// keeps its assignments. The operator never creates or deletes it: only Google's
// console approves it.
func (r *MTDConnectorReconciler) syncAndroidApp(ctx context.Context, p *connectorPass, spec *v1.ProtectAppSpec, policies []v1.DeviceRiskPolicy) error {
	ic, conn := p.clients.Intune, p.conn
	st := appStatus(conn, v1.PlatformAndroidEnterprise)
	pkg := spec.AndroidEnterprise.PackageID
	k := &appKeeper{p: p}
	var live *intune.StoreApp
	if st.AppID != "" {
		got, err := ic.GetStoreApp(ctx, st.AppID)
		switch {
		case err == nil && strings.EqualFold(got.BundleID, pkg):
			live = got
		case err == nil || outbound.IsNotFound(err):
			st.AppID, st.Adopted = "", false // removed from Intune, or the package changed
		default:
			return err
		}
	}
	if live == nil {
		all, err := ic.ListStoreApps(ctx, intune.AppAndroidManagedStore)
		if err != nil {
			return err
		}
		found := slices.DeleteFunc(all, func(a intune.StoreApp) bool { return !strings.EqualFold(a.BundleID, pkg) })
		switch len(found) {
		case 0:
			st.State, st.Message = v1.ProtectAppNotInIntune, fmt.Sprintf(managedGooglePlayHelp, pkg)
			return nil
		case 1:
			live = &found[0]
			st.AppID, st.Adopted = live.ID, true
			log.FromContext(ctx).Info("found the synced Managed Google Play app", "connector", conn.Name, "package", pkg, "id", live.ID)
			emit(r.Recorder, conn, corev1.EventTypeNormal, "Found", "ProtectApp", fmt.Sprintf("found the Managed Google Play app %s (%s)", pkg, live.ID))
		default:
			st.State, st.Message = v1.ProtectAppBlocked, fmt.Sprintf("%d Managed Google Play apps have package %s; remove all but one", len(found), pkg)
			return nil
		}
	}
	want := appAssignments(spec, policies, v1.PlatformAndroidEnterprise)
	if err := r.correctAppAssignments(ctx, k, "Android Protect app", live, want); err != nil {
		return err
	}
	k.settle(st)
	return nil
}

// correctAppAssignments makes the app's assignment set the wanted one with one assign
// call (assign replaces the whole set), when it differs.
func (r *MTDConnectorReconciler) correctAppAssignments(ctx context.Context, k *appKeeper, what string, live *intune.StoreApp, want []intune.AppAssignment) error {
	if sameAppAssignments(want, live.Assignments) || !k.mayWrite(what+" assignments") {
		return nil
	}
	log.FromContext(ctx).Info("correcting drift", "connector", k.p.conn.Name, "object", what, "id", live.ID, "call", "AssignStoreApp", "targets", len(want))
	if err := k.p.clients.Intune.AssignStoreApp(ctx, live.ID, want); err != nil {
		return err
	}
	emit(r.Recorder, k.p.conn, corev1.EventTypeNormal, ReasonUpdated, "Update", fmt.Sprintf("assigned the %s %s to %d targets (required)", what, live.ID, len(want)))
	return nil
}
