// Package rpc is the sidecar's wire: Content-Length framing, JSON-RPC
// dispatch, cancellation, the LSP lifecycle, wire types, and the one place
// where errors become JSON-RPC codes. It knows the wire, not the issuer.
package rpc
