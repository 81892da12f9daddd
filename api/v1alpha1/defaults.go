package v1alpha1

import "time"

// The API's defaults, in one place. The +kubebuilder:default markers on the fields repeat
// them because controller-gen takes literals only; TestDefaultsMatchTheCRDs keeps the two
// equal. The accessors below apply them where an object was not admitted through the API
// server (a unit test, an older object), so no controller carries a default of its own.
const (
	DefaultThreatSyncEnabled                  = true
	DefaultThreatSyncInterval                 = time.Minute
	DefaultMinimumRisk                        = ThreatRiskLevel(RiskHigh)
	DefaultMaxDestructiveActionsPerHour int32 = 5
	DefaultMaxHeartbeatAge                    = 24 * time.Hour
	DefaultExpireAfter                        = 720 * time.Hour
	// DefaultResyncInterval is the operator's --default-resync when not given. The CRD
	// sets no default for spec.resyncInterval, so that the installation's flag applies to
	// every connector that does not choose its own.
	DefaultResyncInterval = 5 * time.Minute
)

// ThreatSyncEnabled reads spec.threatSync.enabled with its default.
func (c *MTDConnector) ThreatSyncEnabled() bool {
	if e := c.Spec.ThreatSync.Enabled; e != nil {
		return *e
	}
	return DefaultThreatSyncEnabled
}

// ThreatSyncInterval reads spec.threatSync.interval with its default.
func (c *MTDConnector) ThreatSyncInterval() time.Duration {
	if i := c.Spec.ThreatSync.Interval; i != nil {
		return i.Duration
	}
	return DefaultThreatSyncInterval
}

// MinimumRisk reads spec.threatSync.minimumRisk with its default.
func (c *MTDConnector) MinimumRisk() ThreatRiskLevel {
	if m := c.Spec.ThreatSync.MinimumRisk; m != "" {
		return m
	}
	return DefaultMinimumRisk
}

// MaxDestructiveActionsPerHour reads spec.guardrails.maxDestructiveActionsPerHour with
// its default.
func (c *MTDConnector) MaxDestructiveActionsPerHour() int32 {
	if m := c.Spec.Guardrails.MaxDestructiveActionsPerHour; m != nil {
		return *m
	}
	return DefaultMaxDestructiveActionsPerHour
}

// MaxHeartbeatAge reads spec.healthPolicy.maxHeartbeatAge with its default.
func (c *MTDConnector) MaxHeartbeatAge() time.Duration {
	if a := c.Spec.HealthPolicy.MaxHeartbeatAge; a != nil {
		return a.Duration
	}
	return DefaultMaxHeartbeatAge
}

// ResyncInterval reads spec.resyncInterval; def is the installation's default
// (--default-resync), used when the connector sets none, and DefaultResyncInterval when
// def is not positive.
func (c *MTDConnector) ResyncInterval(def time.Duration) time.Duration {
	if c != nil && c.Spec.ResyncInterval != nil {
		return c.Spec.ResyncInterval.Duration
	}
	if def > 0 {
		return def
	}
	return DefaultResyncInterval
}

// ExpireAfter reads spec.expireAfter with its default.
func (tr *ThreatRemediation) ExpireAfter() time.Duration {
	if e := tr.Spec.ExpireAfter; e != nil {
		return e.Duration
	}
	return DefaultExpireAfter
}
