package oidctest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// MemoryOP is an OpenID provider in memory, behind an http.RoundTripper,
// so that device polling runs in testing/synctest's virtual time (which
// cannot pass over real sockets). It serves discovery, its JWKS (kid k1),
// a device authorization (user code WDJB-MJHT, interval 5 s), and a token
// endpoint that answers each poll from a script: "pending", "slow_down",
// "denied", "expired", "503", "neterr" (a transport error), "ok" (tokens
// and an ID token for subject u1, audience "app"); "pending" once the
// script is used up.
type MemoryOP struct {
	issuer    string
	key       *rsa.PrivateKey
	expiresIn int

	mu     sync.Mutex
	script []string
	polls  []time.Time
}

// NewMemoryOP is a provider at issuer signing with key, whose device
// codes expire in expiresIn seconds.
func NewMemoryOP(issuer string, key *rsa.PrivateKey, expiresIn int, script ...string) *MemoryOP {
	return &MemoryOP{issuer: issuer, key: key, expiresIn: expiresIn, script: script}
}

// Issuer is the provider's issuer URL.
func (f *MemoryOP) Issuer() string { return f.issuer }

// Polls are the times the token endpoint was asked.
func (f *MemoryOP) Polls() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.polls...)
}

// RoundTrip answers one request.
func (f *MemoryOP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	status, body := 200, any(nil)
	switch req.URL.Path {
	case "/.well-known/openid-configuration":
		body = map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize",
			"token_endpoint": f.issuer + "/token", "jwks_uri": f.issuer + "/keys",
			"device_authorization_endpoint": f.issuer + "/device",
		}
	case "/keys":
		pub := f.key.PublicKey
		body = map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString([]byte{byte(pub.E >> 16), byte(pub.E >> 8), byte(pub.E)}),
		}}}
	case "/device":
		body = map[string]any{
			"device_code": "dev-code", "user_code": "WDJB-MJHT", "verification_uri": f.issuer + "/activate",
			"expires_in": f.expiresIn, "interval": 5,
		}
	case "/token":
		f.mu.Lock()
		f.polls = append(f.polls, time.Now())
		step := "pending"
		if len(f.script) > 0 {
			step, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		status = 400
		switch step {
		case "pending":
			body = map[string]string{"error": "authorization_pending"}
		case "slow_down":
			body = map[string]string{"error": "slow_down"}
		case "denied":
			body = map[string]string{"error": "access_denied"}
		case "expired":
			body = map[string]string{"error": "expired_token"}
		case "503":
			status, body = 503, map[string]string{"error": "temporarily_unavailable"}
		case "neterr":
			return nil, errors.New("connection reset by peer")
		case "ok":
			status = 200
			now := time.Now()
			body = map[string]any{
				"access_token": "mem-access", "token_type": "Bearer", "refresh_token": "mem-refresh", "expires_in": 3600,
				"id_token": f.sign(map[string]any{
					"iss": f.issuer, "sub": "u1", "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
					"email": "u1@example.com", "name": "User One",
				}),
			}
		}
	default:
		status, body = 404, map[string]string{"error": "not_found"}
	}
	b, _ := json.Marshal(body)
	return &http.Response{
		StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
	}, nil
}

// sign makes an RS256 JWS with kid k1.
func (f *MemoryOP) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
