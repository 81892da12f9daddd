package graph

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// page is a list request's $top and $skiptoken: how many items to answer and
// the position in the list to start from.
type page struct {
	top, skip int
}

// parsePage reads $top (capped at max, max when absent) and $skiptoken
// ("pos-N", the position the previous page stopped at).
func parsePage(r *http.Request, max int) (page, *apiErr) {
	q := r.URL.Query()
	p := page{top: max}
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, badRequest("Invalid value '" + v + "' for $top: a positive integer is expected.")
		}
		p.top = min(n, max)
	}
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "pos-"))
		if err != nil || n < 0 {
			return p, badRequest("Invalid $skiptoken.")
		}
		p.skip = n
	}
	return p, nil
}

// collect renders the items of all from the page's position on, skipping
// those render refuses (false), until the page is full. next is the position
// the following page starts at, -1 when nothing is left.
func collect[T any](all []T, p page, render func(T) (any, bool)) (items []any, next int) {
	items = make([]any, 0, min(p.top, len(all)))
	for i := p.skip; i < len(all); i++ {
		v, ok := render(all[i])
		if !ok {
			continue
		}
		if len(items) == p.top {
			return items, i
		}
		items = append(items, v)
	}
	return items, -1
}

// nextLink is the absolute link to the page starting at next: the request's
// path and query with a $skiptoken, as Graph writes it.
func nextLink(r *http.Request, next int) string {
	nq := url.Values{}
	for k, v := range r.URL.Query() {
		nq[k] = v
	}
	nq.Set("$skiptoken", "pos-"+strconv.Itoa(next))
	// Graph writes system query options with a literal '$'.
	return baseURL(r) + strings.TrimPrefix(r.URL.Path, versionPrefix(r)) + "?" + strings.ReplaceAll(nq.Encode(), "%24", "$")
}

// collection is a list answer: @odata.context, the page and, when more
// follows, @odata.nextLink.
func collection(r *http.Request, frag string, items []any, next int) map[string]any {
	out := map[string]any{"@odata.context": contextURL(r, frag), "value": items}
	if next >= 0 {
		out["@odata.nextLink"] = nextLink(r, next)
	}
	return out
}
