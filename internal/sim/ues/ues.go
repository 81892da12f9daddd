// Package ues is the twin's BlackBerry UES (Cylance) API: the documented
// authentication, paging and /devices/v2, plus, only when Service.Modelled is
// set, the modelled mobile API (mobile devices with risk, mobile alerts, the
// risk assessment policy and the Intune integration status) in the
// documented API's conventions. A real tenant has none of the modelled
// routes. See docs/ues-api.md for which is which.
package ues

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Prefix is where UES is mounted: the UES base URL is https://host:port/ues.
const Prefix = "/ues"

// Documented token rules.
const (
	Issuer        = "http://cylance.com"
	MaxTokenSpan  = 1800 // seconds between iat and exp of a client JWT
	TokenLifetime = 30 * time.Minute
)

// Service serves UES.
type Service struct {
	// Modelled serves the modelled mobile routes and grants their scopes.
	// Off (the default), those routes answer as any unknown route does (404
	// "Resource not found.", no authentication) and their scopes are unknown,
	// as on a real tenant. Set it before Register.
	Modelled bool

	w   *world.World
	key []byte
	now func() time.Time // wall time, as for Entra tokens
}

// New returns the UES service with a fresh access token key.
func New(w *world.World) *Service {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Service{w: w, key: key, now: time.Now}
}

// WriteError answers with UES's {"message": ...} error body.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, _ string, msg string) {
	mw.WriteJSON(w, status, map[string]string{"message": msg})
}

// Register mounts the UES routes under Prefix.
func (s *Service) Register(m *mw.Mux) {
	m.Handle("POST "+Prefix+"/auth/v2/token", s.token)
	s.handle(m, "GET "+Prefix+"/devices/v2", "device:list", s.listDevices)
	s.handle(m, "GET "+Prefix+"/devices/v2/{id}", "device:read", s.getDevice)
	if s.Modelled {
		s.registerModelled(m)
	}
	m.Handle(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, "", "Resource not found.")
	})
}

// registerModelled mounts the modelled mobile routes (docs/ues-api.md,
// "Modelled").
func (s *Service) registerModelled(m *mw.Mux) {
	s.handle(m, "GET "+Prefix+"/mobiledevices/v1", "mobiledevice:list", s.listMobileDevices)
	s.handle(m, "GET "+Prefix+"/mobiledevices/v1/{id}", "mobiledevice:read", s.getMobileDevice)
	s.handle(m, "GET "+Prefix+"/mobilealerts/v1", "mobilealert:list", s.listAlerts)
	s.handle(m, "GET "+Prefix+"/mobilealerts/v1/{id}", "mobilealert:list", s.getAlert)
	s.handle(m, "POST "+Prefix+"/mobilealerts/v1/{id}/ignore", "mobilealert:update", s.ignoreAlert)
	s.handle(m, "GET "+Prefix+"/mobilepolicies/v1/riskassessment", "mobilepolicy:read", s.getRiskAssessment)
	s.handle(m, "PUT "+Prefix+"/mobilepolicies/v1/riskassessment", "mobilepolicy:update", s.putRiskAssessment)
	s.handle(m, "DELETE "+Prefix+"/mobilepolicies/v1/riskassessment", "mobilepolicy:update", s.deleteRiskAssessment)
	s.handle(m, "GET "+Prefix+"/integrations/v1/intune", "integration:read", s.getIntegration)
}

