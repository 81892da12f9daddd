package syslog

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

const exampleID = "7f3c9a2e-1111-4a5b-9c8d-0e1f2a3b4c5d"

func TestParseExample(t *testing.T) {
	ev, err := Parse([]byte(alert(exampleID)))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		AlertID: exampleID, Type: "maliciousApplication", Detail: "Evil Flashlight", Name: "Created",
		Timestamp: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Hostname: "ues.example", AppName: "CylancePROTECT",
	}
	if ev.AlertID != want.AlertID || ev.Type != want.Type || ev.Detail != want.Detail || ev.Name != want.Name ||
		!ev.Timestamp.Equal(want.Timestamp) || ev.Hostname != want.Hostname || ev.AppName != want.AppName {
		t.Errorf("got %+v\nwant %+v", ev, want)
	}
	wantFields := map[string]string{
		"Event Type": "MobileAlert", "Event Name": "Created", "Alert Id": exampleID,
		"Alert Name": "maliciousApplication: Evil Flashlight", "Device Name": "bob-Android-1",
		"User Email": "bob@contoso.example", "Device OS": "Android", "Version of OS": "14",
	}
	if !maps.Equal(ev.Fields, wantFields) {
		t.Errorf("fields %v\nwant %v", ev.Fields, wantFields)
	}
}

func TestParseMessageCommasInValues(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want map[string]string
	}{
		{"Alert Name: unsupportedOS: Android, 9, Device Name: x",
			map[string]string{"Alert Name": "unsupportedOS: Android, 9", "Device Name": "x"}},
		// Inside Alert Name an unknown key-like name is part of the detail...
		{"Alert Name: maliciousApplication: Flash, Light Pro: Free, Device Name: x",
			map[string]string{"Alert Name": "maliciousApplication: Flash, Light Pro: Free", "Device Name": "x"}},
		// ...but after another key it starts a pair.
		{"Device Name: x, Light Pro: Free, Alert Name: a: b",
			map[string]string{"Device Name": "x", "Light Pro": "Free", "Alert Name": "a: b"}},
		// A comma not followed by a key belongs to the value, whatever the key.
		{"Device Name: Bob, Jr's phone, User: bob", map[string]string{"Device Name": "Bob, Jr's phone", "User": "bob"}},
		{"Device Name: Test: x, OS: iOS", map[string]string{"Device Name": "Test: x", "OS": "iOS"}},
		{"Alert Name: unsupportedOS: iOS, 15.1", map[string]string{"Alert Name": "unsupportedOS: iOS, 15.1"}},
		// A comma with no space, or several spaces, still separates.
		{"Alert Id: 1,Alert Name: a: b,   Device Name: d",
			map[string]string{"Alert Id": "1", "Alert Name": "a: b", "Device Name": "d"}},
		// Known keys match ignoring case and end Alert Name.
		{"Alert Name: a: b, device name: d", map[string]string{"Alert Name": "a: b", "device name": "d"}},
		// Empty values.
		{"Device Name: , User: u, OS:", map[string]string{"Device Name": "", "User": "u", "OS": ""}},
		// "Https://…" is not a key: its colon is not followed by a space.
		{"Device Name: a, Https://x.example/, OS: iOS", map[string]string{"Device Name": "a, Https://x.example/", "OS": "iOS"}},
	} {
		got, err := ParseMessage(tc.msg)
		if err != nil {
			t.Errorf("%q: %v", tc.msg, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%q:\n got %v\nwant %v", tc.msg, got, tc.want)
		}
	}
}

func TestParseMessageUnknownKeys(t *testing.T) {
	got, err := ParseMessage("Alert Id: 1, Risk Level: High, Policy 2 Name: Default, Time of Detection: now, Alert Name: x: y")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Alert Id": "1", "Risk Level": "High", "Policy 2 Name": "Default",
		"Time of Detection": "now", "Alert Name": "x: y"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// Lower-case words other than links, or punctuation, are not keys: the text stays in the value.
	got, err = ParseMessage("Device Name: a, risk level: High, Risk-Level: High")
	if err != nil {
		t.Fatal(err)
	}
	if v := got["Device Name"]; v != "a, risk level: High, Risk-Level: High" {
		t.Errorf("Device Name = %q", v)
	}
}

