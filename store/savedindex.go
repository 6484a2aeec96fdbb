package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The saved accounts' places, as Codex's newer source names them (not in
// the Codex CLI 0.171): an index without secrets in CODEX_HOME, and one
// auth record per account in a folder of its own.
const (
	// SavedIndexName is the index: $CODEX_HOME/account-sessions.json.
	SavedIndexName = "account-sessions.json"
	// SavedDirName holds one folder per saved account:
	// $CODEX_HOME/account-sessions/<sessionId>/auth.json.
	SavedDirName = "account-sessions"
	// savedLockName is the index's own lock (Codex's newer source takes
	// it around every change of the saved accounts).
	savedLockName = "account-sessions.lock"
	// SavedKeyringService is the keyring service of the saved records in
	// keyring mode: a name the Codex CLI never reads as its own.
	SavedKeyringService = "codex-auth"
	// savedSchemaVersion is the index's schemaVersion.
	savedSchemaVersion = 1
)

// SavedAccount is one entry of the index: what a saved account is, never
// a secret. The fields are those of Codex's newer account-sessions.json;
// NeedsLogin is codex-auth's own key (needsLogin), and keys neither knows
// are kept as they were.
type SavedAccount struct {
	SessionID   string
	Email       string
	UserID      string
	DisplayName string
	ImageURL    string
	// LastUsedAt is when it last became active or was used, in whole
	// seconds (Codex writes lastUsedAt as Unix seconds); zero when unknown.
	LastUsedAt time.Time
	// SelectedWorkspaceAccountID is the workspace of a ChatGPT login.
	SelectedWorkspaceAccountID string
	// Workspaces: one for a ChatGPT login (codex-auth cannot list a
	// user's other workspaces: that needs OpenAI's backend), none for a
	// key or token.
	Workspaces []Workspace
	// NeedsLogin: its refresh token was rejected; sign in again as it.
	NeedsLogin bool

	extra []RawField
}

// Workspace is one workspace of a saved account.
type Workspace struct {
	AccountID string
	Name      string
	ImageURL  string
	// Kind is Codex's "personal" or "workspace"; "" when unknown.
	Kind  string
	extra []RawField
}

// clone is a deep copy.
func (a SavedAccount) clone() SavedAccount {
	c := a
	c.extra = cloneFields(a.extra)
	c.Workspaces = nil
	for _, w := range a.Workspaces {
		w.extra = cloneFields(w.extra)
		c.Workspaces = append(c.Workspaces, w)
	}
	return c
}

// savedIndex is account-sessions.json.
type savedIndex struct {
	active   string
	accounts []SavedAccount
	extra    []RawField // top-level keys codex-auth does not know
}

func (x *savedIndex) find(id string) int {
	for i, a := range x.accounts {
		if a.SessionID == id {
			return i
		}
	}
	return -1
}

// SchemaError: the index has a schemaVersion codex-auth does not know.
// It is left alone (a newer program wrote it); the saved accounts are
// unavailable until it is moved away. It wraps ErrUnavailable.
type SchemaError struct {
	Path string
	// Version is the file's schemaVersion when it is a short number,
	// else a description of it.
	Version string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("%s has schemaVersion %s, which this codex-auth does not know (it reads %d); it is left as it is", e.Path, e.Version, savedSchemaVersion)
}

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *SchemaError) Unwrap() error { return ErrUnavailable }

// describeVersion is a schemaVersion as an error may quote it: a short
// number as it is, anything else by its kind (the file is the user's,
// and an error should not repeat an arbitrary value).
func describeVersion(v string) string {
	if len(v) <= 12 && strings.Trim(v, "0123456789.-") == "" {
		return v
	}
	return "(not a version number)"
}

// parseSavedIndex reads the index. A file that is not an index is a
// *ParseError (the caller rebuilds it); an unknown schema version a
// *SchemaError. An activeSessionId naming no entry is dropped.
func parseSavedIndex(path string, data []byte) (*savedIndex, error) {
	fields, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	x := &savedIndex{}
	version := ""
	for _, f := range fields {
		switch f.Key {
		case "schemaVersion":
			version = strings.TrimSpace(string(f.Value))
		case "activeSessionId":
			var s *string
			if json.Unmarshal(f.Value, &s) != nil {
				return nil, &ParseError{Reason: "activeSessionId is not a string or null"}
			}
			if s != nil {
				x.active = *s
			}
		case "sessions":
			var raws []json.RawMessage
			if json.Unmarshal(f.Value, &raws) != nil {
				return nil, &ParseError{Reason: "sessions is not an array"}
			}
			for i, raw := range raws {
				a, err := parseSavedAccount(raw)
				if err != nil {
					return nil, &ParseError{Reason: fmt.Sprintf("sessions[%d]: %s", i, err.Error())}
				}
				if x.find(a.SessionID) >= 0 {
					return nil, &ParseError{Reason: fmt.Sprintf("sessions[%d]: duplicate sessionId", i)}
				}
				x.accounts = append(x.accounts, a)
			}
		default:
			x.extra = append(x.extra, f)
		}
	}
	if version != strconv.Itoa(savedSchemaVersion) {
		if version == "" {
			return nil, &ParseError{Reason: "schemaVersion is missing"}
		}
		return nil, &SchemaError{Path: path, Version: describeVersion(version)}
	}
	if x.active != "" && x.find(x.active) < 0 {
		x.active = ""
	}
	return x, nil
}

