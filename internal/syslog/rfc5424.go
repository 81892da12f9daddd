package syslog

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// This is a small strict RFC 5424 parser rather than github.com/leodido/go-syslog/v4.
// Judged against it: go-syslog's RFC 5424 machine is strict and well tested, but its
// framing parsers could not be used (the octet-counting one stops at the first frame
// over its size limit, the non-transparent one has no size limit at all, and neither
// mixes the two framings on one connection), so it would only have contributed this
// header. For five header fields and a skipped STRUCTURED-DATA that is ~150 lines we
// fuzz (FuzzParse), against a 12,000-line generated state machine plus its dependency
// tree in a receiver that takes input from anyone, which also builds a map of every SD
// parameter and keeps the BOM in MSG, both of which we would undo.

// header is the part of an RFC 5424 message this package uses.
type header struct {
	timestamp         time.Time // zero for NILVALUE
	hostname, appName string    // "" for NILVALUE
	msg               string    // MSG without BOM, valid UTF-8
}

const bom = "\xEF\xBB\xBF"

// parseRFC5424 parses SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG] (RFC 5424 §6).
func parseRFC5424(b []byte) (header, error) {
	var h header
	p := b
	var ok bool
	if p, ok = parsePRI(p); !ok {
		return h, fmt.Errorf("%w: PRI", ErrMalformed)
	}
	// VERSION: 1 is the only version RFC 5424 defines.
	if len(p) < 2 || p[0] != '1' || p[1] != ' ' {
		return h, fmt.Errorf("%w: VERSION", ErrMalformed)
	}
	p = p[2:]
	var tok []byte
	if tok, p, ok = field(p, len("2006-01-02T15:04:05.000000+07:00")); !ok {
		return h, fmt.Errorf("%w: TIMESTAMP", ErrMalformed)
	}
	if !nil1(tok) {
		t, err := parseTimestamp(tok)
		if err != nil {
			return h, err
		}
		h.timestamp = t
	}
	var toks [len(idFields)][]byte
	for i, f := range idFields {
		if toks[i], p, ok = field(p, f.limit); !ok {
			return h, fmt.Errorf("%w: %s", ErrMalformed, f.name)
		}
	}
	h.hostname, h.appName = value(toks[0]), value(toks[1])
	if p, ok = skipSD(p); !ok {
		return h, fmt.Errorf("%w: STRUCTURED-DATA", ErrMalformed)
	}
	if len(p) > 0 {
		if p[0] != ' ' {
			return h, fmt.Errorf("%w: no space before MSG", ErrMalformed)
		}
		msg := strings.TrimPrefix(string(p[1:]), bom)
		if !utf8.ValidString(msg) {
			msg = strings.ToValidUTF8(msg, "\uFFFD")
		}
		h.msg = msg
	}
	return h, nil
}

// parsePRI parses "<" PRIVAL ">" with PRIVAL 0..191 and no leading zeros.
func parsePRI(p []byte) ([]byte, bool) {
	if len(p) < 3 || p[0] != '<' {
		return p, false
	}
	n, i := 0, 1
	for ; i < len(p) && i <= 4 && isDigit(p[i]); i++ {
		n = n*10 + int(p[i]-'0')
	}
	digits := i - 1
	if digits == 0 || digits > 3 || (digits > 1 && p[1] == '0') || n > 191 || i >= len(p) || p[i] != '>' {
		return p, false
	}
	return p[i+1:], true
}

// field takes one SP-terminated header field of 1..limit PRINTUSASCII octets.
func field(p []byte, limit int) (tok, rest []byte, ok bool) {
	i := 0
	for i < len(p) && p[i] != ' ' {
		if p[i] < 33 || p[i] > 126 || i >= limit {
			return nil, p, false
		}
		i++
	}
	if i == 0 || i == len(p) {
		return nil, p, false
	}
	return p[:i], p[i+1:], true
}

// idFields are the header fields after TIMESTAMP with their RFC 5424 maximum lengths.
var idFields = [...]struct {
	name  string
	limit int
}{{"HOSTNAME", 255}, {"APP-NAME", 48}, {"PROCID", 128}, {"MSGID", 32}}

func nil1(tok []byte) bool { return len(tok) == 1 && tok[0] == '-' }

// value is a header field as a string, "" for NILVALUE.
func value(tok []byte) string {
	if nil1(tok) {
		return ""
	}
	return string(tok)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseTimestamp checks the RFC 5424 form, which is narrower than RFC 3339 (upper-case
// T and Z, at most six fraction digits), then lets the time package check the values.
func parseTimestamp(tok []byte) (time.Time, error) {
	const form = "dddd-dd-ddTdd:dd:dd"
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("%w: TIMESTAMP %q", ErrMalformed, tok) }
	if len(tok) < len(form)+1 {
		return bad()
	}
	for i := range len(form) {
		if form[i] == 'd' && !isDigit(tok[i]) || form[i] != 'd' && form[i] != tok[i] {
			return bad()
		}
	}
	rest := tok[len(form):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 || n > 7 {
			return bad()
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]) && isDigit(rest[2]) &&
		rest[3] == ':' && isDigit(rest[4]) && isDigit(rest[5]):
	default:
		return bad()
	}
	t, err := time.Parse(time.RFC3339Nano, string(tok))
	if err != nil {
		return bad()
	}
	return t, nil
}

// skipSD skips STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT, checking its syntax so that a
// ']' or '"' inside a PARAM-VALUE (escaped as \] and \") is not taken for its end.
func skipSD(p []byte) ([]byte, bool) {
	if len(p) > 0 && p[0] == '-' {
		return p[1:], len(p) == 1 || p[1] == ' '
	}
	if len(p) == 0 || p[0] != '[' {
		return p, false
	}
	for len(p) > 0 && p[0] == '[' {
		var ok bool
		if p, ok = sdName(p[1:]); !ok { // SD-ID
			return p, false
		}
		for len(p) > 0 && p[0] == ' ' {
			if p, ok = sdName(p[1:]); !ok || len(p) < 2 || p[0] != '=' || p[1] != '"' { // PARAM-NAME="
				return p, false
			}
			if p, ok = sdValue(p[2:]); !ok {
				return p, false
			}
		}
		if len(p) == 0 || p[0] != ']' {
			return p, false
		}
		p = p[1:]
	}
	return p, true
}

// sdName takes SD-NAME = 1*32 PRINTUSASCII except '=', SP, ']' and '"'.
func sdName(p []byte) ([]byte, bool) {
	i := 0
	for i < len(p) && p[i] >= 33 && p[i] <= 126 && p[i] != '=' && p[i] != ']' && p[i] != '"' {
		i++
	}
	return p[i:], i >= 1 && i <= 32
}

// sdValue takes a PARAM-VALUE up to and including its closing '"'.
func sdValue(p []byte) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++ // an escaped character never ends the value
		case '"':
			return p[i+1:], true
		case ']':
			return p, false // RFC 5424 requires ']' in a value to be escaped
		}
	}
	return p, false
}
