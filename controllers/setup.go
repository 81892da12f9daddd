package controllers

import (
	"context"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/syslog"
	"github.com/mtd-operator/mtd-operator/internal/ues"
)

// Options are the manager-wide settings of the reconcilers.
type Options struct {
	// DefaultResync applies where a connector sets no resyncInterval.
	DefaultResync time.Duration
	// MaxResync and MaxThreatSyncInterval cap every connector's intervals (0: no cap).
	MaxResync             time.Duration
	MaxThreatSyncInterval time.Duration
	// MaxConcurrentReconciles is the number of workers per controller.
	MaxConcurrentReconciles int
	// MaxDestructiveActionsPerHour is a ceiling over every connector's own guardrail.
	MaxDestructiveActionsPerHour int
	// Approvals: the actions exempted from approval, and the operator's own username
	// (the requester of what the intake opens; it never approves).
	Approvals ApprovalGate
	// RemediationRetention and RemediationPollInterval: see ThreatRemediationReconciler.
	RemediationRetention    time.Duration
	RemediationPollInterval time.Duration
	// UnreportedThreatWindow: see ThreatRemediationReconciler.UnreportedWindow.
	UnreportedThreatWindow time.Duration
	// UESRequestsPer10s limits UES calls per tenant; GraphLimitMargin lengthens the
	// documented Intune windows.
	UESRequestsPer10s int
	GraphLimitMargin  time.Duration
	// Policy is what the installation lends connectors: endpoint override hosts and the
	// namespaces that may use the operator's workload identity (none by default).
	Policy credentials.Policy
	// SyslogPorts are the ports connectors' syslog listeners may use (none: syslog is
	// off); SyslogBindHost the address they bind ("" for every interface).
	SyslogPorts PortSet
	// SyslogReserved binds some of those ports to one namespace each.
	SyslogReserved PortReservations
	SyslogBindHost string
	// SyslogLimits cap each listener (zero fields: the syslog package's defaults).
	SyslogLimits syslog.Limits
	// Clock is the reconcilers' clock (nil: the real one).
	Clock clock.PassiveClock
}

// SetupAll registers the field indexes and every reconciler of the operator with mgr,
// sharing one cache of cloud clients.
func SetupAll(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	intuneLimiters := intune.NewLimiters()
	if o.GraphLimitMargin > 0 {
		intuneLimiters = &intune.Limiters{
			DeviceConfiguration: outbound.NewLimiters(o.GraphLimitMargin, intune.DeviceConfigurationLimits...),
			Devices:             outbound.NewLimiters(o.GraphLimitMargin, intune.DevicesLimits...),
			Identity:            outbound.NewLimiters(o.GraphLimitMargin, intune.DeviceConfigurationLimits...),
		}
	}
	var uesLimiters *outbound.Limiters
	if o.UESRequestsPer10s > 0 {
		uesLimiters = outbound.NewLimiters(0, outbound.Window{Max: o.UESRequestsPer10s, Period: 10 * time.Second})
	}
	// Referenced Secrets and ConfigMaps are read directly, their versions followed through a
	// metadata-only cache: no value of any other Secret is held.
	referenced := credentials.NewReferencedReader(mgr.GetClient(), mgr.GetAPIReader())
	clients := credentials.NewCache(referenced, credentials.Factories{Intune: intune.New, UES: ues.New}).
		WithLimits(intuneLimiters, uesLimiters).WithPolicy(o.Policy)
	rec := mgr.GetEventRecorder("mtd-operator")
	copts := controller.Options{MaxConcurrentReconciles: max(o.MaxConcurrentReconciles, 1)}

	snapshots, refreshed := snapshot.NewStore(), make(chan event.GenericEvent, 64)
	inventories := snapshot.NewKeyed[*snapshot.AppInventory]()
	hints := NewSyslogHints(clk.Now)

	if err := (&MTDConnectorReconciler{Client: mgr.GetClient(), Recorder: rec, Clients: clients, Snapshots: snapshots, Inventories: inventories, Clock: clk,
		DefaultResync: o.DefaultResync, MaxResync: o.MaxResync}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&DeviceRiskPolicyReconciler{Client: mgr.GetClient(), Recorder: rec, Clients: clients, Clock: clk,
		DefaultResync: o.DefaultResync, MaxResync: o.MaxResync}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&ThreatSyncReconciler{Client: mgr.GetClient(), Recorder: rec, Clients: clients, Snapshots: snapshots, Refreshed: refreshed, Clock: clk,
		MaxInterval: o.MaxThreatSyncInterval, Operator: o.Approvals.Operator, Hints: hints}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&ThreatRemediationReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Clients: clients,
		Snapshots: snapshots, Inventories: inventories, Refreshed: refreshed, Clock: clk,
		Retention: o.RemediationRetention, PollInterval: o.RemediationPollInterval, UnreportedWindow: o.UnreportedThreatWindow,
		MaxDestructiveActionsPerHour: o.MaxDestructiveActionsPerHour, Approvals: o.Approvals}).SetupWithManager(mgr, copts); err != nil {
		return err
	}
	if err := (&SyslogReconciler{Client: mgr.GetClient(), Secrets: referenced, Recorder: rec, Snapshots: snapshots, Hints: hints, Clock: clk,
		Operator: o.Approvals.Operator, Ports: o.SyslogPorts, Reserved: o.SyslogReserved, BindHost: o.SyslogBindHost, Limits: o.SyslogLimits}).SetupWithManager(ctx, mgr, copts); err != nil {
		return err
	}
	return (&ActiveThreatsReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr, copts)
}
