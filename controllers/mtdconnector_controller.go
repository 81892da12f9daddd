package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// Finalizer is the one finalizer every kind of this API carries while it has
// something to clean up outside the cluster.
const Finalizer = "mtd.operator.dev/finalizer"

// Reasons of MTDConnector conditions.
const (
	ReasonReady                = "Ready"
	ReasonSuspended            = "Suspended"
	ReasonTenantAlreadyManaged = "TenantAlreadyManaged"
	ReasonPartnerNotOnboarded  = "PartnerNotOnboarded"
	ReasonConnected            = "Connected"
	ReasonHealthy              = "Healthy"
	ReasonPartnerNotEnabled    = "PartnerNotEnabled"
	ReasonHeartbeatStale       = "HeartbeatStale"
	ReasonUpToDate             = "UpToDate"
	ReasonUpdated              = "Updated"
	ReasonDriftDetected        = "DriftDetected"
	ReasonNotLinked            = "NotLinked"
	ReasonTenantMismatch       = "TenantMismatch"
	ReasonDeletionBlocked      = "DeletionBlocked"
	ReasonUnknown              = "Unknown"
)

// partnerNotOnboardedHelp is what an administrator must do; the operator cannot
// onboard the partner itself (it needs consent in both consoles).
const partnerNotOnboardedHelp = "Intune has no BlackBerry Protect Mobile connector in this tenant. An Intune administrator must add it (Intune admin center > Tenant administration > Connectors and tokens > Mobile Threat Defense > Add > BlackBerry Protect Mobile), then a Global Administrator must consent in the UES console (Settings > Integrations > Microsoft Intune). The operator checks again every hour and at once on any change to this object."

// ClientSource hands out a connector's cloud clients (credentials.Cache in production).
type ClientSource interface {
	Get(ctx context.Context, conn *v1.MTDConnector) (*credentials.Clients, error)
	Forget(uid types.UID)
}

// MTDConnectorReconciler keeps Intune's BlackBerry connector configured as declared and
// reports the health of both sides.
type MTDConnectorReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clients  ClientSource
	// Snapshots holds the connectors' device snapshots (the Protect app inventory counts
	// their devices; a deleted connector's snapshot is dropped).
	Snapshots *snapshot.Store
	// Inventories receives each connector's Protect app inventory, for the remediations.
	Inventories *snapshot.Inventories
	Clock       clock.PassiveClock
	// DefaultResync applies when spec.resyncInterval is unset (default 5 minutes).
	DefaultResync time.Duration
	// MaxResync caps every connector's resync interval (tests, the demo); 0 = no cap.
	MaxResync time.Duration
}

// connectorPass carries one reconcile's observations into the status.
type connectorPass struct {
	r       *MTDConnectorReconciler
	conn    *v1.MTDConnector
	conds   conditions
	clients *credentials.Clients
	live    *intune.Connector
	// guards are create-pending annotations to clear once the status holds the ids.
	guards []string
}

// Reconcile implements reconcile.Reconciler through the shared shell.
func (r *MTDConnectorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileManaged(ctx, r.Client, req, &v1.MTDConnector{}, func(conn *v1.MTDConnector, conds conditions) pass {
		return &connectorPass{r: r, conn: conn, conds: conds}
	})
}

