package world

import (
	"testing"
	"time"
)

// fixture is a tenant with the BlackBerry connector on for both platforms,
// an assessment, and one MTD policy per platform assigned to all devices.
func fixture(t *testing.T, level string, grace int) (*World, *Tenant) {
	t.Helper()
	w := New()
	var tn *Tenant
	w.Run(func(s *State) {
		tn, _ = s.AddTenant("", "t", "")
		c, _ := s.Onboard(tn, BlackBerryConnectorID)
		c.Flags["androidEnabled"], c.Flags["iosEnabled"] = true, true
		s.ConnectorChanged(tn, c)
		if err := s.SetRiskAssessment(tn, map[string]Risk{"maliciousApplication": RiskHigh, "unsafeWifi": RiskLow, "sideLoadedApplication": RiskMedium}); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{AndroidPolicyType, AndroidWorkPolicyType, IOSPolicyType} {
			s.PutPolicy(tn, &CompliancePolicy{ID: NewID(), ODataType: typ,
				Props:       map[string]any{"displayName": typ, "deviceThreatProtectionEnabled": true, "deviceThreatProtectionRequiredSecurityLevel": level},
				Rules:       []ScheduledActionRule{{Configs: []ActionConfig{{ActionType: "block", GracePeriodHours: grace}}}},
				Assignments: []Assignment{{Target: Target{ODataType: AllDevicesTarget}}}})
		}
	})
	return w, tn
}

func TestRiskAndCompliance(t *testing.T) {
	tests := []struct {
		name       string
		level      string
		detections []string
		ignore     bool
		risk       Risk
		state      string
		threat     string
	}{
		{"no alerts", "low", nil, false, RiskSecured, "compliant", "secured"},
		{"low within low", "low", []string{"unsafeWifi"}, false, RiskLow, "compliant", "lowSeverity"},
		{"highest alert wins", "low", []string{"unsafeWifi", "maliciousApplication"}, false, RiskHigh, "noncompliant", "highSeverity"},
		{"medium above secured", "secured", []string{"sideLoadedApplication"}, false, RiskMedium, "noncompliant", "mediumSeverity"},
		{"high allowed at high", "high", []string{"maliciousApplication"}, false, RiskHigh, "compliant", "highSeverity"},
		{"notSet disables the rule", "notSet", []string{"maliciousApplication"}, false, RiskHigh, "compliant", "highSeverity"},
		{"unassessed type raises nothing", "secured", []string{"jailbrokenOrRooted"}, false, RiskSecured, "compliant", "secured"},
		{"ignored alert does not count", "low", []string{"maliciousApplication"}, true, RiskSecured, "compliant", "secured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, tn := fixture(t, tc.level, 0)
			w.Run(func(s *State) {
				d, err := s.AddDevice(tn, Device{Name: "d", Platform: Android, OSVersion: "14"})
				if err != nil {
					t.Fatal(err)
				}
				for _, typ := range tc.detections {
					a, err := s.Detect(tn, d.EntraID, typ, "", "")
					if err != nil {
						t.Fatal(err)
					}
					if tc.ignore {
						if _, err := s.SetAlertStatus(tn, a.ID, AlertIgnored); err != nil {
							t.Fatal(err)
						}
					}
				}
				c := s.Evaluate(tn, d)
				if r := s.DeviceRisk(tn, d); r != tc.risk || c.State != tc.state || c.ThreatState != tc.threat {
					t.Fatalf("risk %s compliance %+v", r, c)
				}
			})
		})
	}
}

func TestGracePeriodFollowsTheClock(t *testing.T) {
	w, tn := fixture(t, "low", 2)
	var d *Device
	w.Run(func(s *State) {
		d, _ = s.AddDevice(tn, Device{Name: "d", Platform: IOS, OSVersion: "17"})
		_, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "")
		if c := s.Evaluate(tn, d); c.State != "inGracePeriod" || !c.GraceExpires.Equal(d.NoncompliantSince.Add(2*time.Hour)) {
			t.Fatalf("%+v", c)
		}
	})
	w.Clock.Advance(2*time.Hour + time.Second)
	w.Run(func(s *State) {
		if c := s.Evaluate(tn, d); c.State != "noncompliant" || c.GraceExpires != NoGrace {
			t.Fatalf("%+v", c)
		}
		if _, err := s.Remediate(tn, d.IntuneID, ""); err != nil {
			t.Fatal(err)
		}
		if c := s.Evaluate(tn, d); c.State != "compliant" || !d.NoncompliantSince.IsZero() {
			t.Fatalf("%+v", c)
		}
	})
}

