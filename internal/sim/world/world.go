// Package world is the twin's shared domain model: the Entra tenants, their
// Intune service and the linked BlackBerry UES tenants, on one clock. The HTTP
// services (entra, graph, ues, admin) are views of it. One mutex guards
// everything: requests are short, and a single lock keeps cross-cloud effects
// (a detection changing Intune compliance) trivially consistent.
package world

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// World holds every tenant.
type World struct {
	mu      sync.Mutex
	Clock   *Clock
	tenants map[string]*Tenant
	byUES   map[string]*Tenant
	order   []string

	// reportDelay is how long a UES report takes to reach Intune; pending
	// holds the reports on their way, ordered by due time.
	reportDelay time.Duration
	pending     []pendingReport

	// actionDelay is how long a device takes to check in and carry out a
	// remoteLock, retire or wipe; actions holds those not yet carried out,
	// ordered by due time.
	actionDelay time.Duration
	actions     []pendingAction

	// onAlert is told of every alert raised, resolved or ignored (UES's
	// syslog feed listens here); nil = nobody listens.
	onAlert AlertHook
}

// AlertHook is called with the world locked each time an alert is raised
// (status active), resolved or ignored, after the change. It must not block
// nor call back into the world: it only hands the event on.
type AlertHook func(s *State, t *Tenant, d *Device, a *Alert)

// SetAlertHook installs the alert listener (nil removes it). Reset keeps it:
// it is wiring, not world state.
func (w *World) SetAlertHook(h AlertHook) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onAlert = h
}

// alertChanged tells the listener about a.
func (s *State) alertChanged(t *Tenant, d *Device, a *Alert) {
	if s.w.onAlert != nil {
		s.w.onAlert(s, t, d, a)
	}
}

// pendingReport is a UES report of one device, delivered to Intune at due.
type pendingReport struct {
	t   *Tenant
	d   *Device
	due time.Time
}

// pendingAction is a device action (d.Actions[i]) the device carries out at
// due.
type pendingAction struct {
	t   *Tenant
	d   *Device
	i   int
	due time.Time
}

// New returns an empty world on wall time.
func New() *World {
	return &World{Clock: NewClock(), tenants: map[string]*Tenant{}, byUES: map[string]*Tenant{}}
}

// State is the world while its lock is held, with "now" fixed for the call.
type State struct {
	w   *World
	Now time.Time
}

// Run calls fn with the world locked, after delivering every UES report and
// carrying out every device action due by now, so fn sees exactly what
// Intune has received and the devices have done by then.
func (w *World) Run(fn func(s *State)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &State{w: w, Now: w.Clock.Now()}
	s.deliverDue()
	fn(s)
}

// SetReportDelay sets how long (world time) a UES report takes to reach
// Intune; 0 delivers at once. Reports already on their way keep their due
// time. A negative d counts as 0.
func (w *World) SetReportDelay(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reportDelay = max(d, 0)
}

// ReportDelay returns the report delay.
func (w *World) ReportDelay() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reportDelay
}

// SetActionDelay sets how long (world time) a device takes to check in and
// carry out a remoteLock, retire or wipe; 0 carries them out at once.
// Actions already pending keep their due time. A negative d counts as 0.
func (w *World) SetActionDelay(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.actionDelay = max(d, 0)
}

// ActionDelay returns the action delay.
func (w *World) ActionDelay() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.actionDelay
}

// Reset empties the world (reports on their way and pending device actions
// included), puts the clock back on wall time and runs seed. The report and
// action delays are kept.
func (w *World) Reset(seed func(s *State) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tenants, w.byUES, w.order = map[string]*Tenant{}, map[string]*Tenant{}, nil
	w.pending, w.actions = nil, nil
	w.Clock.Reset()
	if seed == nil {
		return nil
	}
	return seed(&State{w: w, Now: w.Clock.Now()})
}

// NewID returns a fresh GUID, the id format of all three clouds.
func NewID() string { return uuid.NewString() }

