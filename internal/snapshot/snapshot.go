// Package snapshot holds each connector's device snapshot: Intune's managed devices as
// one paged read saw them (about one GET per 1,000 devices), shared by everything that
// needs a device's state — the device counts, the threat intake, every open
// ThreatRemediation and the protected-group checks — so that none of them reads Graph
// per object. Devices are matched exactly, by id, and never by what a filter returned:
// Graph silently ignores an unsupported $filter and answers with every device.
package snapshot

import (
	"errors"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/mtd-operator/mtd-operator/internal/intune"
)

// Matching errors: a device is acted on only when exactly one matches.
var (
	ErrNotFound  = errors.New("no managed device matches")
	ErrAmbiguous = errors.New("more than one managed device matches")
)

// Snapshot is one connector's managed devices at one moment. It is never changed once
// built, so readers share it without copying.
type Snapshot struct {
	// Taken is when the read started: nothing older than this is reflected.
	Taken   time.Time
	devices []intune.ManagedDevice
	byID    map[string]int
	byEntra map[string][]int
}

// New indexes devices by Intune id and by Entra device id.
func New(taken time.Time, devices []intune.ManagedDevice) *Snapshot {
	s := &Snapshot{Taken: taken, devices: devices, byID: make(map[string]int, len(devices)), byEntra: make(map[string][]int, len(devices))}
	for i := range devices {
		if id := key(devices[i].ID); id != "" {
			s.byID[id] = i
		}
		if e := EntraKey(devices[i].AzureADDeviceID); e != "" {
			s.byEntra[e] = append(s.byEntra[e], i)
		}
	}
	return s
}

// zeroGUID is what Intune shows as azureADDeviceId for a device not registered in Entra.
const zeroGUID = "00000000-0000-0000-0000-000000000000"

func key(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// EntraKey normalises an Entra device id for matching; "" for none (empty or the zero
// GUID, which many unregistered devices share and so identifies nothing).
func EntraKey(id string) string {
	k := key(id)
	if k == zeroGUID {
		return ""
	}
	return k
}

// Len is the number of devices.
func (s *Snapshot) Len() int { return len(s.devices) }

// Devices are the snapshot's devices, to read and never to change.
func (s *Snapshot) Devices() []intune.ManagedDevice { return s.devices }

// ByIntuneID finds a device by its Intune managedDevice id.
func (s *Snapshot) ByIntuneID(id string) (*intune.ManagedDevice, bool) {
	i, ok := s.byID[key(id)]
	if !ok {
		return nil, false
	}
	return &s.devices[i], true
}

// ByEntraID finds the single device with this Entra device id: ErrNotFound for none
// (or an empty id), ErrAmbiguous for several.
func (s *Snapshot) ByEntraID(id string) (*intune.ManagedDevice, error) {
	k := EntraKey(id)
	if k == "" {
		return nil, ErrNotFound
	}
	switch idx := s.byEntra[k]; len(idx) {
	case 0:
		return nil, ErrNotFound
	case 1:
		return &s.devices[idx[0]], nil
	default:
		return nil, ErrAmbiguous
	}
}

// ByNameAndUser finds the single device with this name and primary user (UPN), both
// compared case-insensitively, as a syslog event names a device: ErrNotFound for none
// (or either empty), ErrAmbiguous for several. The user is required: device names are
// not unique, and an alert must never be pinned on someone else's phone.
func (s *Snapshot) ByNameAndUser(name, upn string) (*intune.ManagedDevice, error) {
	name, upn = strings.TrimSpace(name), strings.TrimSpace(upn)
	if name == "" || upn == "" {
		return nil, ErrNotFound
	}
	var found *intune.ManagedDevice
	for i := range s.devices {
		d := &s.devices[i]
		if strings.EqualFold(d.DeviceName, name) && strings.EqualFold(d.UserPrincipalName, upn) {
			if found != nil {
				return nil, ErrAmbiguous
			}
			found = d
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

// Counts are the snapshot's devices by partner-reported risk.
type Counts struct {
	Secured, Low, Medium, High int32
	// Total counts every device, assessed or not.
	Total int32
}

// Assessed is how many devices carry a risk level.
func (c Counts) Assessed() int32 { return c.Secured + c.Low + c.Medium + c.High }

// Counts counts the devices by Risk.
func (s *Snapshot) Counts() Counts {
	c := Counts{Total: int32(len(s.devices))}
	for i := range s.devices {
		switch Risk(s.devices[i].PartnerReportedThreatState) {
		case RiskSecured:
			c.Secured++
		case RiskLow:
			c.Low++
		case RiskMedium:
			c.Medium++
		case RiskHigh:
			c.High++
		}
	}
	return c
}

// Risk levels as the MTD rule of a compliance policy names them.
const (
	RiskSecured = "secured"
	RiskLow     = "low"
	RiskMedium  = "medium"
	RiskHigh    = "high"
)

// Risk reads Intune's partnerReportedThreatState as a risk level, "" when the partner
// reported no level (unknown, activated, deactivated, unresponsive, misconfigured, or
// nothing). compromised is read as high: the partner says the device is compromised,
// and the safe reading is the highest level (an assumption; Graph documents the value,
// not its ranking).
func Risk(threatState string) string {
	switch threatState {
	case "secured":
		return RiskSecured
	case "lowSeverity":
		return RiskLow
	case "mediumSeverity":
		return RiskMedium
	case "highSeverity", "compromised":
		return RiskHigh
	}
	return ""
}

// Rank orders risk levels: 0 for secured and for no level, then low, medium, high.
func Rank(risk string) int {
	switch strings.ToLower(risk) {
	case RiskLow:
		return 1
	case RiskMedium:
		return 2
	case RiskHigh:
		return 3
	}
	return 0
}

// Keyed keeps the latest value of each connector (a device snapshot, a Protect app
// inventory), in memory: a restarted or newly leading operator takes its own at its
// first pass.
type Keyed[T any] struct {
	mu   sync.RWMutex
	byID map[types.UID]T
}

// NewKeyed makes an empty store.
func NewKeyed[T any]() *Keyed[T] { return &Keyed[T]{byID: map[types.UID]T{}} }

// Get returns the connector's latest value, the zero value before the first. A nil
// store holds nothing (a reconciler built without one).
func (s *Keyed[T]) Get(uid types.UID) T {
	if s == nil {
		var zero T
		return zero
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[uid]
}

// Put replaces the connector's value.
func (s *Keyed[T]) Put(uid types.UID, v T) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.byID[uid] = v
	s.mu.Unlock()
}

// Forget drops a deleted connector's value.
func (s *Keyed[T]) Forget(uid types.UID) {
	if s == nil {
		return
	}
	s.mu.Lock()
	delete(s.byID, uid)
	s.mu.Unlock()
}

// Store keeps the latest device snapshot of each connector.
type Store = Keyed[*Snapshot]

// NewStore makes an empty snapshot store.
func NewStore() *Store { return NewKeyed[*Snapshot]() }