func TestAppAccess(t *testing.T) {
	w, tn := fixture(t, "low", 0)
	w.Run(func(s *State) {
		g, _ := s.AddGroup(tn, "", "excluded", nil)
		u, _ := s.AddUser(tn, User{UserPrincipalName: "u@x"}, nil)
		vip, _ := s.AddUser(tn, User{UserPrincipalName: "vip@x"}, []string{g.ID})
		d, _ := s.AddDevice(tn, Device{Name: "d", Platform: Android, OSVersion: "14", UserID: u.ID})
		_, _ = s.Detect(tn, d.IntuneID, "maliciousApplication", "", "")
		pol := func(state string, apps, platforms []string, controls []string, op string) *CAPolicy {
			p := &CAPolicy{ID: NewID()}
			p.View.DisplayName, p.View.State = "p", state
			p.View.Conditions.Applications = &struct {
				Include []string `json:"includeApplications"`
				Exclude []string `json:"excludeApplications"`
			}{Include: apps}
			p.View.Conditions.Users = &struct {
				Include       []string `json:"includeUsers"`
				Exclude       []string `json:"excludeUsers"`
				IncludeGroups []string `json:"includeGroups"`
				ExcludeGroups []string `json:"excludeGroups"`
			}{Include: []string{"All"}, ExcludeGroups: []string{g.ID}}
			if platforms != nil {
				p.View.Conditions.Platforms = &struct {
					Include []string `json:"includePlatforms"`
					Exclude []string `json:"excludePlatforms"`
				}{Include: platforms}
			}
			p.View.GrantControls = &struct {
				Operator        string   `json:"operator"`
				BuiltInControls []string `json:"builtInControls"`
			}{Operator: op, BuiltInControls: controls}
			return p
		}
		tests := []struct {
			name    string
			p       *CAPolicy
			user    string
			app     string
			allowed bool
			result  string
		}{
			{"compliantDevice blocks", pol("enabled", []string{ExchangeOnlineApp}, nil, []string{"compliantDevice"}, "OR"), "", ExchangeOnlineApp, false, "block"},
			{"Office365 covers SharePoint", pol("enabled", []string{"Office365"}, nil, []string{"compliantDevice"}, "OR"), "", SharePointApp, false, "block"},
			{"other app untouched", pol("enabled", []string{ExchangeOnlineApp}, nil, []string{"compliantDevice"}, "OR"), "", "some-app", true, ""},
			{"iOS-only policy skips Android", pol("enabled", []string{"All"}, []string{"iOS"}, []string{"compliantDevice"}, "OR"), "", ExchangeOnlineApp, true, ""},
			{"OR with mfa is satisfiable", pol("enabled", []string{"All"}, nil, []string{"compliantDevice", "mfa"}, "OR"), "", ExchangeOnlineApp, true, "grant"},
			{"AND with mfa still needs compliance", pol("enabled", []string{"All"}, nil, []string{"compliantDevice", "mfa"}, "AND"), "", ExchangeOnlineApp, false, "block"},
			{"block control", pol("enabled", []string{"All"}, []string{"all"}, []string{"block"}, "OR"), "", ExchangeOnlineApp, false, "block"},
			{"report-only", pol("enabledForReportingButNotEnforced", []string{"All"}, nil, []string{"compliantDevice"}, "OR"), "", ExchangeOnlineApp, true, "reportOnlyFailure"},
			{"disabled", pol("disabled", []string{"All"}, nil, []string{"compliantDevice"}, "OR"), "", ExchangeOnlineApp, true, ""},
			{"excluded group", pol("enabled", []string{"All"}, nil, []string{"compliantDevice"}, "OR"), vip.ID, ExchangeOnlineApp, true, ""},
		}
		for _, tc := range tests {
			tn.CAPolicies, tn.caIDs = map[string]*CAPolicy{}, nil
			s.PutCAPolicy(tn, tc.p)
			res, err := s.AppAccess(tn, d.EntraID, tc.user, tc.app)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(res.Policies) == 1 {
				got = res.Policies[0].Result
			}
			if res.Allowed != tc.allowed || got != tc.result {
				t.Errorf("%s: allowed=%v result=%q (%+v)", tc.name, res.Allowed, got, res)
			}
		}
		if _, err := s.AppAccess(tn, "nope", "", ExchangeOnlineApp); err != ErrNotFound {
			t.Errorf("unknown device: %v", err)
		}
	})
}

