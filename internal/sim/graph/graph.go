// Package graph is the twin's Microsoft Graph v1.0: the Intune paths the
// operator uses (MTD connectors, compliance policies, managed devices) and
// Conditional Access policies, validated, permission-checked and throttled
// as the service does; the app management paths (mobile apps, app
// configurations, detected apps); and of Graph beta the compliance policy and
// mobile app routes, for the types only beta serves.
package graph

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/entra"
	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Prefix is where Graph is mounted.
const Prefix = "/v1.0"

// BetaPrefix is where Graph beta is mounted; only its compliance policy and
// mobile app routes are served.
const BetaPrefix = "/beta"

// Service serves Graph.
type Service struct {
	w        *world.World
	tokens   *entra.Service
	Throttle *Throttler
}

// New returns the Graph service over w, verifying tokens from tokens.
func New(w *world.World, tokens *entra.Service, limits Limits) *Service {
	return &Service{w: w, tokens: tokens, Throttle: NewThrottler(limits)}
}

// call is one authenticated Graph request.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	claims *entra.Claims
}

// route describes the service rules of one Graph route.
type route struct {
	roles []string // any of these roles grants access
	cat   string   // throttling category
	write bool
}

// WriteError answers in Graph's error shape.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	reqID := w.Header().Get("request-id")
	if reqID == "" {
		reqID = world.NewID()
		w.Header().Set("request-id", reqID)
	}
	mw.WriteJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{
			"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        reqID,
			"client-request-id": r.Header.Get("client-request-id"),
		},
	}})
}

func (c *call) fail(status int, code, msg string) { WriteError(c.w, c.r, status, code, msg) }

// failWith answers an error decided before taking the lock.
func (c *call) failWith(e *apiErr) { c.fail(e.status, e.code, e.msg) }

// Register mounts every Graph route.
func (s *Service) Register(m *mw.Mux) {
	s.registerConnectors(m)
	s.registerPolicies(m)
	s.registerDevices(m)
	s.registerCA(m)
	s.registerDirectory(m)
	s.registerMobileApps(m)
	s.registerAppConfigurations(m)
	s.registerDetectedApps(m)
	for _, p := range []string{Prefix, BetaPrefix} {
		m.Handle(p+"/", func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", "No method match route template")
		})
	}
}

// handle wraps h with Graph's request pipeline: request ids, bearer token,
// permission from the token's roles, then throttling.
func (s *Service) handle(m *mw.Mux, pattern string, rt route, h func(c *call)) {
	m.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", world.NewID())
		if id := r.Header.Get("client-request-id"); id != "" {
			w.Header().Set("client-request-id", id)
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(raw) == "" {
			WriteError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
			return
		}
		var (
			claims *entra.Claims
			err    error
		)
		s.w.Run(func(st *world.State) { claims, err = s.tokens.Verify(st, strings.TrimSpace(raw)) })
		if err != nil {
			WriteError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
			return
		}
		if !slices.ContainsFunc(rt.roles, func(role string) bool { return slices.Contains(claims.Roles, role) }) {
			WriteError(w, r, http.StatusForbidden, "Forbidden",
				"Application is not authorized to perform this operation. Application must have one of the following scopes: "+
					strings.Join(rt.roles, ", ")+" - Operation ID (for customer support): "+w.Header().Get("request-id"))
			return
		}
		if ok, after := s.Throttle.Allow(claims.TenantID, claims.AppID, rt.cat, rt.write); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(after))
			WriteError(w, r, http.StatusTooManyRequests, "TooManyRequests",
				"Too many requests. Please retry after "+strconv.Itoa(after)+" seconds.")
			return
		}
		h(&call{w: w, r: r, claims: claims})
	})
}

// tenant runs fn on the caller's tenant with the world locked.
func (s *Service) tenant(c *call, fn func(st *world.State, t *world.Tenant)) {
	s.w.Run(func(st *world.State) { fn(st, st.Tenant(c.claims.TenantID)) })
}

// readBody decodes a JSON object body, answering 400 itself on failure.
func (c *call) readBody(optional bool) (map[string]any, bool) {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 8<<20))
	if err != nil {
		c.fail(http.StatusBadRequest, "BadRequest", "Unable to read the request body.")
		return nil, false
	}
	if optional && len(strings.TrimSpace(string(b))) == 0 {
		return map[string]any{}, true
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil || body == nil {
		c.fail(http.StatusBadRequest, "BadRequest", "Invalid JSON request body: a JSON object was expected.")
		return nil, false
	}
	return body, true
}

// baseURL is the absolute Graph root, of the version the client addressed.
func baseURL(r *http.Request) string { return "https://" + r.Host + versionPrefix(r) }

// versionPrefix is the mount point (Prefix or BetaPrefix) of the request's Graph version.
func versionPrefix(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, BetaPrefix+"/") {
		return BetaPrefix
	}
	return Prefix
}

func contextURL(r *http.Request, frag string) string { return baseURL(r) + "/$metadata#" + frag }

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func readRoles(rw string, ro string) []string { return []string{ro, rw} }

// apiErr is a Graph error decided while the world was locked.
type apiErr struct {
	status int
	code   string
	msg    string
}

func badRequest(msg string) *apiErr { return &apiErr{http.StatusBadRequest, "BadRequest", msg} }

func missing(what, id string) *apiErr {
	return &apiErr{http.StatusNotFound, "ResourceNotFound", "Resource '" + id + "' of type '" + what + "' was not found."}
}

// do runs fn on the caller's tenant under the lock and answers with its
// result after releasing it (status 204, or a nil body, writes no body: Graph
// answers some actions, such as a mobile app's assign, 200 without one).
func (s *Service) do(c *call, fn func(st *world.State, t *world.Tenant) (int, any, *apiErr)) {
	var (
		status int
		body   any
		e      *apiErr
	)
	s.tenant(c, func(st *world.State, t *world.Tenant) { status, body, e = fn(st, t) })
	switch {
	case e != nil:
		c.fail(e.status, e.code, e.msg)
	case status == http.StatusNoContent || body == nil:
		c.w.WriteHeader(status)
	default:
		mw.WriteJSON(c.w, status, body)
	}
}
