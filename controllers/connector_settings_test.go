package controllers

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

func TestDecideConnectorSettingsFieldsMatch(t *testing.T) {
	api, client := reflect.TypeOf(v1.ConnectorSettings{}), reflect.TypeOf(intune.ConnectorSettings{})
	if api.NumField() != client.NumField() {
		t.Fatalf("API has %d settings, client %d", api.NumField(), client.NumField())
	}
	for i := 0; i < api.NumField(); i++ {
		f := api.Field(i)
		g, ok := client.FieldByName(f.Name)
		if !ok || g.Type != f.Type {
			t.Errorf("setting %s (%s) has no counterpart of the same type in intune.ConnectorSettings", f.Name, f.Type)
		}
	}
}

func TestDecideSettingsDrift(t *testing.T) {
	yes, no := true, false
	seven, thirty := int32(7), int32(30)
	have := intune.ConnectorSettings{AndroidEnabled: &yes, IOSEnabled: &no, PartnerUnresponsivenessThresholdInDays: &thirty}
	for _, tc := range []struct {
		name      string
		want      *v1.ConnectorSettings
		diffs     string
		patchJSON func(p intune.ConnectorSettings) bool
	}{
		{"nothing declared", nil, "", func(p intune.ConnectorSettings) bool { return p == intune.ConnectorSettings{} }},
		{"declared and equal", &v1.ConnectorSettings{AndroidEnabled: &yes, IOSEnabled: &no}, "", func(p intune.ConnectorSettings) bool { return p == intune.ConnectorSettings{} }},
		{"one bool differs", &v1.ConnectorSettings{AndroidEnabled: &yes, IOSEnabled: &yes}, "iosEnabled (want true, have false)",
			func(p intune.ConnectorSettings) bool {
				return p.IOSEnabled != nil && *p.IOSEnabled && p.AndroidEnabled == nil
			}},
		{"int differs", &v1.ConnectorSettings{PartnerUnresponsivenessThresholdInDays: &seven}, "partnerUnresponsivenessThresholdInDays (want 7, have 30)",
			func(p intune.ConnectorSettings) bool { return *p.PartnerUnresponsivenessThresholdInDays == 7 }},
		{"unset live value", &v1.ConnectorSettings{PartnerUnsupportedOsVersionBlocked: &no}, "partnerUnsupportedOsVersionBlocked (want false, have unset)",
			func(p intune.ConnectorSettings) bool {
				return p.PartnerUnsupportedOsVersionBlocked != nil && !*p.PartnerUnsupportedOsVersionBlocked
			}},
		{"capital IOS metadata field", &v1.ConnectorSettings{AllowPartnerToCollectIOSApplicationMetadata: &yes}, "allowPartnerToCollectIOSApplicationMetadata (want true, have unset)",
			func(p intune.ConnectorSettings) bool { return p.AllowPartnerToCollectIOSApplicationMetadata != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, diffs := settingsDrift(tc.want, have)
			if got := strings.Join(diffs, ", "); got != tc.diffs {
				t.Fatalf("diffs = %q, want %q", got, tc.diffs)
			}
			if !tc.patchJSON(patch) {
				t.Fatalf("patch %+v is not the minimal correction", patch)
			}
		})
	}
}

func TestDecidePlatformsOff(t *testing.T) {
	yes, no := true, false
	patch, names := platformsOff(intune.ConnectorSettings{AndroidEnabled: &yes, IOSEnabled: &no})
	if strings.Join(names, ",") != "androidEnabled" || patch.AndroidEnabled == nil || *patch.AndroidEnabled || patch.IOSEnabled != nil {
		t.Fatalf("platformsOff = %+v, %v", patch, names)
	}
}