// Errors the services map to their own status codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// Tenant returns an Entra tenant by id.
func (s *State) Tenant(id string) *Tenant { return s.w.tenants[id] }

// TenantByUES returns the Entra tenant linked to a UES tenant id.
func (s *State) TenantByUES(id string) *Tenant { return s.w.byUES[id] }

// Tenants returns every tenant in creation order.
func (s *State) Tenants() []*Tenant {
	out := make([]*Tenant, 0, len(s.w.order))
	for _, id := range s.w.order {
		out = append(out, s.w.tenants[id])
	}
	return out
}

// AddTenant creates an Entra tenant and its linked UES tenant. Empty ids are
// generated.
func (s *State) AddTenant(id, name, uesID string) (*Tenant, error) {
	if id == "" {
		id = NewID()
	}
	if uesID == "" {
		uesID = NewID()
	}
	if s.w.tenants[id] != nil || s.w.byUES[uesID] != nil {
		return nil, ErrConflict
	}
	t := &Tenant{
		ID: id, DisplayName: name,
		Apps: map[string]*App{}, Groups: map[string]*Group{}, Users: map[string]*User{},
		devices: map[string]*Device{}, intuneIdx: map[*Device]int{},
		Connectors: map[string]*Connector{}, Policies: map[string]*CompliancePolicy{},
		CAPolicies: map[string]*CAPolicy{},
		mobileApps: map[string]*MobileApp{}, appConfigs: map[string]*AppConfiguration{},
		UES: &UESTenant{
			ID: uesID, Apps: map[string]*UESApp{}, RiskAssessment: map[string]Risk{},
			Alerts: map[string]*Alert{}, UsedJTIs: map[string]time.Time{}, Reporting: true,
		},
	}
	s.w.tenants[id], s.w.byUES[uesID] = t, t
	s.w.order = append(s.w.order, id)
	return t, nil
}

// AddApp registers an Entra app. An empty client id or secret is generated.
func (s *State) AddApp(t *Tenant, a App) (*App, error) {
	if a.ClientID == "" {
		a.ClientID = NewID()
	}
	if a.Secret == "" {
		a.Secret = "sim~" + uuid.NewString()
	}
	if t.Apps[a.ClientID] != nil {
		return nil, ErrConflict
	}
	t.Apps[a.ClientID] = &a
	return &a, nil
}

// AddUESApp registers a UES API application.
func (s *State) AddUESApp(t *Tenant, a UESApp) (*UESApp, error) {
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.Secret == "" {
		a.Secret = uuid.NewString() + uuid.NewString()
	}
	if a.Scopes == nil {
		a.Scopes = slices.Clone(UESScopes)
	}
	if t.UES.Apps[a.ID] != nil {
		return nil, ErrConflict
	}
	t.UES.Apps[a.ID] = &a
	return &a, nil
}

// AddGroup creates a group (members may be user or Entra device ids).
func (s *State) AddGroup(t *Tenant, id, name string, members []string) (*Group, error) {
	if id == "" {
		id = NewID()
	}
	if t.Groups[id] != nil {
		return nil, ErrConflict
	}
	g := &Group{ID: id, DisplayName: name, Members: map[string]bool{}}
	for _, m := range members {
		g.Members[m] = true
	}
	t.Groups[id] = g
	return g, nil
}

// AddUser creates a user and adds it to groups.
func (s *State) AddUser(t *Tenant, u User, groups []string) (*User, error) {
	if u.ID == "" {
		u.ID = NewID()
	}
	if t.Users[u.ID] != nil {
		return nil, ErrConflict
	}
	for _, g := range groups {
		if t.Groups[g] == nil {
			return nil, ErrNotFound
		}
	}
	t.Users[u.ID] = &u
	for _, g := range groups {
		t.Groups[g].Members[u.ID] = true
	}
	return &u, nil
}

