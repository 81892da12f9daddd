package ues

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Documented constants of UES authentication.
const (
	issuer = "http://cylance.com"
	// maxAssertionSpan is the longest exp - iat the token endpoint accepts.
	maxAssertionSpan = 30 * time.Minute
	// tokenLifetime is how long an issued access token lasts.
	tokenLifetime = 30 * time.Minute
)

// assertionClaims are the documented claims of the client-signed auth JWT.
type assertionClaims struct {
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Tid string `json:"tid"`
	Jti string `json:"jti"`
	Scp string `json:"scp,omitempty"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// buildAssertion signs the client JWT UES exchanges for an access token: HS256 keyed by
// the application secret's UTF-8 bytes, times in epoch seconds, a fresh jti, and a span
// of span (capped at the documented 1800 s).
func buildAssertion(appID, tenantID, secret string, scopes []string, now time.Time, span time.Duration) (string, error) {
	if span <= 0 || span > maxAssertionSpan {
		span = maxAssertionSpan
	}
	claims := assertionClaims{
		Iat: now.Unix(),
		Exp: now.Add(span).Unix(),
		Iss: issuer,
		Sub: appID,
		Tid: tenantID,
		Jti: uuid.NewString(),
		Scp: strings.Join(scopes, ","),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// tokenExpiry reads the exp claim of an access token without verifying it (the client
// only needs to know when to refresh); fallback when it cannot be read.
func tokenExpiry(token string, fallback time.Time) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fallback
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fallback
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fallback
	}
	exp, err := c.Exp.Int64()
	if err != nil || exp <= 0 {
		return fallback
	}
	return time.Unix(exp, 0)
}