func TestResetAndIDs(t *testing.T) {
	w := New()
	w.Clock.Advance(time.Hour)
	if err := w.Reset(func(s *State) error { _, err := s.AddTenant("fixed", "x", "ues"); return err }); err != nil {
		t.Fatal(err)
	}
	w.Run(func(s *State) {
		if len(s.Tenants()) != 1 || s.TenantByUES("ues") == nil || time.Since(s.Now) > time.Minute {
			t.Fatalf("after reset: %d tenants, now %v", len(s.Tenants()), s.Now)
		}
		if _, err := s.AddTenant("fixed", "again", ""); err != ErrConflict {
			t.Fatalf("duplicate tenant: %v", err)
		}
		tn := s.Tenant("fixed")
		if _, err := s.AddDevice(tn, Device{Platform: "Windows"}); err != ErrInvalid {
			t.Fatalf("windows device: %v", err)
		}
		d, _ := s.AddDevice(tn, Device{Platform: IOS})
		if _, err := s.AddDevice(tn, Device{Platform: IOS, EntraID: d.EntraID}); err != ErrConflict {
			t.Fatalf("duplicate device id: %v", err)
		}
	})
}

func TestUnsupportedOSVersionBlocked(t *testing.T) {
	tests := []struct {
		platform, os string
		block        bool
		want         string
	}{
		{Android, "8.1", true, "noncompliant"},
		{Android, "8.1", false, "compliant"},
		{Android, "9", true, "compliant"},
		{IOS, "12.5.7", true, "noncompliant"},
		{IOS, "13.0", true, "compliant"},
		{IOS, "beta", true, "compliant"},
	}
	for _, tc := range tests {
		w, tn := fixture(t, "low", 0)
		w.Run(func(s *State) {
			tn.Connectors[BlackBerryConnectorID].Flags["partnerUnsupportedOsVersionBlocked"] = tc.block
			d, _ := s.AddDevice(tn, Device{Name: "d", Platform: tc.platform, OSVersion: tc.os})
			if c := s.Evaluate(tn, d); c.State != tc.want {
				t.Errorf("%s %s block=%v: %+v", tc.platform, tc.os, tc.block, c)
			}
		})
	}
}

// frozen stops the world clock's own motion, so only Advance moves it.
func frozen(w *World) time.Time {
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	w.Clock.wall = func() time.Time { return at }
	w.Clock.Reset()
	return at
}

