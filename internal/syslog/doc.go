// Package syslog receives BlackBerry UES Mobile Alerts over syslog for one
// MTDConnector: a hardened RFC 5424 receiver over TCP or TLS, pure Go, with no
// Kubernetes imports. The caller runs one Listener per connector and turns its
// Events into remediation; Intune's device risk stays the source of truth, so a
// message this package drops costs latency, not correctness.
//
// # Framing
//
// UES does not say how it frames messages over TCP, so both RFC 6587 framings
// are accepted on the same connection, decided per frame by its first byte:
//
//   - a digit starts octet counting, "<MSG-LEN> <message>" (RFC 6587 §3.4.1);
//     a length that is not a number, or has no space after it, breaks framing
//     and closes the connection, because nothing after it can be trusted;
//   - anything else (normally '<') starts non-transparent framing, ended by LF
//     or NUL (RFC 6587 §3.4.2 names both); a CR before the LF is dropped.
//
// LF, CR, NUL, space and tab between frames are skipped, which tolerates CRLF,
// a NUL after the LF and an LF after an octet-counted frame. A frame larger
// than Limits.MaxMessageBytes is discarded without being buffered: an
// octet-counted one by reading and dropping its declared length, a
// newline-terminated one up to its terminator. A frame cut off by a disconnect
// or a timeout is dropped; the frames before it were already delivered.
//
// # Messages
//
// A frame is an RFC 5424 message, "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
// MSGID SD [MSG]", checked strictly (a small parser here rather than
// github.com/leodido/go-syslog: see rfc5424.go). Structured data is skipped,
// a UTF-8 BOM before MSG is removed and invalid UTF-8 in MSG is replaced by
// U+FFFD, since MSG ends up in Kubernetes objects.
//
// MSG is "key-value pairs separated by commas" (the UES syslog guide), for
// example "BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name:
// Created, Alert Id: 7f3c…, Alert Name: unsupportedOS: Android, 9, Device Name:
// bob-Android-1". ParseMessage splits it by keys:
//
//   - A pair is "Key: Value". A key is one of the known keys (knownKeys in fields.go, matched ignoring
//     case) or looks like one: words of letters and digits separated by single
//     spaces, each word capitalised or one of a few lowercase links ("of",
//     "for", …), at most 64 bytes, followed by ':' and a space, a comma or the
//     end.
//   - A comma (with any spaces after it) ends a value only when a key follows
//     it; otherwise the comma belongs to the value. Inside the value of a key
//     in commaKeys (Alert Name, whose detail may read "Android, 9") only a
//     known key ends the value.
//   - Leading names with no value of their own ("BlackBerry Protect Mobile: ",
//     "CylancePROTECT: ") are product tags, not pairs: an unknown key directly
//     followed by another key.
//   - A key sent twice (an application name can carry ", Device Name: …") or
//     more than 64 pairs makes the message ambiguous: it is dropped as
//     malformed rather than guessed at.
//   - Text that does not start with a key yields no pairs.
//
// # Keys: documented and assumed
//
// Only two Mobile Alerts keys are documented by BlackBerry: "Alert Id" (the
// alert's unique id) and "Alert Name" ("<type>: <detail>", types
// maliciousApplication, sideLoadedApplication, jailbrokenOrRooted,
// deviceEncryption, deviceScreenlock, iOsIntegrityFailure,
// androidSafetyNetFailure, androidHWFailure, unsupportedSecurityPatch,
// unsupportedOS, unsupportedModel). A message is a mobile alert when it has
// both; everything else is ASSUMED from the layout of the documented desktop
// events and is what this project's twin sends: the product tag, "Event Type:
// MobileAlert", "Event Name" (Created, Resolved or Ignored), "Device Name",
// "User Email", "Device OS", "Version of OS", and the other names in
// knownKeys. Every pair is kept in Event.Fields as sent, so a real tenant's
// extra keys are not lost, and Field looks keys up ignoring case.
//
// # Safety
//
// Syslog has no sender authentication, so every resource is capped (see
// Limits): message size, connections in total and per source address,
// messages per second per source address (token bucket, kept across
// reconnects), idle time, TLS handshake time and the event queue. Memory per
// connection is one buffer of MaxMessageBytes plus a few bytes (and, with
// TLS, the tls package's record buffers). A connection
// from outside Config.AllowedSources, or over a cap, is closed at once. Every
// drop is reported to the Observer with a reason (see DropReasons), and the
// listener keeps serving other connections after each of them.
package syslog
