package ues

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimestampLayouts(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, in := range []string{`"2026-01-02T03:04:05.000Z"`, `"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:05"`, `"2026-01-02T04:04:05+01:00"`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(in), &ts); err != nil || !ts.Equal(want) {
			t.Errorf("%s = %v, %v", in, ts, err)
		}
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte(`null`), &ts); err != nil || !ts.IsZero() {
		t.Errorf("null = %v, %v", ts, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &ts); err == nil {
		t.Error("an unreadable time must be an error")
	}
}

// FuzzDecodePage feeds arbitrary bytes to the decoders of every response shape: they
// may refuse, never panic, and what they accept re-encodes and decodes to the same value.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"page_number":1,"page_size":2,"total_pages":1,"total_number_of_items":1,"page_items":[{"alert_id":"a","status":"active","modified_time":"2026-01-02T03:04:05.000Z"}]}`))
	f.Add([]byte(`{"page_items":[{"device_id":"d","risk_level":"high","last_reported_time":null}]}`))
	f.Add([]byte(`{"page_items":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip[Page[Alert]](t, data)
		roundTrip[Page[MobileDevice]](t, data)
		roundTrip[Page[Device]](t, data)
		roundTrip[IntegrationStatus](t, data)
		roundTrip[RiskAssessment](t, data)
	})
}

func roundTrip[T any](t *testing.T, data []byte) {
	var v T
	if json.Unmarshal(data, &v) != nil {
		return
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding %T: %v", v, err)
	}
	var w T
	if err := json.Unmarshal(again, &w); err != nil {
		t.Fatalf("decoding our own %T encoding %s: %v", v, again, err)
	}
	a, _ := json.Marshal(w)
	if string(a) != string(again) {
		t.Fatalf("%T does not round-trip:\n%s\n%s", v, again, a)
	}
}