func TestReportDelay(t *testing.T) {
	const delay = 10 * time.Second
	setup := func(t *testing.T, grace int) (*World, *Tenant, *Device) {
		w, tn := fixture(t, "low", grace)
		frozen(w)
		var d *Device
		w.Run(func(s *State) { d, _ = s.AddDevice(tn, Device{Name: "d", Platform: Android, OSVersion: "14"}) })
		w.SetReportDelay(delay)
		return w, tn, d
	}
	intune := func(w *World, tn *Tenant, d *Device) (c Compliance, reported Risk, pending int) {
		w.Run(func(s *State) { c, reported, pending = s.Evaluate(tn, d), d.Reported, s.PendingReports() })
		return
	}

	t.Run("a change reaches Intune after the delay", func(t *testing.T) {
		w, tn, d := setup(t, 0)
		var at time.Time
		lastReport := tn.UES.LastReport
		w.Run(func(s *State) {
			at = s.Now
			_, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "")
			if r := s.DeviceRisk(tn, d); r != RiskHigh {
				t.Fatalf("UES risk %s", r)
			}
		})
		w.Clock.Advance(delay - time.Second)
		if c, rep, n := intune(w, tn, d); c.State != "compliant" || c.ThreatState != "secured" || rep != RiskSecured || n != 1 {
			t.Fatalf("at T+9s: %+v reported %s pending %d", c, rep, n)
		}
		if !tn.UES.LastReport.Equal(lastReport) {
			t.Fatalf("LastReport moved before delivery: %v", tn.UES.LastReport)
		}
		w.Clock.Advance(time.Second)
		if c, rep, n := intune(w, tn, d); c.State != "noncompliant" || c.ThreatState != "highSeverity" || rep != RiskHigh || n != 0 {
			t.Fatalf("at T+10s: %+v reported %s pending %d", c, rep, n)
		}
		if due := at.Add(delay); !d.ReportedAt.Equal(due) || !tn.UES.LastReport.Equal(due) || !d.NoncompliantSince.Equal(due) {
			t.Fatalf("ReportedAt %v LastReport %v NoncompliantSince %v, want %v", d.ReportedAt, tn.UES.LastReport, d.NoncompliantSince, due)
		}

		w.Run(func(s *State) { _, _ = s.Remediate(tn, d.EntraID, "") })
		w.Clock.Advance(delay - time.Millisecond)
		if c, _, _ := intune(w, tn, d); c.State != "noncompliant" || c.ThreatState != "highSeverity" {
			t.Fatalf("remediated, before the delay: %+v", c)
		}
		w.Clock.Advance(time.Millisecond)
		if c, _, n := intune(w, tn, d); c.State != "compliant" || c.ThreatState != "secured" || n != 0 {
			t.Fatalf("remediated, after the delay: %+v pending %d", c, n)
		}
	})
	t.Run("a report carries the risk at arrival", func(t *testing.T) {
		w, tn, d := setup(t, 0)
		var a *Alert
		w.Run(func(s *State) { a, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "") })
		w.Clock.Advance(5 * time.Second)
		w.Run(func(s *State) { _, _ = s.SetAlertStatus(tn, a.ID, AlertIgnored) })
		w.Clock.Advance(5 * time.Second) // the first report arrives: the spike is over
		if c, rep, n := intune(w, tn, d); c.State != "compliant" || rep != RiskSecured || n != 1 {
			t.Fatalf("first arrival: %+v reported %s pending %d", c, rep, n)
		}
		w.Run(func(s *State) { _, _ = s.Detect(tn, d.UESID, "sideLoadedApplication", "", "") }) // medium
		w.Clock.Advance(time.Hour)
		if c, rep, n := intune(w, tn, d); c.State != "noncompliant" || rep != RiskMedium || n != 0 {
			t.Fatalf("every change is delivered: %+v reported %s pending %d", c, rep, n)
		}
	})
	t.Run("grace period starts at arrival", func(t *testing.T) {
		w, tn, d := setup(t, 1)
		var at time.Time
		w.Run(func(s *State) { at = s.Now; _, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "") })
		w.Clock.Advance(time.Minute)
		if c, _, _ := intune(w, tn, d); c.State != "inGracePeriod" || !c.GraceExpires.Equal(at.Add(delay+time.Hour)) {
			t.Fatalf("%+v, want grace until %v", c, at.Add(delay+time.Hour))
		}
	})
	t.Run("reports stop with reporting; connector off drops data at once", func(t *testing.T) {
		w, tn, d := setup(t, 0)
		w.Run(func(s *State) {
			_, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "")
			s.SetReporting(tn, false)
		})
		w.Clock.Advance(time.Minute)
		if c, rep, _ := intune(w, tn, d); c.ThreatState != "secured" || rep != RiskSecured {
			t.Fatalf("a report arrived while reporting was stopped: %+v", c)
		}
		w.Run(func(s *State) {
			s.SetReporting(tn, true)
			c := tn.Connectors[BlackBerryConnectorID]
			c.Flags["androidEnabled"] = false
			s.ConnectorChanged(tn, c)
			if d.HasReport || s.ThreatState(tn, d) != "unknown" {
				t.Fatalf("partner data kept after the platform was turned off")
			}
		})
	})
	t.Run("reset clears reports on their way and keeps the delay", func(t *testing.T) {
		w, tn, d := setup(t, 0)
		w.Run(func(s *State) { _, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "") })
		if err := w.Reset(nil); err != nil {
			t.Fatal(err)
		}
		w.Run(func(s *State) {
			if n := s.PendingReports(); n != 0 {
				t.Fatalf("%d reports pending after reset", n)
			}
		})
		if w.ReportDelay() != delay {
			t.Fatalf("delay %v after reset", w.ReportDelay())
		}
	})
	t.Run("zero delay reports at once", func(t *testing.T) {
		w, tn, d := setup(t, 0)
		w.SetReportDelay(0)
		w.Run(func(s *State) {
			_, _ = s.Detect(tn, d.UESID, "maliciousApplication", "", "")
			if c := s.Evaluate(tn, d); c.ThreatState != "highSeverity" || s.PendingReports() != 0 || !d.ReportedAt.Equal(s.Now) {
				t.Fatalf("%+v pending %d", c, s.PendingReports())
			}
		})
	})
}

