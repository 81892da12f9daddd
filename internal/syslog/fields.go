package syslog

import (
	"fmt"
	"strings"
)

// knownKeys are the keys a value ends at even when the value may contain commas. Only
// "Alert Id" and "Alert Name" are documented for Mobile Alerts; the others are assumed
// from the documented desktop events and from names UES uses elsewhere (see doc.go).
var knownKeys = []string{
	"Event Type", "Event Name", "Alert Id", "Alert Name",
	"Device Name", "Device ID", "User Email", "User", "User Name", "Email",
	"Device OS", "OS", "Version of OS", "OS Version",
	"Azure Device ID", "Entra Device ID", "Serial Number", "Tenant", "Model",
}

// commaKeys are the keys whose values are known to contain commas and ": " (Alert Name's
// detail reads "Android, 9" for unsupportedOS), so only a known key ends them.
var commaKeys = []string{"Alert Name"}

// knownIndex holds knownKeys in lower case, for isKnown to look keys up without
// comparing against each in turn at every comma of a message.
var knownIndex = func() map[string]bool {
	m := make(map[string]bool, len(knownKeys))
	for _, k := range knownKeys {
		m[strings.ToLower(k)] = true
	}
	return m
}()

// Keys of the documented and assumed fields Event is filled from.
const (
	keyAlertID   = "Alert Id"
	keyAlertName = "Alert Name"
	keyEventName = "Event Name"
)

const (
	maxPairs  = 64 // a cap on work per message: duplicate checks are quadratic
	maxKeyLen = 64
)

// linkWords may stand lowercase inside a key ("Version of OS").
var linkWords = []string{"of", "for", "the", "and", "on", "in", "to", "by", "at"}

// ParseMessage splits the MSG of a UES event into its "Key: Value" pairs, keys as sent
// and values trimmed, by the rules in the package documentation. Text that does not
// start with a key has no pairs (an empty map, no error); a key sent twice or more than
// 64 pairs is ambiguous and an error wrapping ErrMalformed.
func ParseMessage(msg string) (map[string]string, error) {
	fields := map[string]string{}
	key, rest, known, ok := leadingKey(strings.TrimSpace(msg))
	if !ok {
		return fields, nil
	}
	for !known { // a product tag: an unknown name with another key right after it
		k, r, kn, isKey := leadingKey(rest)
		if !isKey {
			break
		}
		key, rest, known = k, r, kn
	}
	seen := make([]string, 0, 16) // the keys so far, to find one sent twice in any case
	for {
		if oneOf(key, seen) {
			return nil, fmt.Errorf("%w: key %q sent twice", ErrMalformed, key)
		}
		if len(seen) == maxPairs {
			return nil, fmt.Errorf("%w: more than %d pairs", ErrMalformed, maxPairs)
		}
		seen = append(seen, key)
		val, next, nextRest, more := splitValue(rest, oneOf(key, commaKeys))
		fields[key] = strings.TrimSpace(val)
		if !more {
			return fields, nil
		}
		key, rest = next, nextRest
	}
}

// Field returns the value of the first of names present in fields, matching keys
// ignoring case, or "" when none is.
func Field(fields map[string]string, names ...string) string {
	for _, n := range names {
		if v, ok := lookup(fields, n); ok {
			return v
		}
	}
	return ""
}

func lookup(fields map[string]string, name string) (string, bool) {
	if v, ok := fields[name]; ok {
		return v, true
	}
	for k, v := range fields {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// splitValue finds where the value at the start of s ends: at the first comma followed
// (after spaces) by a key, or only by a known key when onlyKnown. It returns the value
// and, when another pair follows, that pair's key and the text after its colon.
func splitValue(s string, onlyKnown bool) (value, key, rest string, more bool) {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], ',')
		if j < 0 {
			return s, "", "", false
		}
		i += j + 1
		k, r, known, ok := leadingKey(strings.TrimLeft(s[i:], " "))
		if ok && (known || !onlyKnown) {
			return s[:i-1], k, r, true
		}
	}
}

// leadingKey reports whether s starts with a key and its colon (followed by a space, a
// comma or the end), returning the key as sent, the text after the colon and one
// space, and whether the key is one of knownKeys.
func leadingKey(s string) (key, rest string, known, ok bool) {
	// Only the first maxKeyLen+1 bytes can hold the colon: looking further would make a
	// message of many commas quadratic.
	i := strings.IndexByte(s[:min(len(s), maxKeyLen+1)], ':')
	if i <= 0 {
		return "", "", false, false
	}
	key, rest = s[:i], s[i+1:]
	if rest != "" && rest[0] != ' ' && rest[0] != ',' {
		return "", "", false, false
	}
	rest = strings.TrimPrefix(rest, " ")
	if isKnown(key) {
		return key, rest, true, true
	}
	return key, rest, false, keyLike(key)
}

// keyLike reports whether name looks like a UES key: words of ASCII letters and digits
// separated by single spaces, each starting with an upper-case letter or a digit (the
// first with a letter) or one of linkWords.
func keyLike(name string) bool {
	first := true
	for w := range strings.SplitSeq(name, " ") {
		if w == "" || !(isUpper(w[0]) || !first && (isDigit(w[0]) || oneOf(w, linkWords))) {
			return false
		}
		first = false
		for i := 1; i < len(w); i++ {
			if c := w[i]; !isUpper(c) && !(c >= 'a' && c <= 'z') && !isDigit(c) {
				return false
			}
		}
	}
	return true
}

// isKnown reports whether key is one of knownKeys, ignoring ASCII case.
func isKnown(key string) bool {
	var lower [maxKeyLen]byte
	if len(key) > len(lower) {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if isUpper(c) {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return knownIndex[string(lower[:len(key)])]
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// oneOf reports whether s is in list, ignoring case.
func oneOf(s string, list []string) bool {
	for _, l := range list {
		if strings.EqualFold(s, l) {
			return true
		}
	}
	return false
}
