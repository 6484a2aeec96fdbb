package localissuer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/internal/httpfault"
)

// FaultKind names what a Fault does.
type FaultKind string

// The fault kinds.
const (
	// FaultLatency delays the answer by Latency (the request still succeeds).
	FaultLatency FaultKind = "latency"
	// FaultStatus answers Status (default 503) with a JSON error body.
	FaultStatus FaultKind = "status"
	// FaultDrop closes the connection without an answer.
	FaultDrop FaultKind = "drop"
	// FaultHang accepts the request and never answers until the client
	// gives up or the server closes.
	FaultHang FaultKind = "hang"
	// FaultTruncate sends the real answer's headers (with its full
	// Content-Length) and half its body, then drops the connection.
	FaultTruncate FaultKind = "truncate"
	// FaultMalformed replaces the body with bytes that are not JSON,
	// keeping the status and content type.
	FaultMalformed FaultKind = "malformed"
	// FaultMissingFields removes Fields (default refresh_token) from a
	// successful JSON answer.
	FaultMissingFields FaultKind = "missing_fields"
	// FaultDeviceDisabled answers 404 on the device usercode endpoint.
	FaultDeviceDisabled FaultKind = "device_disabled"
	// FaultHTML answers Status (default 200) with an HTML page, as a
	// proxy or a captive portal in front of the issuer does, without the
	// request reaching the issuer.
	FaultHTML FaultKind = "html"
	// FaultSlowAnswer does the work (a refresh token rotates), then holds
	// the answer for Latency: a client that dies meanwhile never learns
	// the new tokens.
	FaultSlowAnswer FaultKind = "slow_answer"
	// FaultRedirect answers 307 to another path of the issuer (a client
	// that followed it would send the request's secrets again), without
	// the request reaching the issuer.
	FaultRedirect FaultKind = "redirect"
)

// Fault is one fault armed on the issuer. JSON form (POST /debug/faults):
//
//	{"kind": "status", "path": "/oauth/token", "grant": "refresh_token",
//	 "status": 503, "count": 2}
//	{"kind": "latency", "latency": "250ms"}
//	{"kind": "missing_fields", "fields": ["refresh_token", "id_token"]}
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Path limits the fault to one endpoint path (e.g. /oauth/token);
	// empty means every endpoint but /debug/.
	Path string `json:"path,omitempty"`
	// Grant limits a fault on /oauth/token to one grant_type
	// (authorization_code, refresh_token, or the token-exchange URN).
	Grant string `json:"grant,omitempty"`
	// Latency is FaultLatency's delay.
	Latency Duration `json:"latency,omitempty"`
	// Status is FaultStatus's HTTP status (default 503).
	Status int `json:"status,omitempty"`
	// Fields are the fields FaultMissingFields removes.
	Fields []string `json:"fields,omitempty"`
	// Count > 0 arms the fault for the next Count matching requests; 0
	// keeps it until replaced (sticky).
	Count int `json:"count,omitempty"`
}

// Faults is a set of armed faults; every matching fault applies.
type Faults []Fault

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms"); a number is read as nanoseconds.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string like \"250ms\" or nanoseconds")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (fs Faults) validate() error {
	for i, f := range fs {
		switch f.Kind {
		case FaultLatency, FaultSlowAnswer:
			if f.Latency <= 0 {
				return fmt.Errorf("%w: fault %d: %s needs a positive latency", ErrConfig, i, f.Kind)
			}
		case FaultStatus:
			if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
				return fmt.Errorf("%w: fault %d: status %d", ErrConfig, i, f.Status)
			}
		case FaultHTML:
			if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
				return fmt.Errorf("%w: fault %d: status %d", ErrConfig, i, f.Status)
			}
		case FaultDrop, FaultHang, FaultTruncate, FaultMalformed, FaultMissingFields, FaultDeviceDisabled, FaultRedirect:
		default:
			return fmt.Errorf("%w: fault %d: unknown kind %q", ErrConfig, i, f.Kind)
		}
		if f.Count < 0 {
			return fmt.Errorf("%w: fault %d: negative count", ErrConfig, i)
		}
		if f.Path != "" && !strings.HasPrefix(f.Path, "/") {
			return fmt.Errorf("%w: fault %d: path must start with /", ErrConfig, i)
		}
	}
	return nil
}

