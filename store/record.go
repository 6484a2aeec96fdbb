package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// AuthMode is a record's auth_mode, as Codex writes and reports it. A
// stored value may be one codex-auth does not know (see Record.Supported).
type AuthMode string

// Auth modes as Codex writes them in auth_mode.
const (
	AuthModeAPIKey  AuthMode = "apikey"
	AuthModeChatGPT AuthMode = "chatgpt"
	// AuthModePersonalAccessToken is never written by Codex 0.171 (its
	// records have no auth_mode) but is the mode it reports, and it reads
	// the value when present.
	AuthModePersonalAccessToken AuthMode = "personalAccessToken"
	AuthModeAgentIdentity       AuthMode = "agentIdentity"
)

// Record is one auth record, as Codex stores it in auth.json or as the
// keyring value. Unknown keys (top level and inside tokens) and unknown
// auth_mode values survive a read-modify-write.
type Record struct {
	// AuthMode is auth_mode as stored; "" when the key is absent.
	AuthMode AuthMode
	// APIKey is OPENAI_API_KEY; nil is JSON null (always written).
	APIKey *string
	// Tokens is the tokens object; nil when absent.
	Tokens *Tokens
	// LastRefresh is last_refresh; nil when absent.
	LastRefresh *time.Time
	// Extra holds unknown top-level keys (agent_identity included) in the
	// order they were read; they are written after the known ones.
	Extra []RawField
}

// Tokens is the tokens object of a ChatGPT record.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	// AccountID is account_id; nil is JSON null (always written).
	AccountID *string
	// Extra holds unknown keys inside tokens.
	Extra []RawField
}

// RawField is a key and its undecoded JSON value.
type RawField struct {
	Key   string
	Value json.RawMessage
}

// EffectiveMode is the mode Codex would use for this record: auth_mode
// when present, else "personalAccessToken" when personal_access_token is
// a string (it wins over OPENAI_API_KEY: measured with Codex 0.171), else
// "apikey" when OPENAI_API_KEY is non-null, else "chatgpt".
func (r *Record) EffectiveMode() AuthMode {
	if r.AuthMode != "" {
		return r.AuthMode
	}
	if _, ok := r.PersonalAccessToken(); ok {
		return AuthModePersonalAccessToken
	}
	if r.APIKey != nil {
		return AuthModeAPIKey
	}
	return AuthModeChatGPT
}

// Supported reports whether codex-auth handles this record's mode. A record
// with another mode is reported as such and never rewritten.
func (r *Record) Supported() bool {
	switch r.EffectiveMode() {
	case AuthModeAPIKey:
		return r.APIKey != nil && *r.APIKey != ""
	case AuthModeChatGPT:
		return r.Tokens != nil
	case AuthModePersonalAccessToken:
		t, _ := r.PersonalAccessToken()
		return t != ""
	case AuthModeAgentIdentity:
		t, _ := r.AgentIdentity()
		return t != ""
	case AuthModeOIDC:
		return r.oidcSupported()
	}
	return false
}

// Clone returns a deep copy.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	if r.APIKey != nil {
		k := *r.APIKey
		c.APIKey = &k
	}
	if r.LastRefresh != nil {
		t := *r.LastRefresh
		c.LastRefresh = &t
	}
	if r.Tokens != nil {
		t := *r.Tokens
		if r.Tokens.AccountID != nil {
			a := *r.Tokens.AccountID
			t.AccountID = &a
		}
		t.Extra = cloneFields(r.Tokens.Extra)
		c.Tokens = &t
	}
	c.Extra = cloneFields(r.Extra)
	return &c
}

func cloneFields(in []RawField) []RawField {
	if in == nil {
		return nil
	}
	out := make([]RawField, len(in))
	for i, f := range in {
		out[i] = RawField{Key: f.Key, Value: append(json.RawMessage(nil), f.Value...)}
	}
	return out
}

// NewAPIKeyRecord is the record an API-key login writes, exactly as Codex
// writes it: {"auth_mode":"apikey","OPENAI_API_KEY":key}.
func NewAPIKeyRecord(key string) *Record {
	return &Record{AuthMode: AuthModeAPIKey, APIKey: &key}
}

// ParseError says why bytes are not an auth record. It never holds a
// secret: only a position and a description.
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return e.Reason }

// ParseRecord decodes an auth record from JSON (pretty or compact).
func ParseRecord(data []byte) (*Record, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{Reason: "file is empty"}
	}
	fields, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	r := &Record{}
	for _, f := range fields {
		switch f.Key {
		case "auth_mode":
			var s *string
			if err := json.Unmarshal(f.Value, &s); err != nil {
				return nil, &ParseError{Reason: "auth_mode is not a string"}
			}
			if s != nil {
				r.AuthMode = AuthMode(*s)
			}
		case "OPENAI_API_KEY":
			if err := json.Unmarshal(f.Value, &r.APIKey); err != nil {
				return nil, &ParseError{Reason: "OPENAI_API_KEY is not a string or null"}
			}
		case "tokens":
			if string(bytes.TrimSpace(f.Value)) == "null" {
				continue
			}
			t, err := parseTokens(f.Value)
			if err != nil {
				return nil, err
			}
			r.Tokens = t
		case "last_refresh":
			var s *string
			if err := json.Unmarshal(f.Value, &s); err != nil {
				return nil, &ParseError{Reason: "last_refresh is not a string"}
			}
			if s != nil {
				t, err := time.Parse(time.RFC3339Nano, *s)
				if err != nil {
					return nil, &ParseError{Reason: "last_refresh is not an RFC 3339 time"}
				}
				r.LastRefresh = &t
			}
		default:
			r.Extra = append(r.Extra, f)
		}
	}
	return r, nil
}