// clientClaims are the claims of the client-signed auth JWT.
type clientClaims struct {
	Exp *int64 `json:"exp"`
	Iat *int64 `json:"iat"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Tid string `json:"tid"`
	Jti string `json:"jti"`
	Scp string `json:"scp,omitempty"`
	Src string `json:"src,omitempty"`
}

func (c *clientClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c *clientClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *clientClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *clientClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *clientClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *clientClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// accessClaims are the claims of an issued access token.
type accessClaims struct {
	jwt.RegisteredClaims
	Tid string   `json:"tid"`
	Scp []string `json:"scp"`
	Gen int      `json:"gen"`
}

type uesErr struct {
	status int
	msg    string
}

var errUnknownApp = errors.New("unknown application")

// token exchanges a client-signed JWT for an access token, checking it as
// the API guide documents: HS256 with the app secret, iss, sub = app id,
// tid, a fresh jti, exp/iat in epoch seconds with exp - iat <= 1800.
func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AuthToken string `json:"auth_token"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(b, &req); err != nil || req.AuthToken == "" {
		WriteError(w, r, http.StatusBadRequest, "", "Request body must be {\"auth_token\": \"<JWT>\"}.")
		return
	}
	var c clientClaims
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}))
	if _, _, err := parser.ParseUnverified(req.AuthToken, &c); err != nil {
		WriteError(w, r, http.StatusBadRequest, "", "auth_token is not a well-formed JWT.")
		return
	}
	if e := checkClientClaims(&c, s.now()); e != nil {
		WriteError(w, r, e.status, "", e.msg)
		return
	}
	var (
		out string
		e   *uesErr
	)
	s.w.Run(func(st *world.State) {
		t := st.TenantByUES(c.Tid)
		_, err := parser.ParseWithClaims(req.AuthToken, &clientClaims{}, func(*jwt.Token) (any, error) {
			if t == nil || t.UES.Apps[c.Sub] == nil {
				return nil, errUnknownApp
			}
			return []byte(t.UES.Apps[c.Sub].Secret), nil
		})
		switch {
		case errors.Is(err, errUnknownApp):
			e = &uesErr{http.StatusUnauthorized, "Unknown tenant or application."}
			return
		case err != nil:
			e = &uesErr{http.StatusUnauthorized, "auth_token signature is invalid."}
			return
		}
		now := s.now()
		for jti, exp := range t.UES.UsedJTIs { // forget jtis whose tokens expired
			if now.After(exp) {
				delete(t.UES.UsedJTIs, jti)
			}
		}
		if _, used := t.UES.UsedJTIs[c.Jti]; used {
			e = &uesErr{http.StatusUnauthorized, "auth_token jti has already been used."}
			return
		}
		t.UES.UsedJTIs[c.Jti] = time.Unix(*c.Exp, 0)
		out, e = s.issue(t, t.UES.Apps[c.Sub], c.Scp)
	})
	if e != nil {
		WriteError(w, r, e.status, "", e.msg)
		return
	}
	mw.WriteJSON(w, http.StatusOK, map[string]string{"access_token": out})
}

// checkClientClaims applies the rules that need no key.
func checkClientClaims(c *clientClaims, now time.Time) *uesErr {
	switch {
	case c.Exp == nil || c.Iat == nil:
		return &uesErr{http.StatusBadRequest, "auth_token must carry exp and iat (epoch seconds)."}
	case *c.Exp-*c.Iat > MaxTokenSpan:
		return &uesErr{http.StatusBadRequest, "auth_token lifetime (exp - iat) must not exceed 1800 seconds."}
	case *c.Exp <= *c.Iat:
		return &uesErr{http.StatusBadRequest, "auth_token exp must be after iat."}
	case c.Jti == "":
		return &uesErr{http.StatusBadRequest, "auth_token must carry a jti."}
	case c.Sub == "" || c.Tid == "":
		return &uesErr{http.StatusBadRequest, "auth_token must carry sub (application id) and tid (tenant id)."}
	case c.Iss != Issuer:
		return &uesErr{http.StatusUnauthorized, "auth_token iss must be " + Issuer + "."}
	case now.Unix() >= *c.Exp:
		return &uesErr{http.StatusUnauthorized, "auth_token has expired."}
	case *c.Iat > now.Add(5*time.Minute).Unix():
		return &uesErr{http.StatusUnauthorized, "auth_token iat is in the future."}
	}
	return nil
}