// AddDevice enrols d in both clouds; empty ids are generated. An Android device
// without an Enrollment is enrolled with device administrator, as every Android
// device was before enrolments were modelled; an Enrollment that does not fit
// the platform is ErrInvalid. UES reports its risk straight away when the
// connector is on for its platform.
func (s *State) AddDevice(t *Tenant, d Device) (*Device, error) {
	switch {
	case d.Platform == Android && d.Enrollment == "":
		d.Enrollment = EnrollDeviceAdministrator
	case d.Platform == Android && slices.Contains(AndroidEnrollments, d.Enrollment):
	case d.Platform == IOS && d.Enrollment == "":
	default:
		return nil, ErrInvalid
	}
	if d.UserID != "" && t.Users[d.UserID] == nil {
		return nil, ErrNotFound
	}
	for _, id := range []*string{&d.IntuneID, &d.EntraID, &d.UESID} {
		if *id == "" {
			*id = NewID()
		}
		if t.devices[*id] != nil {
			return nil, ErrConflict
		}
	}
	d.Enrolled, d.LastSync = s.Now, s.Now
	d.InIntune, d.InUES = true, true
	p := &d
	t.devices[d.IntuneID], t.devices[d.EntraID], t.devices[d.UESID] = p, p, p
	t.all = append(t.all, p)
	t.intuneIdx[p] = len(t.intune)
	t.intune = append(t.intune, p)
	s.report(t, p)
	return p, nil
}

// Device finds a device by its Intune, Entra or UES id, enrolled or not.
func (t *Tenant) Device(id string) *Device { return t.devices[id] }

// ManagedDevice finds a device Intune still manages, by Intune id.
func (t *Tenant) ManagedDevice(id string) *Device {
	d := t.devices[id]
	if d == nil || !d.InIntune || d.IntuneID != id {
		return nil
	}
	return d
}

// ManagedDevices returns Intune's devices in enrolment order. The slice is the
// tenant's own: callers page through it without copying and must not keep it
// past the lock.
func (t *Tenant) ManagedDevices() []*Device { return t.intune }

// UESDevices returns the devices UES knows (Protect app active), in
// enrolment order; retired devices keep the app until wiped.
func (t *Tenant) UESDevices() []*Device {
	out := make([]*Device, 0, len(t.all))
	for _, d := range t.all {
		if d.InUES {
			out = append(out, d)
		}
	}
	return out
}

func (t *Tenant) unenrol(d *Device) {
	i, ok := t.intuneIdx[d]
	if !ok {
		return
	}
	t.intune = slices.Delete(t.intune, i, i+1)
	delete(t.intuneIdx, d)
	for j := i; j < len(t.intune); j++ {
		t.intuneIdx[t.intune[j]] = j
	}
	d.InIntune = false
}

// UserOf returns the device's primary user, or nil.
func (t *Tenant) UserOf(d *Device) *User { return t.Users[d.UserID] }

// memberOf reports whether the group holds the user or the device.
func (t *Tenant) memberOf(groupID string, d *Device, userID string) bool {
	g := t.Groups[groupID]
	if g == nil {
		return false
	}
	return (userID != "" && g.Members[userID]) || (d != nil && g.Members[d.EntraID])
}

// --- Connector ---

// Onboard creates the partner's connector, as the portal + partner consent
// flow does; partnerState starts "available".
func (s *State) Onboard(t *Tenant, id string) (*Connector, error) {
	if !slices.Contains(KnownConnectorIDs, id) {
		return nil, ErrInvalid
	}
	if t.Connectors[id] != nil {
		return nil, ErrConflict
	}
	c := &Connector{ID: id, Flags: map[string]bool{}, ThresholdDays: 7, LastHeartbeat: s.Now}
	for _, f := range ConnectorFlags {
		c.Flags[f] = false
	}
	t.Connectors[id] = c
	if id == BlackBerryConnectorID {
		s.reportAll(t)
	}
	return c, nil
}

// Offboard deletes the connector; Intune then has no partner data.
func (s *State) Offboard(t *Tenant, id string) error {
	if t.Connectors[id] == nil {
		return ErrNotFound
	}
	delete(t.Connectors, id)
	if id == BlackBerryConnectorID {
		s.reportAll(t)
	}
	return nil
}