func parseTokens(data []byte) (*Tokens, error) {
	fields, err := decodeObject(data)
	if err != nil {
		return nil, &ParseError{Reason: "tokens: " + err.Error()}
	}
	t := &Tokens{}
	str := func(f RawField, dst *string) error {
		if err := json.Unmarshal(f.Value, dst); err != nil {
			return &ParseError{Reason: "tokens." + f.Key + " is not a string"}
		}
		return nil
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "id_token":
			err = str(f, &t.IDToken)
		case "access_token":
			err = str(f, &t.AccessToken)
		case "refresh_token":
			err = str(f, &t.RefreshToken)
		case "account_id":
			if e := json.Unmarshal(f.Value, &t.AccountID); e != nil {
				err = &ParseError{Reason: "tokens.account_id is not a string or null"}
			}
		default:
			t.Extra = append(t.Extra, f)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// decodeObject reads one JSON object into its fields, in order, and
// rejects anything after it. Errors carry the byte offset only.
func decodeObject(data []byte) ([]RawField, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, &ParseError{Reason: describeJSONError(err, dec.InputOffset())}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &ParseError{Reason: "not a JSON object"}
	}
	var fields []RawField
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &ParseError{Reason: describeJSONError(err, dec.InputOffset())}
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &ParseError{Reason: fmt.Sprintf("invalid key at byte %d", dec.InputOffset())}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, &ParseError{Reason: describeJSONError(err, dec.InputOffset())}
		}
		if seen[key] {
			return nil, &ParseError{Reason: fmt.Sprintf("duplicate key %q", key)}
		}
		seen[key] = true
		fields = append(fields, RawField{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, &ParseError{Reason: describeJSONError(err, dec.InputOffset())}
	}
	if _, err := dec.Token(); err == nil {
		return nil, &ParseError{Reason: fmt.Sprintf("unexpected data after the object at byte %d", dec.InputOffset())}
	}
	return fields, nil
}

// describeJSONError names what is wrong without echoing input bytes, which
// could be part of a secret.
func describeJSONError(err error, off int64) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("truncated JSON at byte %d", off)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	default:
		return fmt.Sprintf("invalid JSON at byte %d", off)
	}
}

// MarshalPretty encodes the record as Codex writes auth.json: pretty
// printed with two spaces, keys in Codex's order, OPENAI_API_KEY and
// tokens.account_id always present, unknown keys after the known ones.
func (r *Record) MarshalPretty() ([]byte, error) {
	compact, err := r.MarshalCompact()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalCompact encodes the record as one line of JSON: the keyring value.
func (r *Record) MarshalCompact() ([]byte, error) {
	var buf bytes.Buffer
	w := objWriter{buf: &buf}
	buf.WriteByte('{')
	if r.AuthMode != "" {
		w.field("auth_mode", string(r.AuthMode))
	}
	// A provider's record (store/provider.go) is not Codex's: it has
	// neither an API key nor a workspace.
	oidc := r.AuthMode == AuthModeOIDC
	if !oidc || r.APIKey != nil {
		w.field("OPENAI_API_KEY", r.APIKey)
	}
	if r.Tokens != nil {
		var tb bytes.Buffer
		tw := objWriter{buf: &tb}
		tb.WriteByte('{')
		tw.field("id_token", r.Tokens.IDToken)
		tw.field("access_token", r.Tokens.AccessToken)
		tw.field("refresh_token", r.Tokens.RefreshToken)
		if !oidc || r.Tokens.AccountID != nil {
			tw.field("account_id", r.Tokens.AccountID)
		}
		for _, f := range r.Tokens.Extra {
			tw.raw(f.Key, f.Value)
		}
		tb.WriteByte('}')
		if tw.err != nil {
			return nil, tw.err
		}
		w.raw("tokens", tb.Bytes())
	}
	if r.LastRefresh != nil {
		w.field("last_refresh", formatTime(*r.LastRefresh))
	}
	for _, f := range r.Extra {
		w.raw(f.Key, f.Value)
	}
	buf.WriteByte('}')
	if w.err != nil {
		return nil, w.err
	}
	return buf.Bytes(), nil
}

type objWriter struct {
	buf *bytes.Buffer
	n   int
	err error
}

func (w *objWriter) field(key string, v any) {
	var b []byte
	switch v := v.(type) {
	case string:
		b = appendJSONString(nil, v)
	case *string:
		if v == nil {
			b = []byte("null")
		} else {
			b = appendJSONString(nil, *v)
		}
	default:
		var err error
		if b, err = json.Marshal(v); err != nil && w.err == nil {
			w.err = err
		}
	}
	w.raw(key, b)
}

// appendJSONString writes s as serde_json does: only '"', '\\' and control
// characters are escaped (\b \f \n \r \t, else \u00xx); '<', '>', '&',
// U+2028 and U+2029 are written as they are, unlike encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// formatTime is chrono's RFC 3339 with SecondsFormat::AutoSi and "Z", as
// Codex serializes last_refresh: no fraction, or 3, 6 or 9 digits.
func formatTime(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

func (w *objWriter) raw(key string, v []byte) {
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	w.buf.Write(appendJSONString(nil, key))
	w.buf.WriteByte(':')
	var c bytes.Buffer
	if err := json.Compact(&c, v); err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("field %q: %w", key, err)
		}
		return
	}
	w.buf.Write(c.Bytes())
}
