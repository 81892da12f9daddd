package world

import (
	"slices"
	"strings"
)

// AccessResult answers "may this device (and user) reach this app".
type AccessResult struct {
	Allowed    bool           `json:"allowed"`
	Reason     string         `json:"reason"`
	Compliance Compliance     `json:"compliance"`
	Policies   []PolicyResult `json:"policies"`
}

// PolicyResult is one Conditional Access policy's part in a decision.
type PolicyResult struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	State       string `json:"state"`
	// Result: "block", "grant", or for report-only policies
	// "reportOnlyFailure" / "reportOnlySuccess" (would block / would grant).
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// office365Apps are the apps the "Office365" application group covers.
var office365Apps = []string{ExchangeOnlineApp, SharePointApp}

func appMatches(list []string, app string) bool {
	for _, x := range list {
		if strings.EqualFold(x, "All") || x == app || (x == "Office365" && slices.Contains(office365Apps, app)) {
			return true
		}
	}
	return false
}

func platformMatches(list []string, platform string) bool {
	for _, x := range list {
		if strings.EqualFold(x, "all") || strings.EqualFold(x, platform) {
			return true
		}
	}
	return false
}

// AppAccess evaluates the tenant's enabled and report-only Conditional Access
// policies for a sign-in of userID (the device's user when empty) on device
// deviceID (any of its ids) to app. Only the grant controls the twin can
// decide are modelled: "block", and "compliantDevice" (with AND, or as the
// only control under OR; other controls under OR are assumed satisfiable).
func (s *State) AppAccess(t *Tenant, deviceID, userID, app string) (AccessResult, error) {
	d := t.Device(deviceID)
	if d == nil {
		return AccessResult{}, ErrNotFound
	}
	if userID == "" {
		userID = d.UserID
	}
	comp := s.Evaluate(t, d)
	compliant := comp.State == "compliant" || comp.State == "inGracePeriod"
	res := AccessResult{Allowed: true, Compliance: comp, Policies: []PolicyResult{}}
	for _, p := range t.CAPolicyList() {
		v := &p.View
		if v.State != "enabled" && v.State != "enabledForReportingButNotEnforced" {
			continue
		}
		if !s.caApplies(t, v, d, userID, app) {
			continue
		}
		pr := PolicyResult{ID: p.ID, DisplayName: v.DisplayName, State: v.State, Result: "grant"}
		if v.GrantControls != nil {
			ctl := v.GrantControls.BuiltInControls
			needCompliant := slices.Contains(ctl, "compliantDevice") &&
				(!strings.EqualFold(v.GrantControls.Operator, "OR") || len(ctl) == 1)
			switch {
			case slices.Contains(ctl, "block"):
				pr.Result, pr.Reason = "block", "policy blocks access"
			case needCompliant && !compliant:
				pr.Result, pr.Reason = "block", "device is not compliant ("+comp.State+")"
			}
		}
		if v.State == "enabledForReportingButNotEnforced" {
			pr.Result = map[string]string{"block": "reportOnlyFailure", "grant": "reportOnlySuccess"}[pr.Result]
		} else if pr.Result == "block" && res.Allowed {
			res.Allowed, res.Reason = false, "blocked by Conditional Access policy '"+v.DisplayName+"': "+pr.Reason
		}
		res.Policies = append(res.Policies, pr)
	}
	if res.Allowed {
		res.Reason = "no enforced Conditional Access policy blocks this sign-in"
	}
	return res, nil
}

func (s *State) caApplies(t *Tenant, v *CAView, d *Device, userID, app string) bool {
	c := &v.Conditions
	if c.Applications == nil || !appMatches(c.Applications.Include, app) || appMatches(c.Applications.Exclude, app) {
		return false
	}
	if u := c.Users; u != nil {
		in := slices.ContainsFunc(u.Include, func(x string) bool { return strings.EqualFold(x, "All") || x == userID })
		for _, g := range u.IncludeGroups {
			in = in || t.memberOf(g, nil, userID)
		}
		out := slices.Contains(u.Exclude, userID)
		for _, g := range u.ExcludeGroups {
			out = out || t.memberOf(g, nil, userID)
		}
		if !in || out {
			return false
		}
	} else {
		return false
	}
	if p := c.Platforms; p != nil && len(p.Include) > 0 {
		if !platformMatches(p.Include, d.Platform) || platformMatches(p.Exclude, d.Platform) {
			return false
		}
	}
	return true
}

// NetworkAccess answers a network access control (NAC) query, as a corporate
// Wi-Fi integration asks Intune: allowed iff the device is managed and
// compliant (a grace period still counts as compliant).
func (s *State) NetworkAccess(t *Tenant, deviceID string) (AccessResult, error) {
	d := t.Device(deviceID)
	if d == nil {
		return AccessResult{}, ErrNotFound
	}
	comp := s.Evaluate(t, d)
	res := AccessResult{Compliance: comp, Policies: []PolicyResult{}}
	switch comp.State {
	case "compliant", "inGracePeriod":
		res.Allowed, res.Reason = true, "device is compliant"
	default:
		res.Reason = "device is not compliant (" + comp.State + ")"
	}
	return res, nil
}