// ConnectorChanged re-reports after a connector write (a platform toggled on
// starts reporting; toggled off drops the partner data).
func (s *State) ConnectorChanged(t *Tenant, c *Connector) {
	if c.ID == BlackBerryConnectorID {
		s.reportAll(t)
	}
}

// Heartbeat is the connector's lastHeartbeatDateTime: now while the partner
// reports, frozen when it stopped.
func (s *State) Heartbeat(t *Tenant, c *Connector) time.Time {
	if c.ID == BlackBerryConnectorID && t.UES.Reporting {
		c.LastHeartbeat = s.Now
	}
	return c.LastHeartbeat
}

// Unresponsive reports whether the partner has been silent longer than the
// connector's threshold.
func (s *State) Unresponsive(t *Tenant, c *Connector) bool {
	hb := s.Heartbeat(t, c)
	return s.Now.Sub(hb) > time.Duration(c.ThresholdDays)*24*time.Hour
}

// PartnerState is the connector's partnerState.
func (s *State) PartnerState(t *Tenant, c *Connector) string {
	switch {
	case c.StateOverride != "":
		return c.StateOverride
	case s.Unresponsive(t, c):
		return "unresponsive"
	case c.Flags["androidEnabled"] || c.Flags["iosEnabled"] || c.Flags["windowsEnabled"]:
		return "enabled"
	}
	return "available"
}

// SetReporting starts or stops the partner's reports and heartbeats.
func (s *State) SetReporting(t *Tenant, on bool) {
	if c := t.Connectors[BlackBerryConnectorID]; c != nil {
		s.Heartbeat(t, c) // freeze the last beat at the moment it stops
	}
	t.UES.Reporting = on
	if on {
		s.reportAll(t)
	}
}

// --- Risk and reporting ---

// DeviceRisk is the device's overall risk: the highest assessed risk among its
// active alerts.
func (s *State) DeviceRisk(t *Tenant, d *Device) Risk {
	r := RiskSecured
	if !t.UES.RiskAssessmentConfigured {
		return r
	}
	for _, a := range d.Alerts {
		if a.Status == AlertActive {
			if ar := t.UES.RiskAssessment[a.Type]; ar.Rank() > r.Rank() {
				r = ar
			}
		}
	}
	return r
}

// report sends the device's current risk to Intune if UES is reporting and
// the connector is on for its platform, or drops Intune's partner data when
// the connector no longer carries it (Intune's side: at once). With a report
// delay the report is sent now and arrives delay later, carrying the
// device's risk at arrival (see deliverDue).
func (s *State) report(t *Tenant, d *Device) {
	c := t.Connectors[BlackBerryConnectorID]
	if c == nil || !c.EnabledFor(d.Platform) || !d.InUES {
		d.HasReport = false
		return
	}
	if !t.UES.Reporting {
		return // Intune keeps the last report; the heartbeat ages
	}
	if s.w.reportDelay > 0 {
		s.schedule(t, d, s.Now.Add(s.w.reportDelay))
		return
	}
	s.deliver(t, d)
}

// deliver is a report arriving in Intune at s.Now: the partner data, UES's
// last report time, and a check-in (starts or clears the grace period).
// Conditions are checked again on arrival: a report sent while the connector
// was on but arriving after it was turned off (or after reporting stopped)
// changes nothing but what the connector change did.
func (s *State) deliver(t *Tenant, d *Device) {
	c := t.Connectors[BlackBerryConnectorID]
	if c == nil || !c.EnabledFor(d.Platform) || !d.InUES {
		d.HasReport = false
		return
	}
	if !t.UES.Reporting {
		return
	}
	d.HasReport, d.Reported, d.ReportedAt = true, s.DeviceRisk(t, d), s.Now
	t.UES.LastReport = s.Now
	s.Evaluate(t, d)
}

