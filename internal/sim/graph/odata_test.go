package graph

import (
	"reflect"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

func TestParseEqFilter(t *testing.T) {
	allowed := map[string]bool{"compliancestate": true, "devicename": true, "operatingsystem": true}
	tests := []struct {
		in   string
		want []eqClause
		ok   bool
	}{
		{"complianceState eq 'noncompliant'", []eqClause{{"compliancestate", "noncompliant"}}, true},
		{"deviceName eq 'O''Brien''s phone'", []eqClause{{"devicename", "O'Brien's phone"}}, true},
		{"deviceName eq 'a and b' and operatingSystem EQ 'iOS'", []eqClause{{"devicename", "a and b"}, {"operatingsystem", "iOS"}}, true},
		{"  operatingSystem eq 'Android'  ", []eqClause{{"operatingsystem", "Android"}}, true},
		{"", nil, false},
		{"osVersion eq '14'", nil, false},                                   // property outside the subset
		{"deviceName ne 'x'", nil, false},                                   // operator outside the subset
		{"deviceName eq 'x' or deviceName eq 'y'", nil, false},              // or
		{"deviceName eq 'unterminated", nil, false},                         // literal
		{"deviceName eq x", nil, false},                                     // unquoted
		{"deviceName eq 'x' and", nil, false},                               // dangling and
		{"startswith(deviceName,'x')", nil, false},                          // function
		{"complianceState eq 'compliant' and osVersion eq '1'", nil, false}, // one bad clause spoils all
	}
	for _, tc := range tests {
		got, ok := parseEqFilter(tc.in, allowed)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseEqFilter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want filterExpr
		ok   bool
	}{
		{"a eq 'x'", filterExpr{{{"a", "eq", "x", true}}}, true},
		{"a eq 'x' and B LT 2026-01-02T03:04:05Z", filterExpr{{{"a", "eq", "x", true}, {"b", "lt", "2026-01-02T03:04:05Z", false}}}, true},
		{"a eq 'x' or a eq 'y' and b eq 'z'", filterExpr{{{"a", "eq", "x", true}}, {{"a", "eq", "y", true}, {"b", "eq", "z", true}}}, true},
		{"a eq 'it''s or not'", filterExpr{{{"a", "eq", "it's or not", true}}}, true},
		{"a ge 3", filterExpr{{{"a", "ge", "3", false}}}, true},
		{"", nil, false},
		{"a eq 'x' or", nil, false},
		{"a eq 'x' xor b eq 'y'", nil, false},
		{"a has 'x'", nil, false},
		{"(a eq 'x')", nil, false},
		{"not a eq 'x'", nil, false},
		{"a eq f(x)", nil, false},
		{"a eq 'x", nil, false},
	}
	for _, tc := range tests {
		got, ok := parseFilter(tc.in)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseFilter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestDeviceFilter: the managedDevices $filter the service honours
// (reference/graph-intune.md): azureADDeviceId, complianceState,
// operatingSystem eq and lastSyncDateTime lt; anything else is ignored; of an
// or chain only the first alternative applies.
func TestDeviceFilter(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &world.Device{LastSync: t0}
	md := &managedDevice{AzureADDeviceID: "e1", ComplianceState: "noncompliant", OperatingSystem: "iOS", DeviceName: "n", UserID: "u"}
	tests := []struct {
		in      string
		applied bool
		match   bool
	}{
		{"azureADDeviceId eq 'E1'", true, true},
		{"azureADDeviceId eq 'e2'", true, false},
		{"complianceState eq 'noncompliant' and operatingSystem eq 'iOS'", true, true},
		{"complianceState eq 'noncompliant' and operatingSystem eq 'Android'", true, false},
		{"lastSyncDateTime lt 2026-01-02T03:04:06Z", true, true},
		{"lastSyncDateTime lt 2026-01-02T03:04:05Z", true, false}, // lt is strict
		{"lastSyncDateTime lt 2026-01-02T03:04:06.5+01:00", true, false},
		{"azureADDeviceId eq 'e2' or azureADDeviceId eq 'e1'", true, false}, // the first alternative only
		{"azureADDeviceId eq 'e1' or azureADDeviceId eq 'e2'", true, true},
		{"", false, true},
		{"deviceName eq 'n'", false, true},
		{"id eq 'x'", false, true},
		{"userPrincipalName eq 'x'", false, true},
		{"userId eq 'u'", false, true},
		{"partnerReportedThreatState eq 'secured'", false, true},
		{"azureADDeviceId ne 'e1'", false, true},
		{"azureADDeviceId eq 'e1' and userId eq 'zz'", false, true},
		{"azureADDeviceId eq 'e1' or userId eq 'zz'", false, true},
		{"lastSyncDateTime le 2026-01-02T03:04:06Z", false, true},
		{"lastSyncDateTime lt '2026-01-02T03:04:06Z'", false, true},
		{"lastSyncDateTime lt 2026-01-02", false, true},
		{"operatingSystem eq iOS", false, true}, // an unquoted string
	}
	for _, tc := range tests {
		f, applied := parseDeviceFilter(tc.in)
		match := !applied || f.matches(md, d)
		if applied != tc.applied || match != tc.match {
			t.Errorf("%q: applied %v match %v; want %v %v", tc.in, applied, match, tc.applied, tc.match)
		}
	}
}

func TestParseExpand(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"assignments", map[string]string{"assignments": ""}},
		{"scheduledActionsForRule($expand=scheduledActionConfigurations),assignments",
			map[string]string{"scheduledActionsForRule": "$expand=scheduledActionConfigurations", "assignments": ""}},
		{" assignments , scheduledActionsForRule ", map[string]string{"assignments": "", "scheduledActionsForRule": ""}},
	}
	for _, tc := range tests {
		if got := parseExpand(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseExpand(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if n := nestedExpand("$select=id;$expand=scheduledActionConfigurations"); len(n) != 1 {
		t.Errorf("nestedExpand = %v", n)
	}
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		p    prop
		v    any
		okay bool
	}{
		{pBool, true, true}, {pBool, "true", false},
		{pInt, float64(3), true}, {pInt, 3.5, false}, {pInt, float64(1 << 40), false},
		{pString, "x", true}, {pString, 1.0, false},
		{pStrings, []any{"a"}, true}, {pStrings, []any{1.0}, false},
		{enum("a", "b"), "b", true}, {enum("a", "b"), "c", false},
		{pBool, nil, true}, // null clears
	}
	for _, tc := range tests {
		if err := checkValue("p", tc.p, tc.v); (err == nil) != tc.okay {
			t.Errorf("checkValue(%v, %v) = %v", tc.p, tc.v, err)
		}
	}
}

// FuzzParseEqFilter: any input parses or is refused, never panics, and a
// parsed filter only names allowed properties.
func FuzzParseEqFilter(f *testing.F) {
	for _, s := range []string{"complianceState eq 'x'", "deviceName eq 'a''b' and operatingSystem eq 'iOS'", "a eq", "'", "deviceName eq ''''"} {
		f.Add(s)
	}
	allowed := map[string]bool{"compliancestate": true, "devicename": true, "operatingsystem": true}
	f.Fuzz(func(t *testing.T, s string) {
		clauses, ok := parseEqFilter(s, allowed)
		for _, c := range clauses {
			if !ok || !allowed[c.prop] {
				t.Fatalf("%q -> %v %v", s, clauses, ok)
			}
		}
		_ = parseExpand(s)
		if expr, ok := parseFilter(s); ok {
			for _, alt := range expr {
				if len(alt) == 0 {
					t.Fatalf("%q -> empty alternative in %v", s, expr)
				}
				for _, c := range alt {
					if !filterOps[c.op] || c.prop == "" {
						t.Fatalf("%q -> %v", s, expr)
					}
				}
			}
		}
		_, _ = parseDeviceFilter(s)
	})
}