func parseSavedAccount(raw []byte) (SavedAccount, error) {
	fields, err := decodeObject(raw)
	if err != nil {
		return SavedAccount{}, err
	}
	var a SavedAccount
	str := func(f RawField, dst *string) error {
		var s *string
		if json.Unmarshal(f.Value, &s) != nil {
			return &ParseError{Reason: f.Key + " is not a string or null"}
		}
		if s != nil {
			*dst = *s
		}
		return nil
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "sessionId":
			err = str(f, &a.SessionID)
		case "email":
			err = str(f, &a.Email)
		case "userId":
			err = str(f, &a.UserID)
		case "displayName":
			err = str(f, &a.DisplayName)
		case "imageUrl":
			err = str(f, &a.ImageURL)
		case "selectedWorkspaceAccountId":
			err = str(f, &a.SelectedWorkspaceAccountID)
		case "lastUsedAt":
			a.LastUsedAt, err = parseLastUsed(f.Value)
		case "needsLogin":
			if json.Unmarshal(f.Value, &a.NeedsLogin) != nil {
				err = &ParseError{Reason: "needsLogin is not a boolean"}
			}
		case "workspaces":
			var raws []json.RawMessage
			if json.Unmarshal(f.Value, &raws) != nil {
				err = &ParseError{Reason: "workspaces is not an array"}
				break
			}
			for _, wr := range raws {
				w, werr := parseWorkspace(wr)
				if werr != nil {
					err = &ParseError{Reason: "workspaces: " + werr.Error()}
					break
				}
				a.Workspaces = append(a.Workspaces, w)
			}
		default:
			a.extra = append(a.extra, f)
		}
		if err != nil {
			return SavedAccount{}, err
		}
	}
	if !ValidSessionID(a.SessionID) {
		return SavedAccount{}, &ParseError{Reason: "sessionId is missing or not a safe name"}
	}
	return a, nil
}

// parseLastUsed reads lastUsedAt: Unix seconds as Codex writes it (an
// RFC 3339 string is read too); null, and any time not after 1970, is
// zero.
func parseLastUsed(v json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(v))
	if s == "null" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return time.Time{}, nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	var str string
	if json.Unmarshal(v, &str) == nil {
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			if t.Unix() <= 0 {
				return time.Time{}, nil // as the number would be
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, &ParseError{Reason: "lastUsedAt is not a number of seconds"}
}

func parseWorkspace(raw []byte) (Workspace, error) {
	fields, err := decodeObject(raw)
	if err != nil {
		return Workspace{}, err
	}
	var w Workspace
	for _, f := range fields {
		var dst *string
		switch f.Key {
		case "accountId":
			dst = &w.AccountID
		case "name":
			dst = &w.Name
		case "imageUrl":
			dst = &w.ImageURL
		case "kind":
			dst = &w.Kind
		default:
			w.extra = append(w.extra, f)
			continue
		}
		var s *string
		if json.Unmarshal(f.Value, &s) != nil {
			return Workspace{}, &ParseError{Reason: f.Key + " is not a string or null"}
		}
		if s != nil {
			*dst = *s
		}
	}
	return w, nil
}

// marshal encodes the index as Codex's newer source writes it: pretty
// printed with two spaces and a final newline; absent strings as null,
// lastUsedAt as Unix seconds; unknown keys kept.
func (x *savedIndex) marshal() ([]byte, error) {
	var buf bytes.Buffer
	w := objWriter{buf: &buf}
	buf.WriteByte('{')
	w.raw("schemaVersion", []byte(strconv.Itoa(savedSchemaVersion)))
	for _, f := range x.extra {
		w.raw(f.Key, f.Value)
	}
	w.field("activeSessionId", nullString(x.active))
	var list bytes.Buffer
	list.WriteByte('[')
	for i, a := range x.accounts {
		if i > 0 {
			list.WriteByte(',')
		}
		b, err := a.marshal()
		if err != nil {
			return nil, err
		}
		list.Write(b)
	}
	list.WriteByte(']')
	w.raw("sessions", list.Bytes())
	buf.WriteByte('}')
	if w.err != nil {
		return nil, w.err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func (a SavedAccount) marshal() ([]byte, error) {
	var buf bytes.Buffer
	w := objWriter{buf: &buf}
	buf.WriteByte('{')
	w.field("sessionId", a.SessionID)
	w.field("email", nullString(a.Email))
	w.field("userId", nullString(a.UserID))
	w.field("displayName", nullString(a.DisplayName))
	w.field("imageUrl", nullString(a.ImageURL))
	var used int64
	if !a.LastUsedAt.IsZero() {
		used = a.LastUsedAt.Unix()
	}
	w.raw("lastUsedAt", []byte(strconv.FormatInt(used, 10)))
	w.field("selectedWorkspaceAccountId", nullString(a.SelectedWorkspaceAccountID))
	var list bytes.Buffer
	list.WriteByte('[')
	for i, ws := range a.Workspaces {
		if i > 0 {
			list.WriteByte(',')
		}
		var wb bytes.Buffer
		ww := objWriter{buf: &wb}
		wb.WriteByte('{')
		ww.field("accountId", ws.AccountID)
		ww.field("name", nullString(ws.Name))
		ww.field("imageUrl", nullString(ws.ImageURL))
		ww.field("kind", nullString(ws.Kind))
		for _, f := range ws.extra {
			ww.raw(f.Key, f.Value)
		}
		wb.WriteByte('}')
		if ww.err != nil {
			return nil, ww.err
		}
		list.Write(wb.Bytes())
	}
	list.WriteByte(']')
	w.raw("workspaces", list.Bytes())
	if a.NeedsLogin {
		w.raw("needsLogin", []byte("true"))
	}
	for _, f := range a.extra {
		w.raw(f.Key, f.Value)
	}
	buf.WriteByte('}')
	if w.err != nil {
		return nil, w.err
	}
	return buf.Bytes(), nil
}

// nullString is s, or nil (JSON null) when empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