// schedule queues a report of d due at due, keeping the queue ordered by due
// time (reports due at the same time keep their order).
func (s *State) schedule(t *Tenant, d *Device, due time.Time) {
	q := s.w.pending
	i := len(q)
	for i > 0 && q[i-1].due.After(due) { // almost always appends
		i--
	}
	s.w.pending = slices.Insert(q, i, pendingReport{t: t, d: d, due: due})
}

// deliverDue delivers every pending report and carries out every pending
// device action due by s.Now, each at its own due time (so ReportedAt,
// LastReport, a grace period start and an action's lastUpdatedDateTime are
// the arrival time), in due order across both queues (a report first when
// both are due at the same instant). Every Run calls it first, and every
// change happens inside a Run, so the risk a report carries is the device's
// risk at its due time.
func (s *State) deliverDue() {
	nr, na := 0, 0
	for {
		rs, as := s.w.pending, s.w.actions
		report := nr < len(rs) && !rs[nr].due.After(s.Now)
		action := na < len(as) && !as[na].due.After(s.Now)
		switch {
		case report && (!action || !as[na].due.Before(rs[nr].due)):
			p := rs[nr]
			(&State{w: s.w, Now: p.due}).deliver(p.t, p.d)
			nr++
		case action:
			p := as[na]
			(&State{w: s.w, Now: p.due}).carryOut(p)
			na++
		default:
			s.w.pending, s.w.actions = dropFirst(rs, nr), dropFirst(as, na)
			return
		}
	}
}

// dropFirst removes q's first n items, releasing what they point to.
func dropFirst[T any](q []T, n int) []T {
	switch {
	case n == len(q):
		return nil
	case n > 0:
		clear(q[:n])
		return q[n:]
	}
	return q
}

// PendingReports counts the UES reports on their way to Intune.
func (s *State) PendingReports() int { return len(s.w.pending) }

func (s *State) reportAll(t *Tenant) {
	for _, d := range t.all {
		s.report(t, d)
	}
}

// SetRiskAssessment replaces the UES risk assessment (nil = none configured).
func (s *State) SetRiskAssessment(t *Tenant, ra map[string]Risk) error {
	for k, v := range ra {
		if !ValidDetectionType(k) || !ValidAssessmentRisk(v) {
			return ErrInvalid
		}
	}
	t.UES.RiskAssessment = map[string]Risk{}
	for k, v := range ra {
		t.UES.RiskAssessment[k] = v
	}
	t.UES.RiskAssessmentConfigured = ra != nil
	t.UES.RiskAssessmentModified = s.Now
	s.reportAll(t)
	return nil
}

// Detect raises an alert on a device (found by any id).
func (s *State) Detect(t *Tenant, deviceID, typ, name, detail string) (*Alert, error) {
	d := t.Device(deviceID)
	if d == nil || !d.InUES {
		return nil, ErrNotFound
	}
	if !ValidDetectionType(typ) {
		return nil, ErrInvalid
	}
	if name == "" {
		name = typ
	}
	t.UES.alertSeq++
	a := &Alert{ID: NewID(), DeviceID: d.UESID, Type: typ, Name: name, Detail: detail,
		Status: AlertActive, Created: s.Now, Modified: s.Now, Seq: t.UES.alertSeq}
	t.UES.Alerts[a.ID] = a
	t.UES.alertList = append(t.UES.alertList, a)
	d.Alerts = append(d.Alerts, a)
	s.report(t, d)
	s.alertChanged(t, d, a)
	return a, nil
}

// SetAlertStatus resolves (remediation on the device) or ignores (admin) an
// active alert.
func (s *State) SetAlertStatus(t *Tenant, alertID, status string) (*Alert, error) {
	a := t.UES.Alerts[alertID]
	if a == nil {
		return nil, ErrNotFound
	}
	if a.Status != AlertActive {
		return a, ErrConflict
	}
	t.UES.alertSeq++
	a.Status, a.Modified, a.Seq = status, s.Now, t.UES.alertSeq
	if d := t.Device(a.DeviceID); d != nil {
		s.report(t, d)
		s.alertChanged(t, d, a)
	}
	return a, nil
}

