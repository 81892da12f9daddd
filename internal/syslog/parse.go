package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Event is one Mobile Alerts message.
type Event struct {
	AlertID   string            // "Alert Id"
	Type      string            // "Alert Name" before its first ": " (e.g. maliciousApplication)
	Detail    string            // "Alert Name" after it ("" when it has none)
	Name      string            // "Event Name" (assumed: Created, Resolved, Ignored), as sent
	Fields    map[string]string // every pair of the message, keys as sent, Alert Id and Alert Name included
	Timestamp time.Time         // the RFC 5424 TIMESTAMP, zero for NILVALUE
	Hostname  string            // the RFC 5424 HOSTNAME, "" for NILVALUE
	AppName   string            // the RFC 5424 APP-NAME, "" for NILVALUE
	Source    netip.Addr        // the sender's address (set by the Listener)
	Received  time.Time         // when the Listener read the frame
}

var (
	// ErrMalformed is wrapped by errors for a message that is not RFC 5424 or whose
	// pairs are ambiguous.
	ErrMalformed = errors.New("malformed syslog message")
	// ErrNotAlert is wrapped by errors for a well-formed message that is not a mobile
	// alert: it lacks "Alert Id" or "Alert Name" (other UES event types, connection tests).
	ErrNotAlert = errors.New("not a mobile alert")
)

// Parse parses one RFC 5424 message (without framing; trailing CR, LF and NUL are
// ignored) into an Event. Source and Received are left for the caller.
func Parse(frame []byte) (Event, error) {
	h, err := parseRFC5424(bytes.TrimRight(frame, "\r\n\x00"))
	if err != nil {
		return Event{}, err
	}
	fields, err := ParseMessage(h.msg)
	if err != nil {
		return Event{}, err
	}
	id, name := Field(fields, keyAlertID), Field(fields, keyAlertName)
	if id == "" || name == "" {
		return Event{}, fmt.Errorf("%w: no %q and %q", ErrNotAlert, keyAlertID, keyAlertName)
	}
	typ, detail, _ := strings.Cut(name, ": ")
	if typ = strings.TrimSpace(typ); typ == "" {
		return Event{}, fmt.Errorf("%w: %q has no type", ErrMalformed, keyAlertName)
	}
	return Event{
		AlertID:   id,
		Type:      typ,
		Detail:    strings.TrimSpace(detail),
		Name:      Field(fields, keyEventName),
		Fields:    fields,
		Timestamp: h.timestamp,
		Hostname:  h.hostname,
		AppName:   h.appName,
	}, nil
}
