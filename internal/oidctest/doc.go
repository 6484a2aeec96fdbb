// Package oidctest runs a real, independent OpenID provider in-process for
// tests: zitadel/oidc's OpenID Provider (pkg/op, v3.52.0) with the
// example's in-memory storage, login pages and device pages
// (example/server/exampleop and example/server/storage), on 127.0.0.1 and
// a free port. Browser plays the user on the provider's own pages: it
// logs in through the login form and approves or denies a device code.
// StartWithFaults puts a FaultProxy in front of the provider (its URL is
// the issuer) that fails chosen requests: slow, 5xx, reset, HTML pages,
// redirects, or the provider's own answer truncated, malformed, under the
// wrong content type or missing fields.
//
// Three things are added to the example, where its storage is meant to be
// changed: the test clients are allowed the device grant besides code and
// refresh_token (the example's constructors give one or the other); a
// device grant's refresh token names its client (the example leaves it
// empty, so it could never be redeemed); and the signing key can be
// rotated (the example has one static key).
package oidctest