func TestParseMessageProductTags(t *testing.T) {
	for _, tag := range []string{"", "BlackBerry Protect Mobile: ", "CylancePROTECT Mobile: ", "CylancePROTECT: ",
		"CylancePROTECT: BlackBerry Protect Mobile: "} {
		got, err := ParseMessage(tag + "Event Type: MobileAlert, Alert Id: 1")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"Event Type": "MobileAlert", "Alert Id": "1"}; !maps.Equal(got, want) {
			t.Errorf("tag %q: got %v", tag, got)
		}
	}
	// A known key is never a tag, even when its value looks like a key.
	got, _ := ParseMessage("Device Name: Test: x")
	if want := map[string]string{"Device Name": "Test: x"}; !maps.Equal(got, want) {
		t.Errorf("got %v", got)
	}
	// An unknown first key with a plain value is a pair, not a tag.
	got, _ = ParseMessage("Risk Level: High, Alert Id: 1")
	if want := map[string]string{"Risk Level": "High", "Alert Id": "1"}; !maps.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestParseMessageNoPairs(t *testing.T) {
	for _, msg := range []string{"", "   ", "hello world", "this is a test message from BlackBerry", "hello, Alert Id: 1"} {
		got, err := ParseMessage(msg)
		if err != nil || len(got) != 0 {
			t.Errorf("%q: got %v, %v; want no pairs", msg, got, err)
		}
	}
}

func TestParseMessageAmbiguous(t *testing.T) {
	many := make([]string, maxPairs+1)
	for i := range many {
		many[i] = "K" + strings.Repeat("a", i%40) + string(rune('A'+i/40)) + ": v"
	}
	for _, msg := range []string{
		"Alert Id: 1, Alert Id: 2",
		"Alert Id: 1, alert id: 2",
		// An application named to inject a device: the real Device Name follows.
		"Alert Id: 1, Alert Name: maliciousApplication: x, Device Name: ceo-iphone, Device Name: bob-Android-1",
		strings.Join(many, ", "),
	} {
		if _, err := ParseMessage(msg); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.80q: err %v, want ErrMalformed", msg, err)
		}
	}
	if _, err := ParseMessage(strings.Join(many[:maxPairs], ", ")); err != nil {
		t.Errorf("%d pairs: %v", maxPairs, err)
	}
}

