package oidc_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestIDTokenAlgorithms: ES256, ES384, PS256 and EdDSA tokens verify
// against keys of their type; a token whose alg does not fit the key is
// refused.
func TestIDTokenAlgorithms(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := fakeKey()
	b64 := base64.RawURLEncoding.EncodeToString
	ecJWK := func(kid, crv string, k *ecdsa.PrivateKey) map[string]any {
		pt, _ := k.PublicKey.Bytes() // 0x04 || X || Y
		n := (len(pt) - 1) / 2
		return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(pt[1 : 1+n]), "y": b64(pt[1+n:])}
	}
	rsaJWK := jwks(&rsaKey.PublicKey, "rsa")["keys"].([]map[string]any)[0]
	delete(rsaJWK, "alg") // usable for RS* and PS*
	set := map[string]any{"keys": []map[string]any{
		ecJWK("ec256", "P-256", ec256), ecJWK("ec384", "P-384", ec384),
		{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(edPub)},
		rsaJWK,
		{"kty": "oct", "kid": "hmac", "k": b64([]byte("shared"))}, // skipped
	}}
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oidc.WellKnown {
			json.NewEncoder(w).Encode(map[string]string{
				"issuer": issuer, "authorization_endpoint": issuer + "/a", "token_endpoint": issuer + "/t", "jwks_uri": issuer + "/k",
			})
			return
		}
		json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	issuer = srv.URL
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: issuer, ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "u", "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	token := func(alg, kid string, sign func(input []byte) []byte) string {
		h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid})
		input := b64(h) + "." + b64(claims)
		return input + "." + b64(sign([]byte(input)))
	}
	ecSign := func(k *ecdsa.PrivateKey, h crypto.Hash) func([]byte) []byte {
		return func(in []byte) []byte {
			d := h.New()
			d.Write(in)
			r, s, err := ecdsa.Sign(rand.Reader, k, d.Sum(nil))
			if err != nil {
				t.Fatal(err)
			}
			size := (k.Curve.Params().BitSize + 7) / 8
			out := make([]byte, 2*size)
			r.FillBytes(out[:size])
			s.FillBytes(out[size:])
			return out
		}
	}
	pss := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	for name, tc := range map[string]struct {
		raw string
		ok  bool
	}{
		"ES256":                   {token("ES256", "ec256", ecSign(ec256, crypto.SHA256)), true},
		"ES384":                   {token("ES384", "ec384", ecSign(ec384, crypto.SHA384)), true},
		"EdDSA":                   {token("EdDSA", "ed", func(in []byte) []byte { return ed25519.Sign(edPriv, in) }), true},
		"PS256":                   {token("PS256", "rsa", pss), true},
		"ES256 on the P-384 key":  {token("ES256", "ec384", ecSign(ec384, crypto.SHA256)), false},
		"RS256 on an EC key":      {token("RS256", "ec256", ecSign(ec256, crypto.SHA256)), false},
		"HS256 on the oct key":    {token("HS256", "hmac", func(in []byte) []byte { return []byte("x") }), false},
		"ES256 signature damaged": {token("ES256", "ec256", func(in []byte) []byte { s := ecSign(ec256, crypto.SHA256)(in); s[3] ^= 1; return s }), false},
	} {
		_, err := p.VerifyIDToken(t.Context(), tc.raw, "")
		if tc.ok && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
