// Package loopback is the browser sign-in's side on this machine: the
// loopback redirect server (RFC 8252 sections 7.3 and 8.3) that receives
// the authorization response on 127.0.0.1 and [::1], and the system
// browser opener with the test for a machine where no browser can be
// seen. It knows HTTP and processes, not tokens: the session exchanges
// the code it hands over.
package loopback
