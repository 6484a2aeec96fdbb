package localissuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds every request body the issuer reads.
const maxBody = 64 << 10

// Body encodings a endpoint may accept.
const (
	acceptForm = 1 << iota
	acceptJSON
)

// errParams is wrapped by every parameter-reading error.
var errParams = errors.New("invalid request")

// readParams reads a POST body as application/x-www-form-urlencoded or
// application/json (as accept allows). Query parameters are ignored; a
// parameter given twice is an error (RFC 6749 section 3.2); JSON values
// must be strings (null counts as absent).
func readParams(r *http.Request, accept int) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", errParams, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%w: body too large", errParams)
	}
	switch {
	case mt == "application/x-www-form-urlencoded" && accept&acceptForm != 0:
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: malformed form body", errParams)
		}
		for k, vs := range v {
			if len(vs) > 1 {
				return nil, fmt.Errorf("%w: parameter %s given more than once", errParams, k)
			}
		}
		return v, nil
	case mt == "application/json" && accept&acceptJSON != 0:
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("%w: body is not a JSON object", errParams)
		}
		v := url.Values{}
		for k, x := range m {
			switch x := x.(type) {
			case nil:
			case string:
				v.Set(k, x)
			default:
				return nil, fmt.Errorf("%w: %s must be a string", errParams, k)
			}
		}
		return v, nil
	}
	var want []string
	if accept&acceptForm != 0 {
		want = append(want, "application/x-www-form-urlencoded")
	}
	if accept&acceptJSON != 0 {
		want = append(want, "application/json")
	}
	return nil, fmt.Errorf("%w: Content-Type %q, want %s", errParams, mt, strings.Join(want, " or "))
}

// writeJSON writes v as JSON with status; never cached (RFC 6749 5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// openaiError writes OpenAI's error shape {"error": {"code", "message"}},
// the one the Codex CLI reads refresh failures from.
func openaiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{
		"code": code, "message": msg, "type": "invalid_request_error"}})
}

// allowMethods answers 405 unless r's method is one of ms.
func allowMethods(w http.ResponseWriter, r *http.Request, ms ...string) bool {
	for _, m := range ms {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(ms, ", "))
	oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "method "+r.Method+" not allowed")
	return false
}

// isJSONType reports whether a Content-Type is application/json.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
