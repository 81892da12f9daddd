package controllers

import (
	"fmt"
	"reflect"
	"strings"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/intune"
)

// settingsDrift compares every declared connector setting with Intune's value and
// returns the patch that puts the differences right (only differing fields set) and a
// description of each difference. Undeclared (nil) settings are not managed.
//
// The API type and the client type name their fields alike (both follow Graph), so one
// reflective walk covers every setting, including ones added later;
// TestConnectorSettingsFieldsMatch keeps the two types in step.
func settingsDrift(want *v1.ConnectorSettings, have intune.ConnectorSettings) (patch intune.ConnectorSettings, diffs []string) {
	if want == nil {
		return patch, nil
	}
	w, h, p := reflect.ValueOf(*want), reflect.ValueOf(have), reflect.ValueOf(&patch).Elem()
	for i := 0; i < w.NumField(); i++ {
		field := w.Type().Field(i)
		wf := w.Field(i)
		if wf.IsNil() {
			continue
		}
		hf := h.FieldByName(field.Name)
		if !hf.IsNil() && reflect.DeepEqual(wf.Elem().Interface(), hf.Elem().Interface()) {
			continue
		}
		p.FieldByName(field.Name).Set(wf)
		haveText := "unset"
		if !hf.IsNil() {
			haveText = fmt.Sprint(hf.Elem().Interface())
		}
		diffs = append(diffs, fmt.Sprintf("%s (want %v, have %s)", jsonName(field), wf.Elem().Interface(), haveText))
	}
	return patch, diffs
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// platformsOff is the patch that disconnects every platform that is on, which is what
// deletionPolicy Delete does: the partner connection itself stays, since adding it back
// needs an administrator in both consoles.
func platformsOff(have intune.ConnectorSettings) (patch intune.ConnectorSettings, names []string) {
	off := false
	for _, f := range []struct {
		name string
		on   *bool
		dst  **bool
	}{
		{"androidEnabled", have.AndroidEnabled, &patch.AndroidEnabled},
		{"iosEnabled", have.IOSEnabled, &patch.IOSEnabled},
		{"windowsEnabled", have.WindowsEnabled, &patch.WindowsEnabled},
	} {
		if f.on != nil && *f.on {
			*f.dst = &off
			names = append(names, f.name)
		}
	}
	return patch, names
}
