package main

import (
	"strings"
	"testing"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

func TestApprovalExemptActions(t *testing.T) {
	got, err := approvalExempt(" remoteLock, ignoreAlert ")
	if err != nil || !got[v1.StepRemoteLock] || !got[v1.StepIgnoreAlert] || len(got) != 2 {
		t.Fatalf("approvalExempt = %v, %v", got, err)
	}
	if got, err := approvalExempt(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	// A typo or a destructive action must stop the start, never leave a wipe ungated.
	for _, bad := range []string{"wipe", "retire", "remotelock", "remoteLock,wipe"} {
		if _, err := approvalExempt(bad); err == nil || !strings.Contains(err.Error(), "cannot run without an approval") {
			t.Errorf("approvalExempt(%q) = %v", bad, err)
		}
	}
}
