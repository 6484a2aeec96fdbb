package oidc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of the algorithms below
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Claims are the verified claims of an ID token (OpenID Connect Core 1.0
// sections 2 and 5.1) this package's users need.
type Claims struct {
	Issuer          string
	Subject         string
	Audience        []string
	AuthorizedParty string // azp
	Expiry          time.Time
	IssuedAt        time.Time
	AuthTime        time.Time // zero when absent
	Nonce           string
	// Profile claims, when the scopes asked for them (section 5.4).
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
}

// algorithms maps the JWS algorithms accepted for ID tokens (RFC 7518
// section 3.1, RFC 8037 section 3.1) to their hash. "none" and the HMAC
// algorithms are refused: a public client holds no shared secret to check
// them with.
var algorithms = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"EdDSA": 0,
}

// maxIDToken bounds the raw token accepted.
const maxIDToken = 64 << 10

// VerifyIDToken checks an ID token as OpenID Connect Core 1.0 section
// 3.1.3.7 asks and returns its claims:
//   - a compact JWS (RFC 7515) signed with one of the algorithms above by
//     a key of the provider's JWKS (jwks_uri); a kid the cached set does
//     not hold fetches the set again once (rotated keys);
//   - iss is the configured issuer, exactly;
//   - aud contains ClientID; with several audiences azp must be
//     ClientID, and azp, when present, must be it anyway;
//   - exp is in the future, iat not in the future, both within Leeway;
//   - nonce equals nonce when nonce is not "" (a login), section 3.1.3.7
//     point 11.
//
// Errors match ErrInvalidIDToken (the *TokenError says which check
// failed), except a failure to fetch the keys (ErrUnavailable, ...).
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (*Claims, error) {
	if len(raw) > maxIDToken {
		return nil, tokenErr("it is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, tokenErr("it is not a signed JWT (JWE-encrypted ID tokens are not supported)")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := b64json(parts[0], &hdr); err != nil {
		return nil, tokenErr("its header is not valid")
	}
	hash, ok := algorithms[hdr.Alg]
	if !ok {
		return nil, tokenErr("it is signed with %q, which is not accepted", clip(hdr.Alg, 16))
	}
	if hdr.Crit != nil {
		// RFC 7515 section 4.1.11: extensions we do not know must fail.
		return nil, tokenErr("it names critical header extensions")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, tokenErr("its signature is not valid base64url")
	}
	if err := p.verifySignature(ctx, hdr.Kid, hdr.Alg, hash, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, err
	}
	var c rawClaims
	if err := b64json(parts[1], &c); err != nil {
		return nil, tokenErr("its claims are not valid JSON")
	}
	return p.checkClaims(&c, nonce)
}

// rawClaims is the payload as sent.
type rawClaims struct {
	Iss               string          `json:"iss"`
	Sub               string          `json:"sub"`
	Aud               json.RawMessage `json:"aud"`
	Azp               string          `json:"azp"`
	Exp               *json.Number    `json:"exp"`
	Iat               *json.Number    `json:"iat"`
	AuthTime          *json.Number    `json:"auth_time"`
	Nonce             *string         `json:"nonce"`
	Email             string          `json:"email"`
	EmailVerified     json.RawMessage `json:"email_verified"`
	Name              string          `json:"name"`
	PreferredUsername string          `json:"preferred_username"`
}

func (p *Provider) checkClaims(c *rawClaims, nonce string) (*Claims, error) {
	now := p.now()
	out := &Claims{
		Issuer: c.Iss, Subject: c.Sub, AuthorizedParty: c.Azp,
		Email: c.Email, Name: c.Name, PreferredUsername: c.PreferredUsername,
	}
	if c.Nonce != nil {
		out.Nonce = *c.Nonce
	}
	// email_verified is a boolean, sent as a string by some providers.
	var ev any
	if json.Unmarshal(c.EmailVerified, &ev) == nil {
		out.EmailVerified = ev == true || ev == "true"
	}
	if c.Iss != p.cfg.Issuer {
		return nil, tokenErr("it was issued by %q, not by %q", clip(c.Iss, 200), p.cfg.Issuer)
	}
	if c.Sub == "" {
		return nil, tokenErr("it has no subject (sub)")
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		out.Audience = []string{one}
	} else if json.Unmarshal(c.Aud, &out.Audience) != nil {
		return nil, tokenErr("its audience (aud) is missing or malformed")
	}
	if !slices.Contains(out.Audience, p.cfg.ClientID) {
		return nil, tokenErr("it is for another client (aud does not contain %q)", p.cfg.ClientID)
	}
	if len(out.Audience) > 1 && c.Azp == "" {
		return nil, tokenErr("it has several audiences and no authorized party (azp)")
	}
	if c.Azp != "" && c.Azp != p.cfg.ClientID {
		return nil, tokenErr("it was issued to another client (azp is not %q)", p.cfg.ClientID)
	}
	var ok bool
	if out.Expiry, ok = numericDate(c.Exp); !ok {
		return nil, tokenErr("it has no valid expiry (exp)")
	}
	if !now.Before(out.Expiry.Add(Leeway)) {
		return nil, tokenErr("it expired at %s", out.Expiry.UTC().Format(time.RFC3339))
	}
	if out.IssuedAt, ok = numericDate(c.Iat); !ok {
		return nil, tokenErr("it has no valid issue time (iat)")
	}
	if out.IssuedAt.After(now.Add(Leeway)) {
		return nil, tokenErr("it was issued in the future (iat %s): check this computer's clock", out.IssuedAt.UTC().Format(time.RFC3339))
	}
	if c.AuthTime != nil {
		out.AuthTime, _ = numericDate(c.AuthTime)
	}
	if nonce != "" && out.Nonce != nonce {
		return nil, tokenErr("its nonce is not the one this login sent (a replayed or mixed-up login)")
	}
	return out, nil
}

// numericDate reads a NumericDate (RFC 7519 section 2).
func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > math.MaxInt32*4 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// b64json decodes a base64url JSON object.
func b64json(s string, out any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(out)
}

// verifySignature finds the key for kid and alg in the provider's JWKS
// and checks sig over input. When no key matches kid, or (with no kid) no
// key verifies, the set is fetched again once.
func (p *Provider) verifySignature(ctx context.Context, kid, alg string, hash crypto.Hash, input, sig []byte) error {
	jwksURI := p.metadata().JWKSURI
	keys, gen, err := p.keys.current(ctx, jwksURI)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		found := false
		for _, k := range keys {
			if (kid != "" && k.kid != kid) || (k.alg != "" && k.alg != alg) || !fits(k.key, alg) {
				continue
			}
			found = true
			if verify(k.key, alg, hash, input, sig) {
				return nil
			}
		}
		if found && kid != "" {
			// The key it names is there, and the signature does not
			// verify: a forged or damaged token, not a rotation.
			return tokenErr("its signature does not verify")
		}
		if attempt > 0 {
			if found {
				return tokenErr("its signature does not verify")
			}
			return tokenErr("it is signed with a key the provider does not publish (kid %q)", clip(kid, 64))
		}
		if keys, gen, err = p.keys.refetch(ctx, jwksURI, gen); err != nil {
			return err
		}
	}
}

// fits reports whether key is of the type alg needs.
func fits(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg[0] == 'R' || alg[0] == 'P'
	case *ecdsa.PublicKey:
		want := map[string]int{"ES256": 256, "ES384": 384, "ES512": 521}[alg]
		return want != 0 && k.Curve.Params().BitSize == want
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// verify checks a JWS signature (RFC 7518 sections 3.3 to 3.5, RFC 8037
// section 3.1).
func verify(key crypto.PublicKey, alg string, hash crypto.Hash, input, sig []byte) bool {
	if k, ok := key.(ed25519.PublicKey); ok {
		return ed25519.Verify(k, input, sig)
	}
	h := hash.New()
	h.Write(input)
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(k, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		// RFC 7518 section 3.4: R and S, each padded to the curve size.
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}