// Remediate resolves the device's active alerts (of typ, or all when empty),
// as when the user removes the app or leaves the network.
func (s *State) Remediate(t *Tenant, deviceID, typ string) ([]*Alert, error) {
	d := t.Device(deviceID)
	if d == nil {
		return nil, ErrNotFound
	}
	var out []*Alert
	for _, a := range d.Alerts {
		if a.Status == AlertActive && (typ == "" || a.Type == typ) {
			if _, err := s.SetAlertStatus(t, a.ID, AlertResolved); err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// Alerts returns the UES tenant's alerts in creation order.
func (t *Tenant) Alerts() []*Alert { return t.UES.alertList }

// --- Device actions ---

// Action states, Graph's actionState enum.
const (
	ActionNone         = "none"
	ActionPending      = "pending"
	ActionCanceled     = "canceled"
	ActionActive       = "active"
	ActionDone         = "done"
	ActionFailed       = "failed"
	ActionNotSupported = "notSupported"
)

// ActionStates are every actionState Graph v1.0 defines.
var ActionStates = []string{ActionNone, ActionPending, ActionCanceled, ActionActive, ActionDone, ActionFailed, ActionNotSupported}

// checkInActions are the actions a device carries out only when it checks
// in (after the action delay); syncDevice is modelled as the check-in itself.
var checkInActions = []string{"remoteLock", "retire", "wipe"}

// DeviceAction runs an Intune remote action on a managed device. With an
// action delay, remoteLock, retire and wipe are recorded pending and carried
// out when the delay has passed (the device's check-in); otherwise, and for
// syncDevice always, the action is done at once. An action on a device with
// an action still pending (a retire, say) is accepted and recorded as any
// other: the reference says nothing of Intune refusing it.
func (s *State) DeviceAction(t *Tenant, d *Device, action string) {
	if s.w.actionDelay > 0 && slices.Contains(checkInActions, action) {
		d.Actions = append(d.Actions, DeviceAction{Name: action, State: ActionPending, Started: s.Now, Updated: s.Now})
		p := pendingAction{t: t, d: d, i: len(d.Actions) - 1, due: s.Now.Add(s.w.actionDelay)}
		q := s.w.actions
		i := len(q)
		for i > 0 && q[i-1].due.After(p.due) { // appends unless the delay was shortened
			i--
		}
		s.w.actions = slices.Insert(q, i, p)
		return
	}
	d.Actions = append(d.Actions, DeviceAction{Name: action, State: ActionDone, Started: s.Now, Updated: s.Now})
	s.actionEffect(t, d, action)
}

// carryOut is the device checking in at s.Now and carrying out a pending
// action: done, and its effect. A device that left Intune in the meantime
// (an earlier retire or wipe was carried out) never checks in with Intune
// again: the action stays pending, as nothing serves it any more.
func (s *State) carryOut(p pendingAction) {
	if !p.d.InIntune {
		return
	}
	a := &p.d.Actions[p.i]
	a.State, a.Updated = ActionDone, s.Now
	s.actionEffect(p.t, p.d, a.Name)
}

// PendingActions counts the device actions waiting for their device's
// check-in.
func (s *State) PendingActions() int { return len(s.w.actions) }

// RecordActionResult adds an action result to a managed device's
// deviceActionResults as given, for a test that needs Intune to show an
// action the client did not send, or one that failed. Nothing is carried out,
// and a result recorded pending stays pending. A zero Started is now, a zero
// Updated is Started. The state must be one of ActionStates and the name set
// (ErrInvalid); the device must be managed (ErrNotFound).
func (s *State) RecordActionResult(t *Tenant, d *Device, a DeviceAction) (DeviceAction, error) {
	if !d.InIntune {
		return a, ErrNotFound
	}
	if a.Started.IsZero() {
		a.Started = s.Now
	}
	if a.Updated.IsZero() {
		a.Updated = a.Started
	}
	a.Started, a.Updated = a.Started.UTC(), a.Updated.UTC()
	if a.Name == "" || !slices.Contains(ActionStates, a.State) || a.Updated.Before(a.Started) {
		return a, ErrInvalid
	}
	d.Actions = append(d.Actions, a)
	return a, nil
}

// actionEffect is what a done action does to the device.
func (s *State) actionEffect(t *Tenant, d *Device, action string) {
	switch action {
	case "syncDevice":
		d.LastSync = s.Now
		s.report(t, d)
	case "retire":
		// Company data and management go; the Protect app stays until removed.
		t.unenrol(d)
	case "wipe":
		// A factory reset removes the Protect app too: UES loses the device.
		t.unenrol(d)
		for _, a := range d.Alerts {
			if a.Status == AlertActive {
				t.UES.alertSeq++
				a.Status, a.Modified, a.Seq = AlertResolved, s.Now, t.UES.alertSeq
				s.alertChanged(t, d, a)
			}
		}
		d.InUES, d.HasReport = false, false
	}
}

// --- Compliance ---

// Compliance is Intune's verdict on a device.
type Compliance struct {
	State        string    `json:"complianceState"`
	GraceExpires time.Time `json:"complianceGracePeriodExpirationDateTime"`
	ThreatState  string    `json:"partnerReportedThreatState"`
	Reasons      []string  `json:"reasons,omitempty"`
}

// NoGrace is what Graph shows as complianceGracePeriodExpirationDateTime when
// no grace period runs.
var NoGrace = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// ThreatState is the device's partnerReportedThreatState.
func (s *State) ThreatState(t *Tenant, d *Device) string {
	c := t.Connectors[BlackBerryConnectorID]
	switch {
	case c == nil || !c.EnabledFor(d.Platform):
		return "unknown"
	case s.Unresponsive(t, c):
		return "unresponsive"
	case !d.HasReport:
		return "unknown"
	}
	return d.Reported.ThreatState()
}

// Evaluate computes the device's compliance from the MTD rule of each
// compliance policy assigned to it. Settings other than the MTD rule are
// considered met. It records when the device turned non-compliant, which
// starts the block action's grace period.
func (s *State) Evaluate(t *Tenant, d *Device) Compliance {
	out := Compliance{State: "compliant", GraceExpires: NoGrace, ThreatState: s.ThreatState(t, d)}
	if !d.InIntune {
		out.State = "unknown"
		out.Reasons = []string{"device is not managed by Intune"}
		return out
	}
	grace := time.Duration(-1)
	for _, id := range t.policyIDs {
		p := t.Policies[id]
		why, applies := s.policyVerdict(t, p, d)
		if !applies || why == "" {
			continue
		}
		out.Reasons = append(out.Reasons, why)
		if g := p.blockGrace(); grace < 0 || g < grace {
			grace = g
		}
	}
	if len(out.Reasons) == 0 {
		d.NoncompliantSince = time.Time{}
		return out
	}
	if d.NoncompliantSince.IsZero() {
		d.NoncompliantSince = s.Now
	}
	out.State = "noncompliant"
	if end := d.NoncompliantSince.Add(grace); s.Now.Before(end) {
		out.State, out.GraceExpires = "inGracePeriod", end
	}
	return out
}

// policyVerdict evaluates one policy's MTD rule for a device: applies is false when
// the policy does not apply (type, assignment, rule off); why is empty when the
// device complies with it.
func (s *State) policyVerdict(t *Tenant, p *CompliancePolicy, d *Device) (why string, applies bool) {
	on, lvl := p.ThreatRule()
	if !d.InIntune || !on || lvl == threatLevelNotSet || lvl == threatLevelUnavail || !p.appliesTo(d) || !s.assigned(t, p, d) {
		return "", false
	}
	c := t.Connectors[BlackBerryConnectorID]
	usable := c != nil && c.EnabledFor(d.Platform) && d.HasReport && !s.Unresponsive(t, c)
	unsupported := c != nil && c.EnabledFor(d.Platform) && c.Flags["partnerUnsupportedOsVersionBlocked"] && !SupportedOS(d.Platform, d.OSVersion)
	switch {
	case unsupported:
		return "OS version " + d.OSVersion + " is not supported by the partner (" + p.Name() + ")", true
	case !usable && c != nil && c.BlocksOnMissing(d.Platform):
		return "no partner data (" + p.Name() + ")", true
	case !usable:
		return "", true
	case d.Reported.Rank() > Risk(lvl).Rank():
		return "device threat level " + string(d.Reported) + " above " + lvl + " (" + p.Name() + ")", true
	}
	return "", true
}

// DeviceOverview counts a policy's assigned devices as Graph's
// deviceComplianceDeviceOverview does: compliant with it (success) or not (failed).
type DeviceOverview struct {
	Success, Failed, NotApplicable int
}

// PolicyDeviceOverview summarises the managed devices a compliance policy applies to.
func (s *State) PolicyDeviceOverview(t *Tenant, p *CompliancePolicy) DeviceOverview {
	var o DeviceOverview
	for _, d := range t.intune {
		why, applies := s.policyVerdict(t, p, d)
		switch {
		case !applies:
			o.NotApplicable++
		case why == "":
			o.Success++
		default:
			o.Failed++
		}
	}
	return o
}

// Minimum OS versions BlackBerry Protect Mobile supports (Android 9.0, iOS 13.0).
var minOS = map[string]int{Android: 9, IOS: 13}

// SupportedOS reports whether the partner supports the device's OS version
// (compared by major version; an unparsable version counts as supported).
func SupportedOS(platform, version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err != nil || n >= minOS[platform]
}

// assigned applies the policy's assignments: included by a group, all
// licensed users or all devices, and not excluded by a group.
func (s *State) assigned(t *Tenant, p *CompliancePolicy, d *Device) bool {
	in := false
	for _, a := range p.Assignments {
		switch a.Target.ODataType {
		case ExclusionTarget:
			if t.memberOf(a.Target.GroupID, d, d.UserID) {
				return false
			}
		case GroupTarget:
			in = in || t.memberOf(a.Target.GroupID, d, d.UserID)
		case AllUsersTarget:
			in = in || d.UserID != ""
		case AllDevicesTarget:
			in = true
		}
	}
	return in
}

// --- Compliance policy and CA storage (validation belongs to graph) ---

// Policies returns compliance policies in creation order.
func (t *Tenant) PolicyList() []*CompliancePolicy {
	out := make([]*CompliancePolicy, len(t.policyIDs))
	for i, id := range t.policyIDs {
		out[i] = t.Policies[id]
	}
	return out
}

// PutPolicy stores a new compliance policy.
func (s *State) PutPolicy(t *Tenant, p *CompliancePolicy) {
	if t.Policies[p.ID] == nil {
		t.policyIDs = append(t.policyIDs, p.ID)
	}
	t.Policies[p.ID] = p
}

// DeletePolicy removes a compliance policy.
func (s *State) DeletePolicy(t *Tenant, id string) bool {
	if t.Policies[id] == nil {
		return false
	}
	delete(t.Policies, id)
	t.policyIDs = slices.DeleteFunc(t.policyIDs, func(x string) bool { return x == id })
	return true
}

// CAPolicyList returns Conditional Access policies in creation order.
func (t *Tenant) CAPolicyList() []*CAPolicy {
	out := make([]*CAPolicy, len(t.caIDs))
	for i, id := range t.caIDs {
		out[i] = t.CAPolicies[id]
	}
	return out
}

// PutCAPolicy stores a Conditional Access policy.
func (s *State) PutCAPolicy(t *Tenant, p *CAPolicy) {
	if t.CAPolicies[p.ID] == nil {
		t.caIDs = append(t.caIDs, p.ID)
	}
	t.CAPolicies[p.ID] = p
}

// DeleteCAPolicy removes a Conditional Access policy.
func (s *State) DeleteCAPolicy(t *Tenant, id string) bool {
	if t.CAPolicies[id] == nil {
		return false
	}
	delete(t.CAPolicies, id)
	t.caIDs = slices.DeleteFunc(t.caIDs, func(x string) bool { return x == id })
	return true
}
