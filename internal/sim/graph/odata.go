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

// clause is one comparison of a $filter: "prop op literal". str tells a
// quoted string literal (a doubled quote escapes a quote) from a bare one (a number or a
// DateTimeOffset such as 2026-01-02T03:04:05Z).
type clause struct {
	prop  string // lower-cased
	op    string // lower-cased: eq, ne, lt, le, gt, ge
	value string
	str   bool
}

// filterExpr is a parsed $filter: a disjunction ("or") of conjunctions
// ("and"), "and" binding tighter, as in OData.
type filterExpr [][]clause

var filterOps = map[string]bool{"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true}

// parseFilter parses comparisons joined by "and"/"or". ok is false for an
// empty filter and for anything else (functions, parentheses, not, a bad
// literal); the services ignore such filters.
func parseFilter(f string) (filterExpr, bool) {
	f = strings.TrimSpace(f)
	if f == "" {
		return nil, false
	}
	out := filterExpr{nil}
	for {
		sp := strings.Fields(f)
		if len(sp) < 3 || !filterOps[strings.ToLower(sp[1])] || strings.ContainsAny(sp[0], "()',") {
			return nil, false
		}
		c := clause{prop: strings.ToLower(sp[0]), op: strings.ToLower(sp[1])}
		rest := strings.TrimSpace(strings.TrimSpace(f[len(sp[0]):])[len(sp[1]):])
		if strings.HasPrefix(rest, "'") {
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
			c.value, c.str = val.String(), true
			rest = rest[i+1:]
		} else {
			lit := strings.Fields(rest)[0]
			if strings.ContainsAny(lit, "()',") {
				return nil, false
			}
			c.value, rest = lit, rest[len(lit):]
		}
		out[len(out)-1] = append(out[len(out)-1], c)
		f = strings.TrimSpace(rest)
		if f == "" {
			return out, true
		}
		sp = strings.Fields(f)
		switch strings.ToLower(sp[0]) {
		case "and":
		case "or":
			out = append(out, nil)
		default:
			return nil, false
		}
		if f = strings.TrimSpace(f[len(sp[0]):]); f == "" {
			return nil, false // dangling and/or
		}
	}
}

// eqClause is one "property eq 'literal'" of a $filter.
type eqClause struct {
	prop  string
	value string
}

// parseEqFilter parses the directory's $filter subset: clauses
// "prop eq 'literal'" joined by "and", on allowed (lower-cased) properties.
// ok is false for anything else; such filters are ignored as the service
// does.
func parseEqFilter(f string, allowed map[string]bool) ([]eqClause, bool) {
	expr, ok := parseFilter(f)
	if !ok || len(expr) != 1 {
		return nil, false
	}
	out := make([]eqClause, 0, len(expr[0]))
	for _, c := range expr[0] {
		if c.op != "eq" || !c.str || !allowed[c.prop] {
			return nil, false
		}
		out = append(out, eqClause{c.prop, c.value})
	}
	return out, true
}