func TestActionDelay(t *testing.T) {
	const delay = 10 * time.Second
	setup := func(t *testing.T) (*World, *Tenant, []*Device) {
		w, tn := fixture(t, "low", 0)
		frozen(w)
		var ds []*Device
		w.Run(func(s *State) {
			for range 3 {
				d, err := s.AddDevice(tn, Device{Name: "d", Platform: Android, OSVersion: "14"})
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, d)
			}
		})
		w.SetActionDelay(delay)
		return w, tn, ds
	}
	act := func(w *World, tn *Tenant, d *Device, action string) (at time.Time) {
		w.Run(func(s *State) { at = s.Now; s.DeviceAction(tn, d, action) })
		return at
	}
	last := func(w *World, d *Device) (a DeviceAction, pending int) {
		w.Run(func(s *State) { a, pending = d.Actions[len(d.Actions)-1], s.PendingActions() })
		return
	}
	managed := func(w *World, tn *Tenant, d *Device) (in bool) {
		w.Run(func(s *State) { in = tn.ManagedDevice(d.IntuneID) != nil })
		return
	}

	t.Run("remoteLock, retire and wipe are pending until the check-in", func(t *testing.T) {
		w, tn, ds := setup(t)
		var alert *Alert
		w.Run(func(s *State) { alert, _ = s.Detect(tn, ds[2].UESID, "maliciousApplication", "", "") })
		at := act(w, tn, ds[0], "remoteLock")
		act(w, tn, ds[1], "retire")
		act(w, tn, ds[2], "wipe")
		w.Clock.Advance(delay - time.Millisecond)
		for _, d := range ds {
			if a, n := last(w, d); a.State != ActionPending || !a.Started.Equal(at) || !a.Updated.Equal(at) || n != 3 {
				t.Fatalf("%s before the check-in: %+v, %d pending", a.Name, a, n)
			}
			if !managed(w, tn, d) || !d.InUES {
				t.Fatalf("%s carried out early: managed %v, in UES %v", d.Actions[0].Name, d.InIntune, d.InUES)
			}
		}
		if alert.Status != AlertActive {
			t.Fatalf("the wipe closed the alert early: %s", alert.Status)
		}
		w.Clock.Advance(time.Millisecond)
		for _, d := range ds {
			if a, n := last(w, d); a.State != ActionDone || !a.Started.Equal(at) || !a.Updated.Equal(at.Add(delay)) || n != 0 {
				t.Fatalf("%s after the check-in: %+v, %d pending", a.Name, a, n)
			}
		}
		if !managed(w, tn, ds[0]) || managed(w, tn, ds[1]) || !ds[1].InUES || managed(w, tn, ds[2]) || ds[2].InUES {
			t.Fatalf("after the check-in: managed %v %v %v, in UES %v %v", ds[0].InIntune, ds[1].InIntune, ds[2].InIntune, ds[1].InUES, ds[2].InUES)
		}
		if alert.Status != AlertResolved || !alert.Modified.Equal(at.Add(delay)) {
			t.Fatalf("the wipe's alert %+v, want resolved at the check-in", alert)
		}
	})
	t.Run("syncDevice stays immediate", func(t *testing.T) {
		w, tn, ds := setup(t)
		w.Clock.Advance(time.Minute)
		at := act(w, tn, ds[0], "syncDevice")
		if a, n := last(w, ds[0]); a.State != ActionDone || !a.Updated.Equal(at) || n != 0 || !ds[0].LastSync.Equal(at) {
			t.Fatalf("syncDevice %+v, %d pending, last sync %v", a, n, ds[0].LastSync)
		}
	})
	t.Run("an action on a device with a pending retire is recorded; it is never carried out once the device left", func(t *testing.T) {
		w, tn, ds := setup(t)
		at := act(w, tn, ds[0], "retire")
		w.Clock.Advance(delay / 2)
		act(w, tn, ds[0], "remoteLock")
		act(w, tn, ds[0], "syncDevice") // done at once, the retire still pending
		if n := len(ds[0].Actions); n != 3 || ds[0].Actions[0].State != ActionPending || ds[0].Actions[1].State != ActionPending || ds[0].Actions[2].State != ActionDone {
			t.Fatalf("actions %+v", ds[0].Actions)
		}
		w.Clock.Advance(delay / 2)
		in := managed(w, tn, ds[0]) // a Run: carries out what is due
		if a := ds[0].Actions[0]; in || a.State != ActionDone || !a.Updated.Equal(at.Add(delay)) {
			t.Fatalf("retire %+v, managed %v", a, ds[0].InIntune)
		}
		w.Clock.Advance(delay)
		if a, n := last(w, ds[0]); ds[0].Actions[1].State != ActionPending || n != 0 || a.Name != "syncDevice" {
			t.Fatalf("the lock on a retired device: %+v, %d pending", ds[0].Actions[1], n)
		}
	})
	t.Run("actions are carried out in due order; a shortened delay applies to new actions only", func(t *testing.T) {
		w, tn, ds := setup(t)
		at := act(w, tn, ds[0], "remoteLock") // due at+10s
		w.SetActionDelay(time.Second)
		act(w, tn, ds[1], "remoteLock") // due at+1s
		w.Clock.Advance(time.Second)
		w.Run(func(*State) {})
		if a0, a1 := ds[0].Actions[0], ds[1].Actions[0]; a0.State != ActionPending || a1.State != ActionDone || !a1.Updated.Equal(at.Add(time.Second)) {
			t.Fatalf("after 1s: %+v %+v", a0, a1)
		}
		w.Clock.Advance(delay)
		if a, n := last(w, ds[0]); a.State != ActionDone || !a.Updated.Equal(at.Add(delay)) || n != 0 {
			t.Fatalf("after 10s: %+v, %d pending", a, n)
		}
	})
	t.Run("reset clears pending actions and keeps the delay", func(t *testing.T) {
		w, tn, ds := setup(t)
		act(w, tn, ds[0], "wipe")
		if err := w.Reset(nil); err != nil {
			t.Fatal(err)
		}
		w.Run(func(s *State) {
			if n := s.PendingActions(); n != 0 {
				t.Fatalf("%d actions pending after reset", n)
			}
		})
		if w.ActionDelay() != delay {
			t.Fatalf("delay %v after reset", w.ActionDelay())
		}
	})
	t.Run("zero delay carries out at once", func(t *testing.T) {
		w, tn, ds := setup(t)
		w.SetActionDelay(0)
		at := act(w, tn, ds[0], "retire")
		if a, n := last(w, ds[0]); a.State != ActionDone || !a.Updated.Equal(at) || n != 0 || managed(w, tn, ds[0]) {
			t.Fatalf("retire %+v, %d pending, managed %v", a, n, ds[0].InIntune)
		}
		w.SetActionDelay(-time.Second)
		if w.ActionDelay() != 0 {
			t.Fatalf("negative delay set as %v", w.ActionDelay())
		}
	})
}

