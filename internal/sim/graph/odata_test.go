package graph

import (
	"reflect"
	"testing"
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
	})
}
