package graph

import (
	"strings"
)

// splitTop splits s at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, ch := range s {
		switch ch {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if rest := s[start:]; strings.TrimSpace(rest) != "" || len(out) > 0 {
		out = append(out, rest)
	}
	return out
}

// parseExpand parses $expand into navigation property -> nested options
// (the text inside its parentheses, e.g. "$expand=scheduledActionConfigurations").
func parseExpand(s string) map[string]string {
	out := map[string]string{}
	for _, item := range splitTop(s) {
		item = strings.TrimSpace(item)
		name, nested := item, ""
		if i := strings.IndexByte(item, '('); i >= 0 && strings.HasSuffix(item, ")") {
			name, nested = item[:i], item[i+1:len(item)-1]
		}
		if name != "" {
			out[name] = nested
		}
	}
	return out
}

// nestedExpand extracts the $expand value of nested options.
func nestedExpand(opts string) map[string]string {
	for _, o := range strings.Split(opts, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(o), "$expand="); ok {
			return parseExpand(v)
		}
	}
	return map[string]string{}
}

// parseSelect returns the $select property names (nil for all).
func parseSelect(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// eqClause is one "property eq 'literal'" of a $filter.
type eqClause struct {
	prop  string
	value string
}

// parseEqFilter parses the documented $filter subset: clauses
// "prop eq 'literal'" joined by "and", with ” escaping a quote. ok is false
// for anything else; such filters are ignored as the service does.
func parseEqFilter(f string, allowed map[string]bool) ([]eqClause, bool) {
	f = strings.TrimSpace(f)
	if f == "" {
		return nil, false
	}
	var out []eqClause
	for f != "" {
		sp := strings.Fields(f)
		if len(sp) < 3 || !strings.EqualFold(sp[1], "eq") || !allowed[strings.ToLower(sp[0])] {
			return nil, false
		}
		prop := strings.ToLower(sp[0])
		rest := strings.TrimSpace(strings.TrimSpace(f[len(sp[0]):])[len(sp[1]):])
		if !strings.HasPrefix(rest, "'") {
			return nil, false
		}
		var val strings.Builder
		i := 1
		for ; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					val.WriteByte('\'')
					i++
					continue
				}
				break
			}
			val.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, false // unterminated literal
		}
		out = append(out, eqClause{prop, val.String()})
		f = strings.TrimSpace(rest[i+1:])
		if f == "" {
			break
		}
		sp = strings.Fields(f)
		if !strings.EqualFold(sp[0], "and") {
			return nil, false
		}
		f = strings.TrimSpace(f[len(sp[0]):])
		if f == "" {
			return nil, false
		}
	}
	return out, true
}
