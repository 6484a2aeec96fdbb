// Package httpfault is how the project's test servers (the local issuer's
// faults, the OpenID provider's fault proxy) spoil an HTTP answer, so that
// both fail the same way: a dropped connection, a captive portal's HTML
// page, a body that is not JSON, a token answer missing fields, a body cut
// short, an answer held back.
package httpfault
