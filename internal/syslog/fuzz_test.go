package syslog

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that no input panics and that whatever Parse accepts is consistent:
// an Event always carries its alert keys, in Fields too, as valid UTF-8.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		alert(exampleID),
		"<14>1 - - - - - - " + minimalAlert,
		"<14>1 - h a - - - " + bom + minimalAlert,
		"<14>1 - - - - - - Alert Id: 1, Alert Name: unsupportedOS: Android, 9, Device Name: x",
		`<165>1 2003-10-11T22:14:15.003Z h a - ID47 [exampleSDID@32473 iut="3" eventSource="App"][p@1 c="\]"] ` + minimalAlert,
		"<14>1 2026-02-28T23:59:59.123456+05:30 h a 1 2 - CylancePROTECT: Event Type: DeviceControl, Event Name: fullaccess, Device Name: Test_Device_1",
		"<14>1 - - - - - - Alert Id: 1, Alert Id: 2",
		"<14>1 - - - - - - hello",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		ev, err := Parse(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotAlert) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		if ev.AlertID == "" || ev.Type == "" {
			t.Fatalf("accepted without Alert Id or type: %+v", ev)
		}
		if Field(ev.Fields, "Alert Id") != ev.AlertID || !strings.HasPrefix(Field(ev.Fields, "Alert Name"), ev.Type) {
			t.Fatalf("event and fields disagree: %+v", ev)
		}
		if len(ev.Fields) > maxPairs {
			t.Fatalf("%d pairs", len(ev.Fields))
		}
		for k, v := range ev.Fields {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
				t.Fatalf("bad pair %q: %q", k, v)
			}
		}
		again, err := Parse(frame)
		if err != nil || again.AlertID != ev.AlertID || len(again.Fields) != len(ev.Fields) {
			t.Fatalf("not deterministic: %+v, %v", again, err)
		}
	})
}
