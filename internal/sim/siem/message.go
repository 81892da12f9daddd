// Package siem is UES's Syslog/SIEM integration in the twin. Per tenant, a
// sender turns every Mobile Alerts event (an alert raised, resolved or
// ignored) into an RFC 5424 message and delivers it over TCP or TLS the way
// BlackBerry documents delivery: ten tries per message, then the dead-letter
// queue, and the integration disabled once 400 messages went undelivered.
// Only the Alert Id and Alert Name keys of the message are documented; the
// rest of its shape is the project's assumption (docs/sim.md, "Syslog").
package siem

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Fixed header fields of every message.
const (
	// Hostname is the HOSTNAME field: the world has no UES host name, so
	// every tenant sends under the twin's.
	Hostname = "ues.sim"
	// AppName is the APP-NAME field (assumed: the product name the desktop
	// example MSG starts with).
	AppName = "CylancePROTECT"
	// TimeLayout is RFC 3339 with milliseconds in UTC, the TIMESTAMP field.
	TimeLayout = "2006-01-02T15:04:05.000Z"
)

// Event names of the Mobile Alerts events, by alert status.
const (
	EventCreated  = "Created"
	EventResolved = "Resolved"
	EventIgnored  = "Ignored"
)

// PRI = facility 1 (user-level) × 8 + severity: informational (6) for a new
// alert, notice (5) for one that ended.
const (
	priCreated = 1*8 + 6
	priEnded   = 1*8 + 5
)

// Message is the RFC 5424 message UES sends for a's current status, dated
// when the alert last changed (world time).
func Message(t *world.Tenant, d *world.Device, a *world.Alert) string {
	event, pri := EventCreated, priCreated
	switch a.Status {
	case world.AlertResolved:
		event, pri = EventResolved, priEnded
	case world.AlertIgnored:
		event, pri = EventIgnored, priEnded
	}
	email := ""
	if u := t.UserOf(d); u != nil {
		email = u.UserPrincipalName
	}
	msg := "BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name: " + event +
		", Alert Id: " + a.ID + ", Alert Name: " + a.Type + ": " + Detail(d, a) +
		", Device Name: " + d.Name + ", User Email: " + email +
		", Device OS: " + d.Platform + ", Version of OS: " + d.OSVersion
	return fmt.Sprintf("<%d>1 %s %s %s - - - %s", pri, a.Modified.UTC().Format(TimeLayout), Hostname, AppName, oneLine(msg))
}

// Detail is what follows the type in Alert Name: the detail given at
// detection, else the syslog guide's text for the type, taken from the
// device where the guide names a device property. Types whose detail is
// free text (an app, a patch level, a network) and that were raised without
// one read "Unknown", one of the guide's values for a patch level.
func Detail(d *world.Device, a *world.Alert) string {
	if a.Detail != "" {
		return a.Detail
	}
	switch a.Type {
	case "jailbrokenOrRooted":
		if d.Platform == world.IOS {
			return "Jailbroken"
		}
		return "Rooted"
	case "deviceEncryption":
		return "Encryption disabled"
	case "deviceScreenlock":
		return "Screenlock disabled"
	case "iOsIntegrityFailure":
		return "iOS App Integrity Check"
	case "androidSafetyNetFailure":
		return "Android SafetyNet"
	case "androidHWFailure":
		return "Android Hardware"
	case "unsupportedOS":
		return d.Platform + ", " + d.OSVersion
	case "unsupportedModel":
		if d.Model != "" {
			return d.Model
		}
	}
	return "Unknown"
}

// oneLine replaces line breaks (a device name is free text) so that a
// message never ends early under non-transparent framing.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Frame puts a message on the wire: RFC 6587 octet counting
// ("<length> <message>", the length in bytes) or non-transparent framing
// (the message and a line feed).
func Frame(framing, msg string) string {
	if framing == adminapi.SyslogNonTransparent {
		return msg + "\n"
	}
	return strconv.Itoa(len(msg)) + " " + msg
}
