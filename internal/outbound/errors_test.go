package outbound

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestKindForStatus(t *testing.T) {
	for status, want := range map[int]Kind{400: Terminal, 401: Unauthorized, 403: Forbidden, 404: NotFound, 408: Transient,
		409: Conflict, 415: Terminal, 429: Throttled, 500: Transient, 502: Transient, 503: Transient, 504: Transient} {
		if got := KindForStatus(status); got != want {
			t.Errorf("KindForStatus(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              30 * time.Second,
		"7":                             7 * time.Second,
		"0":                             0,
		"soon":                          30 * time.Second,
		"Thu, 26 Nov 2026 04:00:12 GMT": 12 * time.Second,
		"Thu, 26 Nov 2026 03:59:00 GMT": 0,
	} {
		if got := ParseRetryAfter(in, now, 30*time.Second); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestErrorHelpersSeeThroughWrapping(t *testing.T) {
	base := &Error{Service: "graph", Operation: "GetConnector", Kind: Throttled, StatusCode: 429, RetryAfter: 9 * time.Second}
	err := fmt.Errorf("reconciling: %w", base)
	if !IsThrottled(err) || RetryAfterOf(err) != 9*time.Second || IsTerminal(err) {
		t.Fatalf("helpers do not see through wrapping: %v", err)
	}
	forbidden := &Error{Service: "graph", Operation: "PatchConnector", Kind: Forbidden, StatusCode: 403, Code: "Forbidden", Message: "Access denied", Permission: "DeviceManagementServiceConfig.ReadWrite.All"}
	if !IsTerminal(forbidden) {
		t.Fatal("Forbidden must be terminal")
	}
	want := "graph PatchConnector: Forbidden (HTTP 403): Forbidden: Access denied; missing permission DeviceManagementServiceConfig.ReadWrite.All"
	if forbidden.Error() != want {
		t.Fatalf("message:\n%s\nwant\n%s", forbidden.Error(), want)
	}
	if KindOf(errors.New("plain")) != "" || IsNotFound(nil) {
		t.Fatal("unclassified errors have no kind")
	}
}