func TestRecordActionResult(t *testing.T) {
	w, tn := fixture(t, "low", 0)
	now := frozen(w)
	var d *Device
	w.Run(func(s *State) { d, _ = s.AddDevice(tn, Device{Name: "d", Platform: IOS, OSVersion: "17"}) })
	start := now.Add(-time.Hour)
	w.Run(func(s *State) {
		a, err := s.RecordActionResult(tn, d, DeviceAction{Name: "retire", State: ActionPending})
		if err != nil || !a.Started.Equal(now) || !a.Updated.Equal(now) {
			t.Fatalf("defaults: %+v, %v", a, err)
		}
		a, err = s.RecordActionResult(tn, d, DeviceAction{Name: "wipe", State: ActionFailed, Started: start})
		if err != nil || !a.Started.Equal(start) || !a.Updated.Equal(start) {
			t.Fatalf("given start: %+v, %v", a, err)
		}
		for _, bad := range []DeviceAction{
			{State: ActionDone},
			{Name: "wipe", State: "stuck"},
			{Name: "wipe"},
			{Name: "wipe", State: ActionDone, Started: start, Updated: start.Add(-time.Second)},
		} {
			if _, err := s.RecordActionResult(tn, d, bad); err != ErrInvalid {
				t.Errorf("%+v: %v, want ErrInvalid", bad, err)
			}
		}
		if len(d.Actions) != 2 || s.PendingActions() != 0 {
			t.Fatalf("actions %+v, %d pending", d.Actions, s.PendingActions())
		}
	})
	// A recorded pending retire is shown, never carried out.
	w.Clock.Advance(24 * time.Hour)
	w.Run(func(s *State) {
		if tn.ManagedDevice(d.IntuneID) == nil || d.Actions[0].State != ActionPending {
			t.Fatalf("recorded retire carried out: %+v", d.Actions[0])
		}
		s.DeviceAction(tn, d, "retire")
		if _, err := s.RecordActionResult(tn, d, DeviceAction{Name: "wipe", State: ActionDone}); err != ErrNotFound {
			t.Fatalf("retired device: %v, want ErrNotFound", err)
		}
	})
}

