package controllers

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"k8s.io/apimachinery/pkg/util/validation"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/snapshot"
	"github.com/mtd-operator/mtd-operator/internal/syslog"
)

// SyslogReconciler runs one syslog listener per MTDConnector that declares
// spec.threatSync.syslog, on the leader only (it is a controller, and its listeners
// live as long as the manager's leadership), and feeds what they receive into the
// connector's intake. Each listener belongs to exactly one connector: its events are
// matched against that connector's device snapshot and open or enrich that connector's
// remediations, so they never cross tenants.
type SyslogReconciler struct {
	client.Client
	// Secrets reads the listener's TLS Secret (the referenced reader: no Secret is
	// cached cluster-wide).
	Secrets   client.Reader
	Recorder  events.EventRecorder
	Snapshots *snapshot.Store
	Hints     *SyslogHints
	Clock     clock.PassiveClock
	// Operator is the operator's username, the requester of what the intake opens.
	Operator string
	// Ports are the ports the installation lets connectors listen on; none: syslog
	// is off for the installation.
	Ports PortSet
	// Reserved binds ports to namespaces: only a connector of that namespace may use
	// (or hold up) a reserved port.
	Reserved PortReservations
	// BindHost is the address listeners bind ("" for every interface).
	BindHost string
	// Limits cap each listener (zero values: the syslog package's defaults).
	Limits syslog.Limits

	mu        sync.Mutex
	ctx       context.Context // the manager's, set by Start
	listeners map[types.NamespacedName]*runningListener
}

type runningListener struct {
	uid     types.UID
	version string // what it was started from: port, certificate, sources
	l       *syslog.Listener
	done    chan struct{}
}

// Reasons of status.syslog.
const (
	ReasonSyslogListening   = "Listening"
	ReasonSyslogPlainTCP    = "PlainTCP"
	ReasonSyslogPortBlocked = "PortNotAllowed"
	ReasonSyslogPortInUse   = "PortInUse"
	ReasonSyslogTLSInvalid  = "TLSSecretInvalid"
	ReasonSyslogBindFailed  = "BindFailed"
)

// Start keeps the reconciler's context for the listeners' consumers and closes every
// listener when the manager stops or loses its leadership.
func (r *SyslogReconciler) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.listeners {
		r.stopLocked(key)
	}
	return nil
}

// NeedLeaderElection: only the leader listens, so one replica applies each event.
func (r *SyslogReconciler) NeedLeaderElection() bool { return true }

