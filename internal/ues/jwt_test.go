package ues

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNeedsRefresh(t *testing.T) {
	exp := time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{exp.Add(-30 * time.Minute), false},
		{exp.Add(-5*time.Minute - time.Second), false},
		{exp.Add(-5 * time.Minute), true},
		{exp.Add(time.Minute), true},
	} {
		if got := needsRefresh(tc.now, exp); got != tc.want {
			t.Errorf("needsRefresh(%s before exp) = %v, want %v", exp.Sub(tc.now), got, tc.want)
		}
	}
}

// verify parses an assertion with an independent JWT implementation and checks every
// documented rule.
func verify(t *testing.T, token, appID, tenantID, secret string, now time.Time) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		return []byte(secret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil || !parsed.Valid {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if claims["iss"] != "http://cylance.com" || claims["sub"] != appID || claims["tid"] != tenantID {
		t.Fatalf("claims = %v", claims)
	}
	iat, exp := claims["iat"].(float64), claims["exp"].(float64)
	if exp-iat > 1800 || exp <= iat {
		t.Fatalf("exp - iat = %v, want (0, 1800]", exp-iat)
	}
	if iat != float64(now.Unix()) {
		t.Fatalf("iat = %v, want seconds %d", iat, now.Unix())
	}
	if jti, _ := claims["jti"].(string); len(jti) != 36 {
		t.Fatalf("jti = %q, want a UUID", jti)
	}
}

func TestBuildAssertion(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	a, err := buildAssertion("app", "tenant", "s3cret", []string{"device:list", "mobilealert:list"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, a, "app", "tenant", "s3cret", now)
	b, _ := buildAssertion("app", "tenant", "s3cret", nil, now, 0)
	if a == b {
		t.Fatal("two assertions share a jti")
	}
	if strings.Contains(b, "scp") {
		t.Fatal("no scopes asked, yet scp present")
	}
}

func FuzzBuildAssertion(f *testing.F) {
	f.Add("app", "tenant", "secret", "device:list", int64(1_780_000_000), int64(600))
	f.Add("", "ü\"\\", "\x00", ",,", int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, appID, tenantID, secret, scope string, unix, spanSeconds int64) {
		if unix < 0 || unix > 1<<40 || secret == "" {
			return
		}
		now := time.Unix(unix, 0)
		tok, err := buildAssertion(appID, tenantID, secret, strings.Split(scope, ","), now, time.Duration(spanSeconds)*time.Second)
		if err != nil {
			return // json.Marshal refuses nothing here, but a refusal is not a bug
		}
		claims := jwt.MapClaims{}
		_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
		if err != nil {
			t.Fatalf("assertion does not verify: %v", err)
		}
		if claims["sub"] != appID || claims["tid"] != tenantID {
			t.Fatalf("claims changed: %v", claims)
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat > 1800 || exp <= iat {
			t.Fatalf("span %v outside (0, 1800]", exp-iat)
		}
	})
}

func FuzzTokenExpiry(f *testing.F) {
	f.Add("a.eyJleHAiOjE3ODAwMDAwMDB9.c")
	f.Add("x.y.z")
	f.Add("")
	fallback := time.Unix(42, 0)
	f.Fuzz(func(t *testing.T, token string) {
		got := tokenExpiry(token, fallback)
		if got.IsZero() {
			t.Fatal("tokenExpiry returned the zero time")
		}
	})
}
