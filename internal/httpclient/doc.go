// Package httpclient builds the one HTTP client every codex-auth call goes
// through: timeouts on every request, proxies from HTTPS_PROXY, HTTP_PROXY
// and NO_PROXY, no redirect ever followed, a CA bundle from
// CODEX_CA_CERTIFICATE (else SSL_CERT_FILE) added to the system roots, and
// a user agent naming codex-auth and the editor.
package httpclient