// connect makes sure this connector owns its tenant and has its clients.
func (p *connectorPass) connect(ctx context.Context) (*summary, ctrl.Result, error) {
	r, conn := p.r, p.conn
	owner, err := r.tenantOwner(ctx, conn)
	if err != nil {
		return nil, ctrl.Result{}, err
	}
	if owner != nil && owner.UID != conn.UID {
		msg := fmt.Sprintf("Intune tenant %s already has its BlackBerry connector managed by MTDConnector %s/%s (the oldest); this one makes no calls until that one is deleted",
			conn.Spec.Intune.TenantID, owner.Namespace, owner.Name)
		warnOnce(r.Recorder, conn, p.conds, ReasonTenantAlreadyManaged, msg)
		r.forget(conn)
		log.FromContext(ctx).Info("tenant owned by another connector", "tenant", conn.Spec.Intune.TenantID, "owner", owner.Namespace+"/"+owner.Name)
		return &summary{reason: ReasonTenantAlreadyManaged, message: msg, stalled: true}, ctrl.Result{}, nil
	}
	clients, err := r.Clients.Get(ctx, conn)
	if err != nil {
		var cerr *credentials.Error
		if errors.As(err, &cerr) {
			// Fixed by a Secret or spec change, both of which are watched.
			warnOnce(r.Recorder, conn, p.conds, cerr.Reason, cerr.Message)
			p.conds.set(v1.ConditionIntuneConnected, false, cerr.Reason, cerr.Message)
			return &summary{reason: cerr.Reason, message: cerr.Message, stalled: true}, ctrl.Result{}, nil
		}
		return nil, ctrl.Result{}, err
	}
	p.clients = clients
	return nil, ctrl.Result{}, nil
}

// sync reads both clouds, corrects Intune's connector, and judges the partner.
func (p *connectorPass) sync(ctx context.Context) (ctrl.Result, error) {
	intuneErr := p.r.syncIntune(ctx, p)
	uesErr := p.r.observeUES(ctx, p)
	p.r.judgeHealth(p)
	var appErr error
	if intuneErr == nil || outbound.IsNotFound(intuneErr) {
		// The app does not need the partner's connector; it needs Graph to answer.
		appErr = p.r.syncProtectApp(ctx, p)
	}
	res, err := p.r.conclude(p, intuneErr, uesErr)
	if err == nil && appErr != nil && !outbound.IsTerminal(appErr) {
		return requeueFor(appErr) // ProtectAppReady says why; Ready does not depend on it
	}
	return res, err
}

func (p *connectorPass) forget() { p.r.forget(p.conn) }

// authenticated records, once, that Graph accepted this connector's credentials for its
// tenant: what makes it eligible to own the tenant.
func (p *connectorPass) authenticated(ctx context.Context) {
	if p.conn.Status.AuthenticatedAt != nil {
		return
	}
	now := metav1.NewTime(p.r.Clock.Now())
	p.conn.Status.AuthenticatedAt = &now
	log.FromContext(ctx).Info("credentials authenticated to the tenant", "connector", p.conn.Name, "tenant", p.conn.Spec.Intune.TenantID)
}

// written clears the crash guards (only now that the ids are stored may they go).
func (p *connectorPass) written(ctx context.Context) error {
	publishConnectorMetrics(p.conn, p.r.Clock.Now())
	return clearGuards(ctx, p.r.Client, p.conn, p.guards)
}