// TestEnrollmentDecidesThePolicyType: each compliance policy type governs exactly the
// devices Intune evaluates against it, by platform and Android enrolment; an Android
// device enrolled without one is a device administrator device.
func TestEnrollmentDecidesThePolicyType(t *testing.T) {
	w := New()
	w.Run(func(s *State) {
		tn, _ := s.AddTenant("", "t", "")
		for _, tc := range []struct {
			platform, enrollment, want string
		}{
			{Android, "", AndroidPolicyType},
			{Android, EnrollDeviceAdministrator, AndroidPolicyType},
			{Android, EnrollWorkProfile, AndroidWorkPolicyType},
			{Android, EnrollFullyManaged, AndroidDeviceOwnerPolicyType},
			{Android, EnrollDedicated, AndroidDeviceOwnerPolicyType},
			{Android, EnrollCorporateWorkProfile, AndroidDeviceOwnerPolicyType},
			{IOS, "", IOSPolicyType},
		} {
			d, err := s.AddDevice(tn, Device{Name: "d", Platform: tc.platform, OSVersion: "14", Enrollment: tc.enrollment})
			if err != nil {
				t.Fatalf("%s %q: %v", tc.platform, tc.enrollment, err)
			}
			var applies []string
			for _, typ := range []string{AndroidPolicyType, AndroidWorkPolicyType, AndroidDeviceOwnerPolicyType, IOSPolicyType} {
				if (&CompliancePolicy{ODataType: typ}).appliesTo(d) {
					applies = append(applies, typ)
				}
			}
			if len(applies) != 1 || applies[0] != tc.want {
				t.Errorf("%s %q: governed by %v, want %s", tc.platform, tc.enrollment, applies, tc.want)
			}
		}
		for _, d := range []Device{{Platform: IOS, Enrollment: EnrollWorkProfile}, {Platform: Android, Enrollment: "kiosk"}} {
			if _, err := s.AddDevice(tn, d); err != ErrInvalid {
				t.Errorf("%+v: %v, want ErrInvalid", d, err)
			}
		}
	})
}