// ParseFault reads the command-line form of a fault: comma-separated
// key=value pairs with the keys of the JSON form, e.g.
// "kind=status,path=/oauth/token,status=503,count=2" or
// "kind=missing_fields,fields=refresh_token+id_token".
func ParseFault(s string) (Fault, error) {
	var f Fault
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return f, fmt.Errorf("%w: fault %q: %q is not key=value", ErrConfig, s, kv)
		}
		var err error
		switch k {
		case "kind":
			f.Kind = FaultKind(v)
		case "path":
			f.Path = v
		case "grant":
			f.Grant = v
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.Latency = Duration(d)
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "count":
			f.Count, err = strconv.Atoi(v)
		case "fields":
			f.Fields = strings.Split(v, "+")
		default:
			return f, fmt.Errorf("%w: fault %q: unknown key %q", ErrConfig, s, k)
		}
		if err != nil {
			return f, fmt.Errorf("%w: fault %q: %s: %v", ErrConfig, s, k, err)
		}
	}
	if err := (Faults{f}).validate(); err != nil {
		return f, err
	}
	return f, nil
}

// takeFaults returns the faults matching r and uses up one of each
// count-limited one.
func (s *Server) takeFaults(r *http.Request) []Fault {
	s.mu.Lock()
	needGrant := false
	for _, f := range s.faults {
		if f.Grant != "" {
			needGrant = true
		}
	}
	s.mu.Unlock()
	grant := ""
	if needGrant && r.URL.Path == "/oauth/token" {
		grant = peekGrant(r)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Fault
	kept := s.faults[:0]
	for _, f := range s.faults {
		match := (f.Path == "" || f.Path == r.URL.Path) &&
			(f.Grant == "" || (r.URL.Path == "/oauth/token" && f.Grant == grant))
		if f.Kind == FaultDeviceDisabled {
			match = r.URL.Path == pathDeviceUserCode
		}
		if match {
			out = append(out, f)
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return out
}

// peekGrant reads grant_type from a form or JSON body and puts the body back.
func peekGrant(r *http.Request) string {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var v struct {
			GrantType string `json:"grant_type"`
		}
		_ = json.Unmarshal(b, &v)
		return v.GrantType
	}
	q, _ := url.ParseQuery(string(b))
	return q.Get("grant_type")
}

// serveWithFaults runs next under the faults armed for r.
func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request, next http.Handler) {
	faults := s.takeFaults(r)
	if len(faults) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	var post []Fault
	for _, f := range faults {
		if f.Kind != FaultLatency {
			continue
		}
		if !httpfault.Wait(r.Context(), time.Duration(f.Latency), s.closed) {
			return
		}
	}
	for _, f := range faults {
		switch f.Kind {
		case FaultStatus:
			st := f.Status
			if st == 0 {
				st = http.StatusServiceUnavailable
			}
			writeJSON(w, st, map[string]any{"error": map[string]string{
				"code": "injected_fault", "message": "fault injected by the local issuer"}})
			return
		case FaultDeviceDisabled:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{
				"code": "not_found", "message": "device code login is not enabled"}})
			return
		case FaultHTML:
			st := f.Status
			if st == 0 {
				st = http.StatusOK
			}
			httpfault.HTMLPage(w, st)
			return
		case FaultRedirect:
			s.mu.Lock()
			s.stats.RedirectsServed++
			s.mu.Unlock()
			http.Redirect(w, r, "/debug/redirected", http.StatusTemporaryRedirect)
			return
		case FaultDrop:
			httpfault.Drop(w)
			return
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
			return
		case FaultTruncate, FaultMalformed, FaultMissingFields, FaultSlowAnswer:
			post = append(post, f)
		}
	}
	if len(post) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	cut := httpfault.Whole
	for _, f := range post {
		switch f.Kind {
		case FaultSlowAnswer:
			if !httpfault.Wait(r.Context(), time.Duration(f.Latency), s.closed) {
				return
			}
		case FaultMissingFields:
			fields := f.Fields
			if len(fields) == 0 {
				fields = []string{"refresh_token"}
			}
			body = httpfault.RemoveFields(body, rec.status, fields)
		case FaultMalformed:
			body = []byte(httpfault.Malformed)
		case FaultTruncate:
			cut = httpfault.Truncated
		}
	}
	httpfault.Write(w, rec.header, rec.status, body, cut)
}

// recorder captures an answer so a fault can rewrite it.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// std is d as a time.Duration.
func (d Duration) std() time.Duration { return time.Duration(d) }