// syncIntune reads the partner's connector and corrects drift: one GET, and one PATCH
// with only the differing fields when there are any.
func (r *MTDConnectorReconciler) syncIntune(ctx context.Context, p *connectorPass) error {
	conn := p.conn
	live, err := p.clients.Intune.GetConnector(ctx, intune.BlackBerryConnectorID)
	if err == nil || outbound.IsNotFound(err) || outbound.KindOf(err) == outbound.Forbidden {
		p.authenticated(ctx)
	}
	if err != nil {
		reason, msg := reasonFor(err), err.Error()
		if outbound.IsNotFound(err) {
			reason, msg = ReasonPartnerNotOnboarded, partnerNotOnboardedHelp
			conn.Status.ConnectorID, conn.Status.PartnerState, conn.Status.LastHeartbeatTime = "", "", nil
		}
		p.conds.set(v1.ConditionIntuneConnected, false, reason, msg)
		p.conds.set(v1.ConditionSynced, false, reason, "Intune's connector could not be read")
		return err
	}
	p.conds.set(v1.ConditionIntuneConnected, true, ReasonConnected, "the BlackBerry Protect Mobile connector exists in Intune")
	r.storeConnector(p, live)

	patch, diffs := settingsDrift(conn.Spec.Intune.ConnectorSettings, live.Settings)
	switch {
	case len(diffs) == 0:
		p.conds.set(v1.ConditionSynced, true, ReasonUpToDate, "Intune's connector matches spec.intune.connectorSettings")
	case conn.Spec.ManagementPolicy == v1.ManagementPolicyObserveOnly:
		msg := "ObserveOnly: Intune differs from the spec in " + strings.Join(diffs, ", ")
		if c := p.conds.get(v1.ConditionSynced); c == nil || c.Message != msg {
			emit(r.Recorder, conn, corev1.EventTypeWarning, ReasonDriftDetected, "Observe", msg)
		}
		p.conds.set(v1.ConditionSynced, false, ReasonDriftDetected, msg)
	default:
		log.FromContext(ctx).Info("correcting drift", "connector", conn.Name, "tenant", conn.Spec.Intune.TenantID, "call", "PatchConnector", "fields", diffs)
		updated, err := p.clients.Intune.PatchConnector(ctx, intune.BlackBerryConnectorID, patch)
		if err != nil {
			p.conds.set(v1.ConditionSynced, false, reasonFor(err), "correcting "+strings.Join(diffs, ", ")+": "+err.Error())
			return err
		}
		emit(r.Recorder, conn, corev1.EventTypeNormal, ReasonUpdated, "Update", "Corrected Intune connector settings: "+strings.Join(diffs, ", "))
		r.storeConnector(p, updated)
		p.conds.set(v1.ConditionSynced, true, ReasonUpdated, "corrected "+strings.Join(diffs, ", "))
	}
	return nil
}

func (r *MTDConnectorReconciler) storeConnector(p *connectorPass, live *intune.Connector) {
	p.live = live
	s := &p.conn.Status
	s.ConnectorID, s.PartnerState = live.ID, live.PartnerState
	if s.PartnerState == "" {
		s.PartnerState = "unknown"
	}
	s.LastHeartbeatTime = nil
	if !live.LastHeartbeat.IsZero() {
		t := metav1.NewTime(live.LastHeartbeat)
		s.LastHeartbeatTime = &t
	}
}

// observeUES proves the UES side with documented calls only: the token and the first
// device of /devices/v2. A connector that opts into the modelled API also reads UES's
// Intune integration status (one more GET) for the link's tenant and state; a real
// tenant has no such route, so without the opt-in it is never called.
func (r *MTDConnectorReconciler) observeUES(ctx context.Context, p *connectorPass) error {
	conn := p.conn
	devices, err := p.clients.UES.Probe(ctx)
	if err != nil {
		p.conds.set(v1.ConditionUESConnected, false, reasonFor(err), err.Error())
		return err
	}
	reached := fmt.Sprintf("the UES API answers for tenant %s (%d devices)", conn.Spec.UES.TenantID, devices)
	if !conn.Spec.UES.ModelledMobileAPI {
		p.conds.set(v1.ConditionUESConnected, true, ReasonConnected, reached+"; the link to Intune is judged by Intune's partner state and heartbeat")
		return nil
	}
	st, err := p.clients.UES.IntuneIntegration(ctx)
	if err != nil {
		p.conds.set(v1.ConditionUESConnected, false, reasonFor(err), "the modelled integration status (spec.ues.modelledMobileAPI): "+err.Error())
		return err
	}
	switch {
	case !strings.EqualFold(st.IntuneTenantID, string(conn.Spec.Intune.TenantID)):
		p.conds.set(v1.ConditionUESConnected, false, ReasonTenantMismatch,
			fmt.Sprintf("UES tenant %s is linked to Intune tenant %q, not %s", conn.Spec.UES.TenantID, st.IntuneTenantID, conn.Spec.Intune.TenantID))
	case st.Status != "connected":
		p.conds.set(v1.ConditionUESConnected, false, ReasonNotLinked, "UES reports its Intune integration as "+st.Status+warnings(st))
	default:
		p.conds.set(v1.ConditionUESConnected, true, ReasonConnected, reached+"; UES reports its link to this Intune tenant (modelled)"+warnings(st))
	}
	return nil
}