func (s *Service) issue(t *world.Tenant, app *world.UESApp, requested string) (string, *uesErr) {
	granted := slices.DeleteFunc(slices.Clone(app.Scopes), func(sc string) bool {
		return !s.Modelled && slices.Contains(world.ModelledUESScopes, sc) // unknown to a real tenant
	})
	scopes := granted
	if requested != "" {
		scopes = nil
		for _, sc := range strings.Split(requested, ",") {
			if sc = strings.TrimSpace(sc); slices.Contains(granted, sc) && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		if scopes == nil {
			scopes = []string{}
		}
	}
	now := s.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: app.ID, ID: world.NewID(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(TokenLifetime)),
		},
		Tid: t.UES.ID, Scp: scopes, Gen: t.UES.TokenGen,
	})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", &uesErr{http.StatusInternalServerError, err.Error()}
	}
	return signed, nil
}

// call is one authenticated UES request.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	tid  string
	scps []string
}

// handle wraps h with bearer validation (401) and the scope check (403).
func (s *Service) handle(m *mw.Mux, pattern, scope string, h func(c *call)) {
	m.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			WriteError(w, r, http.StatusUnauthorized, "", "Authorization header with a bearer token is required.")
			return
		}
		var claims accessClaims
		_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
		if err != nil {
			WriteError(w, r, http.StatusUnauthorized, "", "Invalid or expired access token.")
			return
		}
		revoked := true
		s.w.Run(func(st *world.State) {
			t := st.TenantByUES(claims.Tid)
			revoked = t == nil || t.UES.Apps[claims.Subject] == nil || t.UES.TokenGen != claims.Gen
		})
		if revoked {
			WriteError(w, r, http.StatusUnauthorized, "", "Access token has been revoked.")
			return
		}
		if !slices.Contains(claims.Scp, scope) {
			WriteError(w, r, http.StatusForbidden, "", "The access token does not grant the scope "+scope+".")
			return
		}
		h(&call{w: w, r: r, tid: claims.Tid, scps: claims.Scp})
	})
}

func (c *call) fail(status int, msg string) { WriteError(c.w, c.r, status, "", msg) }

// do runs fn on the caller's tenant under the lock, then answers.
func (s *Service) do(c *call, fn func(st *world.State, t *world.Tenant) (int, any, *uesErr)) {
	var (
		status int
		body   any
		e      *uesErr
	)
	s.w.Run(func(st *world.State) { status, body, e = fn(st, st.TenantByUES(c.tid)) })
	switch {
	case e != nil:
		c.fail(e.status, e.msg)
	case status == http.StatusNoContent:
		c.w.WriteHeader(status)
	default:
		mw.WriteJSON(c.w, status, body)
	}
}

// pageReq is the documented paging query: page (1-based) and page_size.
type pageReq struct{ page, size int }

func parsePage(r *http.Request, maxSize int) (pageReq, *uesErr) {
	p := pageReq{page: 1, size: 10}
	q := r.URL.Query()
	for name, dst := range map[string]*int{"page": &p.page, "page_size": &p.size} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return p, &uesErr{http.StatusBadRequest, name + " must be a positive integer."}
			}
			*dst = n
		}
	}
	if p.size > maxSize {
		return p, &uesErr{http.StatusBadRequest, "page_size must not exceed " + strconv.Itoa(maxSize) + "."}
	}
	return p, nil
}

// envelope is the documented paging envelope.
type envelope struct {
	PageNumber int   `json:"page_number"`
	PageSize   int   `json:"page_size"`
	TotalPages int   `json:"total_pages"`
	TotalItems int   `json:"total_number_of_items"`
	PageItems  []any `json:"page_items"`
}

// pageOf pages n items, rendering only those on the requested page.
func pageOf(p pageReq, n int, render func(i int) any) envelope {
	env := envelope{PageNumber: p.page, PageSize: p.size, TotalItems: n, TotalPages: (n + p.size - 1) / p.size, PageItems: []any{}}
	for i := (p.page - 1) * p.size; i < n && i < p.page*p.size; i++ {
		env.PageItems = append(env.PageItems, render(i))
	}
	return env
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
