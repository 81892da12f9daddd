package snapshot

import (
	"errors"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/intune"
)

func TestMatchingIsExact(t *testing.T) {
	const entra = "8C3E1A5F-2B4D-4C6E-9A8B-7D0F1E2C3B4A"
	s := New(time.Unix(0, 0), []intune.ManagedDevice{
		{ID: "a", AzureADDeviceID: entra, PartnerReportedThreatState: "highSeverity"},
		{ID: "b", AzureADDeviceID: "11111111-1111-1111-1111-111111111111", PartnerReportedThreatState: "secured"},
		{ID: "c", AzureADDeviceID: "22222222-2222-2222-2222-222222222222"},
		{ID: "d", AzureADDeviceID: "22222222-2222-2222-2222-222222222222"}, // a stale re-enrolment
		{ID: "e", AzureADDeviceID: zeroGUID},                               // not registered in Entra
		{ID: "f", AzureADDeviceID: zeroGUID},
	})
	for _, tc := range []struct {
		entra string
		want  string
		err   error
	}{
		{entra, "a", nil},
		{"8c3e1a5f-2b4d-4c6e-9a8b-7d0f1e2c3b4a", "a", nil}, // GUIDs compare case-insensitively
		{"22222222-2222-2222-2222-222222222222", "", ErrAmbiguous},
		{"", "", ErrNotFound}, // an empty id matches nothing, never everything
		{zeroGUID, "", ErrNotFound},
		{"33333333-3333-3333-3333-333333333333", "", ErrNotFound},
	} {
		d, err := s.ByEntraID(tc.entra)
		if !errors.Is(err, tc.err) || (tc.want != "" && (d == nil || d.ID != tc.want)) {
			t.Errorf("ByEntraID(%q) = %+v, %v; want %q, %v", tc.entra, d, err, tc.want, tc.err)
		}
	}
	if d, ok := s.ByIntuneID("A"); !ok || d.ID != "a" {
		t.Errorf("ByIntuneID(A) = %+v, %v", d, ok)
	}
	if _, ok := s.ByIntuneID(""); ok {
		t.Error("an empty Intune id matched a device")
	}
}

func TestCountsAndRisk(t *testing.T) {
	var devices []intune.ManagedDevice
	for _, st := range []string{"secured", "secured", "lowSeverity", "mediumSeverity", "highSeverity", "compromised", "unknown", "unresponsive", ""} {
		devices = append(devices, intune.ManagedDevice{ID: st + "x", PartnerReportedThreatState: st})
	}
	c := New(time.Time{}, devices).Counts()
	if c != (Counts{Secured: 2, Low: 1, Medium: 1, High: 2, Total: 9}) || c.Assessed() != 6 {
		t.Fatalf("counts = %+v", c)
	}
	for state, rank := range map[string]int{"secured": 0, "lowSeverity": 1, "mediumSeverity": 2, "highSeverity": 3, "compromised": 3, "misconfigured": 0, "activated": 0} {
		if got := Rank(Risk(state)); got != rank {
			t.Errorf("Rank(Risk(%q)) = %d, want %d", state, got, rank)
		}
	}
}

func TestStore(t *testing.T) {
	st := NewStore()
	if st.Get("u") != nil {
		t.Fatal("an empty store has a snapshot")
	}
	s := New(time.Unix(1, 0), nil)
	st.Put("u", s)
	if st.Get("u") != s {
		t.Fatal("Put/Get")
	}
	st.Forget("u")
	if st.Get("u") != nil {
		t.Fatal("Forget")
	}
}

func TestMatchingByNameAndUser(t *testing.T) {
	s := New(time.Unix(0, 0), []intune.ManagedDevice{
		{ID: "a", DeviceName: "bob-Android-1", UserPrincipalName: "bob@contoso.example"},
		{ID: "b", DeviceName: "iPhone", UserPrincipalName: "alice@contoso.example"},
		{ID: "c", DeviceName: "iPhone", UserPrincipalName: "carol@contoso.example"},
		{ID: "d", DeviceName: "shared", UserPrincipalName: "dave@contoso.example"},
		{ID: "e", DeviceName: "shared", UserPrincipalName: "dave@contoso.example"}, // a stale re-enrolment
	})
	for _, tc := range []struct {
		name, user, want string
		err              error
	}{
		{"bob-Android-1", "bob@contoso.example", "a", nil},
		{"BOB-android-1", "Bob@Contoso.example", "a", nil},
		{"iPhone", "carol@contoso.example", "c", nil}, // the same name, told apart by its user
		{"iPhone", "", "", ErrNotFound},               // a name alone identifies nothing
		{"", "bob@contoso.example", "", ErrNotFound},  // nor does a user with any device
		{"shared", "dave@contoso.example", "", ErrAmbiguous},
		{"bob-Android-1", "alice@contoso.example", "", ErrNotFound},
	} {
		d, err := s.ByNameAndUser(tc.name, tc.user)
		if !errors.Is(err, tc.err) || (tc.want != "" && (d == nil || d.ID != tc.want)) {
			t.Errorf("ByNameAndUser(%q, %q) = %+v, %v; want %q, %v", tc.name, tc.user, d, err, tc.want, tc.err)
		}
	}
}
