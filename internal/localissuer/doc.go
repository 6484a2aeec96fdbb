// Package localissuer is a strict local stand-in for OpenAI's sign-in server
// (https://auth.openai.com): the endpoints the Codex CLI and codex-auth
// call, RS256-signed JWTs with OpenAI's claims, rotation with reuse
// detection, OpenAI's device-code flow, and faults on demand. It runs
// in-process for tests (New, Start, Handler) and as
// `codex-auth dev issuer`. It is strict on purpose: a client bug must fail
// against it.
//
// Endpoints (as OpenAI's):
//
//	GET  /oauth/authorize                   browser login; 302 to redirect_uri?code=&state= (Config.Form: a page instead)
//	POST /oauth/authorize                   the page's approve/deny (request_id, action=approve|deny, email)
//	POST /oauth/token                       authorization_code (form), refresh_token (JSON or form),
//	                                        urn:ietf:params:oauth:grant-type:token-exchange (form; API key)
//	POST /oauth/revoke                      RFC 7009 (JSON or form: token, token_type_hint, client_id)
//	POST /api/accounts/deviceauth/usercode  JSON {client_id} -> {device_auth_id, user_code, interval}
//	POST /api/accounts/deviceauth/token     JSON {device_auth_id, user_code} -> 403 pending | 200 grant
//	GET  /codex/device, POST /codex/device  the page where a user code is approved (user_code; action=deny)
//	GET  /.well-known/openid-configuration  discovery; GET /.well-known/jwks.json the RS256 key
//
// Admin endpoints for tests in any language (never faulted):
//
//	GET  /debug/stats           Stats as JSON
//	GET  /debug/faults          the faults still armed
//	POST /debug/faults          JSON array of Fault; replaces the armed faults ([] clears)
//	POST /debug/user            {"email": "..."}: the user the next logins sign in as
//	POST /debug/device/approve  {"user_code": "..."}; /debug/device/deny likewise
//	POST /debug/revoke          {"refresh_token": "..."} revokes its family; {"all": true} every family
//	POST /debug/clock           {"advance": "90m"}: moves the issuer's clock forward
//
// Errors: /oauth/token answers RFC 6749 section 5.2 bodies
// ({"error": "invalid_grant", "error_description": ...}) except for a
// refresh token that is reused, revoked or expired, which gets HTTP 401
// with OpenAI's shape {"error": {"code": "refresh_token_reused" |
// "refresh_token_invalidated" | "refresh_token_expired", "message": ...}}
// (the shape the Codex CLI parses). The device poll answers 403
// {"error": "authorization_pending"} while pending and, as RFC 8628
// section 3.5, 400 {"error": "access_denied"} once denied and 400
// {"error": "expired_token"} after the device lifetime.
package localissuer