// Reconcile implements reconcile.Reconciler.
func (r *SyslogReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var conn v1.MTDConnector
	if err := r.Get(ctx, req.NamespacedName, &conn); err != nil {
		r.stop(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	spec := conn.Spec.ThreatSync.Syslog
	if spec == nil || !conn.DeletionTimestamp.IsZero() || conn.Spec.Suspend {
		r.stop(req.NamespacedName)
		r.Hints.forget(conn.UID)
		return ctrl.Result{}, r.setStatus(ctx, &conn, nil)
	}
	cfg, version, failed := r.desired(ctx, &conn, spec)
	if failed != nil {
		r.stop(req.NamespacedName)
		return ctrl.Result{}, r.setStatus(ctx, &conn, failed)
	}
	if err := r.ensure(ctx, &conn, cfg, version); err != nil {
		log.FromContext(ctx).Error(err, "syslog listener not started", "connector", conn.Name, "address", cfg.Addr)
		st := failedStatus(ReasonSyslogBindFailed, "cannot listen on "+cfg.Addr+": "+err.Error())
		return ctrl.Result{RequeueAfter: 30e9}, r.setStatus(ctx, &conn, st)
	}
	st := &v1.SyslogStatus{State: v1.SyslogListening, Reason: ReasonSyslogListening, Address: cfg.Addr,
		Message: "receiving UES's Mobile Alerts over TLS"}
	if cfg.TLS == nil {
		st.Reason, st.Message = ReasonSyslogPlainTCP, "receiving UES's Mobile Alerts over plain TCP (spec.threatSync.syslog.allowPlainTCP): alerts cross the network in clear"
	}
	return ctrl.Result{}, r.setStatus(ctx, &conn, st)
}

// desired is the listener the connector asks for, and a version that changes whenever
// it must be restarted; or why it cannot have one.
func (r *SyslogReconciler) desired(ctx context.Context, conn *v1.MTDConnector, spec *v1.SyslogSpec) (syslog.Config, string, *v1.SyslogStatus) {
	if !r.Ports.Has(spec.Port) {
		return syslog.Config{}, "", failedStatus(ReasonSyslogPortBlocked, fmt.Sprintf(
			"port %d is not one the installation allows (--syslog-ports, the chart's syslog.ports: %s)", spec.Port, r.Ports))
	}
	if ns, ok := r.Reserved[spec.Port]; ok && ns != conn.Namespace {
		return syslog.Config{}, "", failedStatus(ReasonSyslogPortBlocked, fmt.Sprintf(
			"port %d is reserved for namespace %s (--syslog-port-namespaces, the chart's syslog.portNamespaces)", spec.Port, ns))
	}
	if owner, err := r.portOwner(ctx, spec.Port); err != nil || owner != client.ObjectKeyFromObject(conn) {
		msg := fmt.Sprintf("port %d is used by MTDConnector %s, which asked for it first", spec.Port, owner)
		if err != nil {
			msg = "cannot tell who owns port " + strconv.Itoa(int(spec.Port)) + ": " + err.Error()
		}
		return syslog.Config{}, "", failedStatus(ReasonSyslogPortInUse, msg)
	}
	cfg := syslog.Config{Addr: net.JoinHostPort(r.BindHost, strconv.Itoa(int(spec.Port))), Limits: r.Limits}
	for _, c := range spec.AllowedSourceCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil { // CEL checks it at admission; an older object may still hold one
			return syslog.Config{}, "", failedStatus(ReasonSyslogBindFailed, "allowedSourceCIDRs: "+err.Error())
		}
		cfg.AllowedSources = append(cfg.AllowedSources, p.Masked())
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%v|%v|", cfg.Addr, spec.AllowedSourceCIDRs, spec.AllowPlainTCP)
	if spec.TLS != nil {
		tc, err := r.serverTLS(ctx, conn.Namespace, spec.TLS, h)
		if err != nil {
			return syslog.Config{}, "", failedStatus(ReasonSyslogTLSInvalid, err.Error())
		}
		cfg.TLS = tc
	}
	return cfg, hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// serverTLS builds the listener's TLS from its Secret, folding the Secret's content
// into h so that a rotation restarts the listener. Errors never carry key material.
func (r *SyslogReconciler) serverTLS(ctx context.Context, ns string, spec *v1.SyslogTLS, h interface{ Write([]byte) (int, error) }) (*tls.Config, error) {
	var s corev1.Secret
	if err := r.Secrets.Get(ctx, types.NamespacedName{Namespace: ns, Name: string(spec.SecretName)}, &s); err != nil {
		return nil, fmt.Errorf("reading Secret %s: %v", spec.SecretName, client.IgnoreNotFound(err))
	}
	cert, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("Secret %s does not hold a certificate and its key under tls.crt and tls.key", spec.SecretName)
	}
	_, _ = h.Write(s.Data[corev1.TLSCertKey])
	_, _ = h.Write(s.Data[corev1.TLSPrivateKeyKey])
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if spec.RequireClientCertificate {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.Data["ca.crt"]) {
			return nil, fmt.Errorf("Secret %s has no CA certificate under ca.crt, which requireClientCertificate needs", spec.SecretName)
		}
		_, _ = h.Write(s.Data["ca.crt"])
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// portOwner is the connector a port belongs to: the oldest asking for it.
func (r *SyslogReconciler) portOwner(ctx context.Context, port int32) (types.NamespacedName, error) {
	var list v1.MTDConnectorList
	if err := r.List(ctx, &list); err != nil {
		return types.NamespacedName{}, err
	}
	var owner *v1.MTDConnector
	for i := range list.Items {
		c := &list.Items[i]
		if s := c.Spec.ThreatSync.Syslog; s == nil || s.Port != port || !c.DeletionTimestamp.IsZero() || c.Spec.Suspend {
			continue
		}
		if ns, ok := r.Reserved[port]; ok && ns != c.Namespace {
			continue // a claim from outside the port's namespace holds nothing up
		}
		if owner == nil || r.ownsBefore(c, owner) {
			owner = c
		}
	}
	if owner == nil {
		return types.NamespacedName{}, nil
	}
	return client.ObjectKeyFromObject(owner), nil
}

// ownsBefore orders the claims on a port: the older connector first. Creation times
// are kept to the second, so between two of the same second the one already listening
// keeps the port (a newcomer never takes it over), and then the names decide.
func (r *SyslogReconciler) ownsBefore(a, b *v1.MTDConnector) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if la, lb := r.listening(a), r.listening(b); la != lb {
		return la
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// listening says whether the connector's listener runs.
func (r *SyslogReconciler) listening(c *v1.MTDConnector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	run := r.listeners[client.ObjectKeyFromObject(c)]
	return run != nil && run.uid == c.UID
}

// ensure runs the listener of version, replacing one of another version.
func (r *SyslogReconciler) ensure(ctx context.Context, conn *v1.MTDConnector, cfg syslog.Config, version string) error {
	key := client.ObjectKeyFromObject(conn)
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.listeners[key]; cur != nil && cur.version == version && cur.uid == conn.UID {
		return nil
	}
	r.stopLocked(key) // the port must be free before it is bound again
	cfg.Observer = syslogObserver{ns: conn.Namespace, name: conn.Name}
	l, err := syslog.Listen(cfg)
	if err != nil {
		return err
	}
	base := r.ctx
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	run := &runningListener{uid: conn.UID, version: version, l: l, done: make(chan struct{})}
	if r.listeners == nil {
		r.listeners = map[types.NamespacedName]*runningListener{}
	}
	r.listeners[key] = run
	go r.consume(log.IntoContext(base, log.FromContext(ctx)), key, run)
	log.FromContext(ctx).Info("syslog listener started", "connector", conn.Name, "address", l.Addr().String(), "tls", cfg.TLS != nil)
	emit(r.Recorder, conn, corev1.EventTypeNormal, "SyslogListening", "Syslog", "listening on "+l.Addr().String())
	return nil
}

func (r *SyslogReconciler) stop(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked(key)
}

// stopLocked closes the listener and waits until its consumer has applied what it
// had taken.
func (r *SyslogReconciler) stopLocked(key types.NamespacedName) {
	run := r.listeners[key]
	if run == nil {
		return
	}
	delete(r.listeners, key)
	_ = run.l.Close()
	<-run.done
}

// setStatus writes status.syslog when it changed (a merge patch of that field alone:
// the connector reconciler and the threat sync write the rest).
func (r *SyslogReconciler) setStatus(ctx context.Context, conn *v1.MTDConnector, st *v1.SyslogStatus) error {
	cur := conn.Status.Syslog
	if st == nil && cur == nil {
		return nil
	}
	if st != nil && cur != nil && cur.State == st.State && cur.Reason == st.Reason && cur.Message == st.Message && cur.Address == st.Address {
		return nil
	}
	if st != nil {
		now := metav1.NewTime(r.Clock.Now())
		st.Since = &now
		if st.State == v1.SyslogFailed {
			emit(r.Recorder, conn, corev1.EventTypeWarning, "Syslog"+st.Reason, "Syslog", st.Message)
		}
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"syslog": st}})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, conn, client.RawPatch(types.MergePatchType, patch)))
}

