package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"sync"
)

// jwk is one key of a JSON Web Key Set (RFC 7517 section 4; RFC 7518
// section 6 for the RSA and EC members, RFC 8037 for OKP).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// pubKey is a usable signing key from the set.
type pubKey struct {
	kid, alg string
	key      crypto.PublicKey
}

// keySet caches the provider's JWKS. It is fetched on first use and again
// when an ID token names a kid it does not hold (the provider rotated its
// keys; OpenID Connect Core 1.0 section 10.1.1), at most once per
// verification, concurrent refetches coalesced.
type keySet struct {
	p  *Provider
	mu sync.Mutex
	// gen counts fetches; a verification that saw gen n and misses asks
	// for a fetch only if nobody fetched since.
	gen  int
	keys []pubKey
	uri  string // the jwks_uri they came from
}

// current returns the keys for jwksURI, fetching them if there are none
// from that URI yet.
func (ks *keySet) current(ctx context.Context, jwksURI string) ([]pubKey, int, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.gen > 0 && ks.uri == jwksURI {
		return ks.keys, ks.gen, nil
	}
	return ks.fetchLocked(ctx, jwksURI)
}

// refetch fetches the set again unless someone did since gen.
func (ks *keySet) refetch(ctx context.Context, jwksURI string, gen int) ([]pubKey, int, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.gen != gen && ks.uri == jwksURI {
		return ks.keys, ks.gen, nil
	}
	return ks.fetchLocked(ctx, jwksURI)
}

func (ks *keySet) fetchLocked(ctx context.Context, jwksURI string) ([]pubKey, int, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := ks.p.getJSON(ctx, "fetching the provider's keys", jwksURI, &set); err != nil {
		return nil, ks.gen, err
	}
	var keys []pubKey
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if pk, err := k.public(); err == nil {
			keys = append(keys, pubKey{kid: k.Kid, alg: k.Alg, key: pk})
		}
		// A key this package cannot use (another kty, a bad encoding) is
		// skipped: the set may hold keys for other uses and algorithms.
	}
	ks.gen++
	ks.keys, ks.uri = keys, jwksURI
	return keys, ks.gen, nil
}

var errBadKey = errors.New("unusable key")

// public decodes the key (RSA of 2048 bits or more, RFC 7518 section
// 3.3; EC P-256/384/521; Ed25519).
func (k *jwk) public() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64int(k.N)
		e, err2 := b64int(k.E)
		if err1 != nil || err2 != nil || n.BitLen() < 2048 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, errBadKey
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errBadKey
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errBadKey
		}
		pt := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(curve, pt)
	case "OKP":
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errBadKey
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errBadKey
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errBadKey
	}
	return new(big.Int).SetBytes(b), nil
}
