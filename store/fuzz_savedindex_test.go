package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseSavedIndex feeds arbitrary bytes to the parser of
// account-sessions.json (the saved accounts' index, which Codex's newer
// source writes too) and checks: no panic; a failure is a *ParseError (the
// index is rebuilt) or a *SchemaError naming the file (it is left alone),
// with a short message; an active id always names an entry; what parses
// writes back (marshal) to an index that parses to the same accounts and
// keeps every key codex-auth does not know, and writing it again gives the
// same bytes.
func FuzzParseSavedIndex(f *testing.F) {
	f.Add([]byte(codexIndex))
	f.Add([]byte(`{"schemaVersion": 1, "activeSessionId": null, "sessions": []}`))
	f.Add([]byte(`{"schemaVersion": 2, "sessions": []}`))
	f.Add([]byte(`{"schemaVersion": "1", "sessions": []}`))
	f.Add([]byte(`{"schemaVersion": 1, "activeSessionId": "gone", "sessions": [{"sessionId": "a", "lastUsedAt": "2026-12-02T10:00:00.5Z", "needsLogin": true}]}`))
	f.Add([]byte(`{"schemaVersion": 1, "sessions": [{"sessionId": "a", "lastUsedAt": -5, "workspaces": [{"accountId": null, "x": [1]}]}]}`))
	f.Add([]byte(`{"schemaVersion": 1, "sessions": [{"sessionId": "a"}, {"sessionId": "a"}]}`))
	f.Add([]byte(`{"schemaVersion": 1, "sessions": {}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/home/u/.codex/account-sessions.json"
		x, err := parseSavedIndex(path, data)
		if err != nil {
			var pe *ParseError
			var se *SchemaError
			switch {
			case errors.As(err, &se):
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("a schema error that does not name the file: %v", err)
				}
			case !errors.As(err, &pe):
				t.Fatalf("parseSavedIndex failed with %T %v, want a *ParseError or a *SchemaError", err, err)
			}
			if n := len(err.Error()) - len(path); n > 200 {
				t.Fatalf("an error of %d bytes: %.300q", n, err.Error())
			}
			return
		}
		if x.active != "" && x.find(x.active) < 0 {
			t.Fatalf("active %q names no entry", x.active)
		}
		out, err := x.marshal()
		if err != nil {
			return // a value no writer could have written either
		}
		y, err := parseSavedIndex(path, out)
		if err != nil {
			t.Fatalf("what marshal wrote does not parse: %v\n%s", err, out)
		}
		if y.active != x.active || len(y.extra) != len(x.extra) {
			t.Fatalf("the index changed across a write: active %q, then %q; %d unknown keys, then %d", x.active, y.active, len(x.extra), len(y.extra))
		}
		// A write keeps whole seconds, and nothing before 1970.
		want := make([]SavedAccount, len(x.accounts))
		for i, a := range x.accounts {
			a = a.clone()
			if a.LastUsedAt.Unix() <= 0 {
				a.LastUsedAt = time.Time{}
			} else {
				a.LastUsedAt = time.Unix(a.LastUsedAt.Unix(), 0).UTC()
			}
			want[i] = a
		}
		opts := []cmp.Option{cmpopts.EquateEmpty(), cmp.AllowUnexported(SavedAccount{}, Workspace{}), cmp.Comparer(func(a, b RawField) bool {
			return a.Key == b.Key && compactJSON(a.Value) == compactJSON(b.Value)
		})}
		if diff := cmp.Diff(want, y.accounts, opts...); diff != "" {
			t.Fatalf("the accounts changed across a write (-before +after):\n%s", diff)
		}
		again, err := y.marshal()
		if err != nil || string(again) != string(out) {
			t.Fatalf("a second write differs (%v):\n%s\n%s", err, out, again)
		}
	})
}

// compactJSON is v without insignificant white space.
func compactJSON(v []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}