func failedStatus(reason, msg string) *v1.SyslogStatus {
	return &v1.SyslogStatus{State: v1.SyslogFailed, Reason: reason, Message: msg}
}

// PortSet is the ports the installation allows for syslog listeners.
type PortSet []int32

// ParsePorts reads "6514,6600-6609".
func ParsePorts(s string) (PortSet, error) {
	var out PortSet
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		}
		if err != nil || a == 0 || b < a || b-a > 1024 {
			return nil, fmt.Errorf("syslog ports: %q is not a port or a range of at most 1024 ports", part)
		}
		for p := a; p <= b; p++ {
			out = append(out, int32(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// PortReservations binds syslog ports to the namespace whose connectors alone may use
// them. Without one, the oldest connector asking for a port gets it, from any
// namespace; with one, a connector elsewhere can neither take nor squat the port.
type PortReservations map[int32]string

// ParsePortReservations reads "6514=team-a,6515=team-b"; every port must be allowed.
func ParsePortReservations(s string, allowed PortSet) (PortReservations, error) {
	out := PortReservations{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		port, ns, ok := strings.Cut(part, "=")
		p, err := strconv.ParseUint(strings.TrimSpace(port), 10, 16)
		ns = strings.TrimSpace(ns)
		if !ok || err != nil || len(validation.IsDNS1123Label(ns)) > 0 {
			return nil, fmt.Errorf("syslog port namespaces: %q is not port=namespace", part)
		}
		if !allowed.Has(int32(p)) {
			return nil, fmt.Errorf("syslog port namespaces: port %d is not one of the syslog ports (%s)", p, allowed)
		}
		if prev, dup := out[int32(p)]; dup && prev != ns {
			return nil, fmt.Errorf("syslog port namespaces: port %d is reserved twice (%s, %s)", p, prev, ns)
		}
		out[int32(p)] = ns
	}
	return out, nil
}

// Has says whether p is allowed.
func (s PortSet) Has(p int32) bool { _, ok := slices.BinarySearch(s, p); return ok }

func (s PortSet) String() string {
	if len(s) == 0 {
		return "none"
	}
	parts := make([]string, len(s))
	for i, p := range s {
		parts[i] = strconv.Itoa(int(p))
	}
	return strings.Join(parts, ",")
}