func warnings(st *ues.IntegrationStatus) string {
	if len(st.Warnings) == 0 {
		return ""
	}
	return "; warnings: " + strings.Join(st.Warnings, "; ")
}

// judgeHealth sets PartnerHealthy as public tooling judges it: state enabled and a
// heartbeat no older than spec.healthPolicy.maxHeartbeatAge.
func (r *MTDConnectorReconciler) judgeHealth(p *connectorPass) {
	conn := p.conn
	var was metav1.ConditionStatus // copied: the condition is edited in place below
	if c := p.conds.get(v1.ConditionPartnerHealthy); c != nil {
		was = c.Status
	}
	switch {
	case p.live == nil:
		p.conds.setStatus(v1.ConditionPartnerHealthy, metav1.ConditionUnknown, ReasonUnknown, "Intune's connector could not be read")
	case p.live.PartnerState != "enabled":
		p.conds.set(v1.ConditionPartnerHealthy, false, ReasonPartnerNotEnabled, fmt.Sprintf("Intune reports the partner as %q, not enabled", conn.Status.PartnerState))
	default:
		maxAge := conn.MaxHeartbeatAge()
		age := r.Clock.Since(p.live.LastHeartbeat)
		if p.live.LastHeartbeat.IsZero() || age > maxAge {
			p.conds.set(v1.ConditionPartnerHealthy, false, ReasonHeartbeatStale, fmt.Sprintf("the partner's last heartbeat (%s) is older than %s", heartbeatText(p.live.LastHeartbeat), maxAge))
		} else {
			p.conds.set(v1.ConditionPartnerHealthy, true, ReasonHealthy, "partner enabled, last heartbeat "+heartbeatText(p.live.LastHeartbeat))
		}
	}
	now := p.conds.get(v1.ConditionPartnerHealthy)
	if was != "" && was != now.Status {
		kind := corev1.EventTypeWarning
		if now.Status == metav1.ConditionTrue {
			kind = corev1.EventTypeNormal
		}
		emit(r.Recorder, conn, kind, "PartnerHealth"+string(now.Status), "Observe", now.Message)
	}
}

func heartbeatText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// conclude sets Ready and the kstatus conditions and decides when to come back.
func (r *MTDConnectorReconciler) conclude(p *connectorPass, intuneErr, uesErr error) (ctrl.Result, error) {
	conn := p.conn
	err := errors.Join(intuneErr, uesErr)
	if err == nil {
		now := metav1.NewTime(r.Clock.Now())
		conn.Status.LastSyncTime = &now
	}
	for _, typ := range []string{v1.ConditionIntuneConnected, v1.ConditionUESConnected, v1.ConditionSynced, v1.ConditionPartnerHealthy} {
		c := p.conds.get(typ)
		if c != nil && c.Status == metav1.ConditionTrue {
			continue
		}
		reason, msg := ReasonUnknown, typ+" is not yet known"
		if c != nil {
			reason, msg = c.Reason, c.Message
		}
		terminal := outbound.IsTerminal(err) || reason == ReasonPartnerNotOnboarded || reason == ReasonTenantMismatch
		if terminal && (intuneErr != nil || uesErr != nil) {
			warnOnce(r.Recorder, p.conn, p.conds, reason, msg)
		}
		p.conds.summarise(summary{reason: reason, message: msg, stalled: terminal, reconciling: !terminal && err != nil})
		return r.pace(conn, err)
	}
	p.conds.summarise(summary{ready: true, reason: ReasonReady, message: "connector configured and partner healthy"})
	return r.pace(conn, nil)
}

// pace turns the outcome into the next visit: errors per requeueFor, health per a
// jittered resync.
func (r *MTDConnectorReconciler) pace(conn *v1.MTDConnector, err error) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: jitter(resyncInterval(conn, r.DefaultResync, r.MaxResync))}, nil
	}
	return requeueFor(err)
}