func TestField(t *testing.T) {
	f := map[string]string{"Device Name": "d", "user email": "u@x", "Empty": ""}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"Device Name"}, "d"},
		{[]string{"DEVICE NAME"}, "d"},
		{[]string{"User Email"}, "u@x"},
		{[]string{"Email", "User Email"}, "u@x"},
		{[]string{"Empty", "Device Name"}, ""}, // present and empty is an answer
		{[]string{"Missing"}, ""},
		{nil, ""},
	} {
		if got := Field(f, tc.names...); got != tc.want {
			t.Errorf("Field(%v) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

const minimalAlert = "Alert Id: 1, Alert Name: jailbrokenOrRooted: Rooted"

func TestParseHeaderVariants(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		ts          time.Time
		host, app   string
	}{
		{"nil values", "<14>1 - - - - - - " + minimalAlert, time.Time{}, "", ""},
		{"BOM", "<14>1 - h a - - - " + bom + minimalAlert, time.Time{}, "h", "a"},
		{"offset and micros", "<0>1 2026-02-28T23:59:59.123456+05:30 h a 1234 ID47 - " + minimalAlert,
			time.Date(2026, 2, 28, 18, 29, 59, 123456000, time.UTC), "h", "a"},
		{"no fraction", "<191>1 2026-12-01T10:00:00-07:00 h a - - - " + minimalAlert,
			time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC), "h", "a"},
		{"structured data", `<165>1 2003-10-11T22:14:15.003Z h a - ID47 [exampleSDID@32473 iut="3" eventSource="App" ` +
			`eventID="1011"][examplePriority@32473 class="high"] ` + minimalAlert,
			time.Date(2003, 10, 11, 22, 14, 15, 3000000, time.UTC), "h", "a"},
		{"escapes in SD", `<14>1 - h a - - [x@1 a="quote \" bracket \] slash \\ done" b=""] ` + minimalAlert, time.Time{}, "h", "a"},
		{"trailing CRLF NUL", "<14>1 - h a - - - " + minimalAlert + "\r\n\x00", time.Time{}, "h", "a"},
	} {
		ev, err := Parse([]byte(tc.frame))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !ev.Timestamp.Equal(tc.ts) || ev.Timestamp.IsZero() != tc.ts.IsZero() || ev.Hostname != tc.host || ev.AppName != tc.app {
			t.Errorf("%s: got ts %v host %q app %q", tc.name, ev.Timestamp, ev.Hostname, ev.AppName)
		}
		if ev.AlertID != "1" || ev.Type != "jailbrokenOrRooted" || ev.Detail != "Rooted" {
			t.Errorf("%s: got %+v", tc.name, ev)
		}
	}
}

func TestParseInvalidUTF8Replaced(t *testing.T) {
	ev, err := Parse([]byte("<14>1 - - - - - - Alert Id: 1, Alert Name: maliciousApplication: Bad\xff\xfeApp"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detail != "Bad\uFFFDApp" {
		t.Errorf("detail %q", ev.Detail)
	}
}

func TestParseAlertNameWithoutDetail(t *testing.T) {
	ev, err := Parse([]byte("<14>1 - - - - - - Alert Id: 1, Alert Name: deviceEncryption"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "deviceEncryption" || ev.Detail != "" || ev.Name != "" {
		t.Errorf("got %+v", ev)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	const tail = " h a - - - " + minimalAlert
	for _, frame := range []string{
		"",
		"hello",
		minimalAlert,
		"<14>" + tail,                       // no version
		"<192>1 -" + tail,                   // PRI over 191
		"<014>1 -" + tail,                   // leading zero
		"<1234>1 -" + tail,                  // four digits
		"<>1 -" + tail,                      // empty PRI
		"<14>2 -" + tail,                    // unknown version
		"<14>1 2026-12-01t10:00:00Z" + tail, // lower-case t
		"<14>1 2026-12-01T10:00:00z" + tail, // lower-case z
		"<14>1 2026-12-01T10:00:00.1234567Z" + tail,
		"<14>1 2026-12-01T10:00:00." + tail[:0] + "Z" + tail,
		"<14>1 2026-13-01T10:00:00Z" + tail,
		"<14>1 2026-02-30T10:00:00Z" + tail,
		"<14>1 2026-12-01T10:00:00" + tail,       // no offset
		"<14>1 2026-12-01T10:00:00+0100" + tail,  // offset without colon
		"<14>1 2026-12-01 10:00:00Z h a - - - x", // space in timestamp
		"<14>1 - " + strings.Repeat("h", 256) + " a - - - x",
		"<14>1 - h " + strings.Repeat("a", 49) + " - - - x",
		"<14>1 - h a " + strings.Repeat("p", 129) + " - - x",
		"<14>1 - h a - " + strings.Repeat("m", 33) + " - x",
		"<14>1 - h\ta - - - x", // not PRINTUSASCII
		"<14>1 - h a - -",      // no SD
		"<14>1 - h a - - -x",   // no space before MSG
		"<14>1 - h a - - [x",
		`<14>1 - h a - - [x a="1"`,
		`<14>1 - h a - - [x a="1 ] 2"] x`, // unescaped ] in a value
		`<14>1 - h a - - [x a=1] x`,
		`<14>1 - h a - - [` + strings.Repeat("i", 33) + `] x`,
		`<14>1 - h a - - [x a="\"] x`,
		"<14>1 - h a - - [] x",
		"<14>1 - h a - - x x",
		"<14>1 - h a - - - Alert Id: 1, Alert Id: 2, Alert Name: a: b",
		"<14>1 - h a - - - Alert Id: 1, Alert Name: : no type", // found by FuzzParse
	} {
		if _, err := Parse([]byte(frame)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.90q: err %v, want ErrMalformed", frame, err)
		}
	}
}

func TestParseNotAnAlert(t *testing.T) {
	for _, msg := range []string{
		"",
		"This is a test message",
		"CylancePROTECT: Event Type: AppControl, Event Name: pechange, Device Name: WIN-7entSh64",
		"BlackBerry Protect Mobile: Alert Id: 1",
		"BlackBerry Protect Mobile: Alert Name: a: b",
		"Alert Id: , Alert Name: a: b",
	} {
		frame := "<14>1 - h a - - -"
		if msg != "" {
			frame += " " + msg
		}
		if _, err := Parse([]byte(frame)); !errors.Is(err, ErrNotAlert) {
			t.Errorf("%q: err %v, want ErrNotAlert", msg, err)
		}
	}
}
