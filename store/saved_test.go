package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// chatgptRecord is a ChatGPT record for user in workspace, with refresh
// token rt.
func chatgptRecord(user, email, workspace, rt string) *Record {
	id := testJWT(fmt.Sprintf(`{"email":%q,"https://api.openai.com/auth":{"chatgpt_plan_type":"pro","chatgpt_user_id":%q,"chatgpt_account_id":%q}}`, email, user, workspace))
	ws := workspace
	last := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return &Record{
		AuthMode:    AuthModeChatGPT,
		Tokens:      &Tokens{IDToken: id, AccessToken: "access-" + rt, RefreshToken: rt, AccountID: &ws},
		LastRefresh: &last,
	}
}

func openSaved(t *testing.T, home Home, mode Mode) *Store {
	t.Helper()
	// A clock a second further at every reading: uses are ordered.
	var mu sync.Mutex
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	return openStore(t, home, Options{Mode: mode, SavedAccounts: true, Now: clock})
}

func listIDs(t *testing.T, s *Store) (active string, ids []string) {
	t.Helper()
	l, err := s.SavedAccounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Accounts {
		ids = append(ids, e.SessionID)
	}
	return l.ActiveID, ids
}

func readSaved(t *testing.T, home Home, id string) *Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(home.Dir, SavedDirName, id, AuthFileName))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSessionIDs(t *testing.T) {
	a := chatgptRecord("user-a", "a@example.com", "ws-1", "rt-1")
	aRefreshed := chatgptRecord("user-a", "a@example.com", "ws-1", "rt-2")
	aOtherWorkspace := chatgptRecord("user-a", "a@example.com", "ws-2", "rt-3")
	b := chatgptRecord("user-b", "b@example.com", "ws-1", "rt-4")
	key := NewAPIKeyRecord("sk-proj-secret-0123456789")
	otherKey := NewAPIKeyRecord("sk-proj-secret-9876543210")
	pat := NewPersonalAccessTokenRecord("at-secret-token-0123")
	noUser := &Record{AuthMode: AuthModeChatGPT, Tokens: &Tokens{IDToken: "not-a-jwt", RefreshToken: "rt"}}

	ids := map[string]string{}
	for name, r := range map[string]*Record{"a": a, "a in ws-2": aOtherWorkspace, "b": b, "key": key, "other key": otherKey, "pat": pat} {
		id := SessionID(r.Identity())
		if !uuidShape.MatchString(id) || !ValidSessionID(id) {
			t.Errorf("%s: session id %q is not a version 8 UUID", name, id)
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s share the session id %s", name, prev, id)
		}
		ids[id] = name
		for _, secret := range []string{"sk-proj-secret", "at-secret", "rt-"} {
			if strings.Contains(r.Identity(), secret) {
				t.Errorf("%s: identity %q holds a secret", name, r.Identity())
			}
		}
	}
	if SessionID(a.Identity()) != SessionID(aRefreshed.Identity()) {
		t.Error("a refresh changed the session id")
	}
	if got := noUser.Identity(); got != "" {
		t.Errorf("a ChatGPT record naming no user: identity %q, want none", got)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, strings.Repeat("x", 65), "é"} {
		if ValidSessionID(bad) {
			t.Errorf("ValidSessionID(%q) = true", bad)
		}
	}
}

// codexIndex is account-sessions.json as Codex's newer source writes it
// (its own tests), with keys codex-auth does not know.
const codexIndex = `{
  "schemaVersion": 1,
  "legacyProfilesMigrated": true,
  "activeSessionId": "00000000-0000-7000-8000-000000000001",
  "sessions": [
    {"sessionId": "00000000-0000-7000-8000-000000000001", "email": "first@example.com", "userId": "user-first",
     "displayName": null, "imageUrl": null, "lastUsedAt": 1, "selectedWorkspaceAccountId": "workspace-first",
     "workspaces": [{"accountId": "workspace-first", "name": "First", "imageUrl": null, "kind": "personal", "role": "owner"}],
     "plan": "pro"},
    {"sessionId": "00000000-0000-7000-8000-000000000002", "email": null, "userId": null, "displayName": "Second",
     "imageUrl": "https://example.com/i.png", "lastUsedAt": 1700000000, "selectedWorkspaceAccountId": null, "workspaces": []}
  ]
}`

func TestSavedIndexFormat(t *testing.T) {
	x, err := parseSavedIndex("index", []byte(codexIndex))
	if err != nil {
		t.Fatal(err)
	}
	if x.active != "00000000-0000-7000-8000-000000000001" || len(x.accounts) != 2 {
		t.Fatalf("parsed active %q, %d accounts", x.active, len(x.accounts))
	}
	first := x.accounts[0]
	if first.Email != "first@example.com" || first.LastUsedAt != time.Unix(1, 0).UTC() || first.Workspaces[0].Kind != "personal" {
		t.Errorf("first account parsed as %+v", first)
	}
	out, err := x.marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"legacyProfilesMigrated": true`, `"plan": "pro"`, `"role": "owner"`, `"lastUsedAt": 1700000000`, `"displayName": null`, `"imageUrl": "https://example.com/i.png"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rewritten index lacks %s:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(string(out), "}\n") || !strings.HasPrefix(string(out), "{\n  \"schemaVersion\": 1,") {
		t.Errorf("rewritten index is not pretty JSON with a final newline:\n%s", out)
	}
	again, err := parseSavedIndex("index", out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(x, again, cmp.AllowUnexported(savedIndex{}, SavedAccount{}, Workspace{})); diff != "" {
		t.Errorf("round trip (-first +second):\n%s", diff)
	}

	var se *SchemaError
	if _, err := parseSavedIndex("index", []byte(`{"schemaVersion": 2, "sessions": []}`)); !errors.As(err, &se) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("schemaVersion 2: err = %v, want a SchemaError", err)
	}
	// Found by FuzzParseSavedIndex: a time before 1970 written as an RFC
	// 3339 string was kept, written back as negative seconds, then read
	// as none: two writes differed.
	old, err := parseSavedIndex("index", []byte(`{"schemaVersion": 1, "sessions": [{"sessionId": "a", "lastUsedAt": "0000-01-01T00:00:00Z"}]}`))
	if err != nil {
		t.Errorf("lastUsedAt in year 0: %v", err)
	} else if !old.accounts[0].LastUsedAt.IsZero() {
		t.Errorf("lastUsedAt in year 0 read as %v, want none", old.accounts[0].LastUsedAt)
	}
	// Found by FuzzParseSavedIndex: the error quoted any value whole.
	long := `{"schemaVersion": {"value": "` + strings.Repeat("x", 300) + `"}, "sessions": []}`
	if _, err := parseSavedIndex("index", []byte(long)); !errors.As(err, &se) || strings.Contains(err.Error(), "xxxx") || len(err.Error()) > 200 {
		t.Errorf("a schemaVersion that is an object: err = %v, want a SchemaError that does not quote it", err)
	}
	for _, bad := range []string{
		``, `[]`, `{"sessions": []}`,
		`{"schemaVersion": 1, "sessions": [{"sessionId": "../x", "workspaces": []}]}`,
		`{"schemaVersion": 1, "sessions": [{"sessionId": "a"}, {"sessionId": "a"}]}`,
		`{"schemaVersion": 1, "sessions": [{"sessionId": "a", "lastUsedAt": "yesterday"}]}`,
	} {
		var pe *ParseError
		if _, err := parseSavedIndex("index", []byte(bad)); !errors.As(err, &pe) {
			t.Errorf("parse %q: err = %v, want a ParseError", bad, err)
		}
	}
	x, err = parseSavedIndex("index", []byte(`{"schemaVersion": 1, "activeSessionId": "gone", "sessions": []}`))
	if err != nil || x.active != "" {
		t.Errorf("an active id naming no account: active %q (%v), want none", x.active, err)
	}
}

func TestSavedMirrorsTheActiveRecord(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openSaved(t, home, ModeFile)
	a := chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1")
	b := chatgptRecord("user-b", "b@example.com", "ws-b", "rt-b1")
	idA, idB := SessionID(a.Identity()), SessionID(b.Identity())

	if err := s.Replace(ctx, a); err != nil {
		t.Fatal(err)
	}
	if active, ids := listIDs(t, s); active != idA || !cmp.Equal(ids, []string{idA}) {
		t.Errorf("after a's login: active %q, saved %v; want %s only", active, ids, idA)
	}
	dir := filepath.Join(home.Dir, SavedDirName)
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, idA): 0o700, filepath.Join(dir, idA, AuthFileName): 0o600, filepath.Join(home.Dir, SavedIndexName): 0o600} {
			if got := fileMode(t, path); got != want {
				t.Errorf("%s is %04o, want %04o", path, got, want)
			}
		}
	}

	// A refresh (Update) is mirrored under the same locks.
	if _, err := s.Update(ctx, func(cur *Record) (*Record, error) {
		cur.Tokens.RefreshToken, cur.Tokens.AccessToken = "rt-a2", "access-a2"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := readSaved(t, home, idA).Tokens.RefreshToken; got != "rt-a2" {
		t.Errorf("saved copy of a after a refresh holds %q, want rt-a2", got)
	}

	if err := s.Replace(ctx, b); err != nil {
		t.Fatal(err)
	}
	active, ids := listIDs(t, s)
	if active != idB || len(ids) != 2 {
		t.Errorf("after b's login: active %q, saved %v; want both, b active", active, ids)
	}
	index, err := os.ReadFile(filepath.Join(home.Dir, SavedIndexName))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"rt-a2", "rt-b1", "access-", "eyJ"} {
		if strings.Contains(string(index), secret) {
			t.Errorf("the index holds a secret (%s):\n%s", secret, index)
		}
	}

	// A policy logout keeps the copy; a logout removes it.
	if deleted, _, err := s.DeleteIf(ctx, func(*Record) bool { return true }); err != nil || !deleted {
		t.Fatalf("DeleteIf = %v, %v", deleted, err)
	}
	if active, ids := listIDs(t, s); active != "" || len(ids) != 2 {
		t.Errorf("after a policy logout: active %q, saved %v; want both kept, none active", active, ids)
	}
	if err := s.Replace(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Take(ctx); err != nil {
		t.Fatal(err)
	}
	if active, ids := listIDs(t, s); active != "" || !cmp.Equal(ids, []string{idA}) {
		t.Errorf("after b's logout: active %q, saved %v; want a only", active, ids)
	}
	if _, err := os.Stat(filepath.Join(dir, idB)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b's folder after its logout: %v, want it gone", err)
	}
}

func TestSavedSwitchInPlace(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openSaved(t, home, ModeFile)
	a := chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1")
	b := NewAPIKeyRecord("sk-proj-switch-0123456789")
	idA := SessionID(a.Identity())
	for _, r := range []*Record{a, b} {
		if err := s.Replace(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The switch: the active record back to its copy, then a's copy
	// becomes the active record.
	err := s.Accounts(ctx, func(tx *SavedTx) error {
		e, err := tx.Find("A@Example.com")
		if err != nil {
			return err
		}
		if e.SessionID != idA {
			t.Errorf("Find by email found %s, want %s", e.SessionID, idA)
		}
		cur, err := tx.Active()
		if err != nil {
			return err
		}
		if _, err := tx.Put(cur); err != nil {
			return err
		}
		rec, err := tx.Load(e.SessionID)
		if err != nil {
			return err
		}
		return tx.Activate(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Load(ctx)
	if err != nil || cur.Identity() != a.Identity() {
		t.Fatalf("auth.json after the switch: identity %q (%v), want a's", cur.Identity(), err)
	}
	if active, ids := listIDs(t, s); active != idA || len(ids) != 2 || ids[0] != idA {
		t.Errorf("after the switch: active %q, saved %v; want a active and first", active, ids)
	}

	err = s.Accounts(ctx, func(tx *SavedTx) error {
		_, err := tx.Find("nobody@example.com")
		return err
	})
	if !errors.Is(err, ErrNotSaved) || strings.Contains(err.Error(), "nobody") {
		t.Errorf("Find of an unknown email: %v; want ErrNotSaved, without the reference", err)
	}
}

func TestSavedIndexRebuilt(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openSaved(t, home, ModeFile)
	a := chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1")
	b := chatgptRecord("user-b", "b@example.com", "ws-b", "rt-b1")
	for _, r := range []*Record{a, b} {
		if err := s.Replace(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	_, want := listIDs(t, s)
	index := filepath.Join(home.Dir, SavedIndexName)
	for name, damage := range map[string]func() error{
		"lost":    func() error { return os.Remove(index) },
		"corrupt": func() error { return os.WriteFile(index, []byte(`{"schemaVersion": 1, "sessions": [`), 0o600) },
	} {
		if err := damage(); err != nil {
			t.Fatal(err)
		}
		_, got := listIDs(t, s)
		if diff := cmp.Diff(want, got, sortStrings); diff != "" {
			t.Errorf("index %s: listed (-want +got):\n%s", name, diff)
		}
		// The next change writes the rebuilt index.
		if err := s.Accounts(ctx, func(tx *SavedTx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseSavedIndex(index, data); err != nil || strings.Count(string(data), `"sessionId"`) != 2 {
			t.Errorf("index %s: rewritten as %s (%v)", name, data, err)
		}
	}

	// A corrupt saved record is reported and skipped; the other is listed.
	idA := SessionID(a.Identity())
	writeFile(t, filepath.Join(home.Dir, SavedDirName, idA, AuthFileName), `{"tokens": `)
	l, err := s.SavedAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if len(l.Accounts) != 1 || l.Accounts[0].SessionID != SessionID(b.Identity()) || len(l.Problems) != 1 || !errors.As(l.Problems[0], &ce) {
		t.Errorf("with a's copy corrupt: listed %d (%v), problems %v; want b listed and a reported", len(l.Accounts), l.Accounts, l.Problems)
	}
	if len(l.Problems) == 1 && strings.Contains(l.Problems[0].Error(), "rt-") {
		t.Errorf("the problem shows a secret: %v", l.Problems[0])
	}
	// Lost and corrupt together: rebuilt, a still reported.
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}
	if l, err := s.SavedAccounts(ctx); err != nil || len(l.Accounts) != 1 || len(l.Problems) != 1 {
		t.Errorf("index lost with a corrupt: %d listed, problems %v (%v)", len(l.Accounts), l.Problems, err)
	}

	// An index of a newer schema is left alone.
	newer := `{"schemaVersion": 2, "sessions": []}`
	writeFile(t, index, newer)
	err = s.Accounts(ctx, func(tx *SavedTx) error { return nil })
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Errorf("Accounts with a newer index: %v, want a SchemaError", err)
	}
	if data, _ := os.ReadFile(index); string(data) != newer {
		t.Errorf("a newer index was rewritten: %s", data)
	}
}

func execOutput(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestUpdateActiveChanged: a writer that ignores auth.lock stores another
// account while a refresh is under way; the refreshed tokens go to their
// own account's copy, and the other account stays active.
func TestUpdateActiveChanged(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openSaved(t, home, ModeFile)
	a := chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1")
	b := chatgptRecord("user-b", "b@example.com", "ws-b", "rt-b1")
	if err := s.Replace(ctx, a); err != nil {
		t.Fatal(err)
	}
	out, err := s.Update(ctx, func(cur *Record) (*Record, error) {
		data, _ := b.MarshalPretty()
		if err := writeAtomic(s.AuthFile(), data); err != nil { // no lock: as an old Codex
			return nil, err
		}
		cur.Tokens.RefreshToken = "rt-a2"
		return cur, nil
	})
	if !errors.Is(err, ErrActiveChanged) || out == nil || out.Tokens.RefreshToken != "rt-a2" {
		t.Fatalf("Update = (%v, %v), want a's refreshed record and ErrActiveChanged", out != nil, err)
	}
	if got := readSaved(t, home, SessionID(a.Identity())).Tokens.RefreshToken; got != "rt-a2" {
		t.Errorf("a's saved copy holds %q, want the refreshed rt-a2", got)
	}
	cur, err := s.Load(ctx)
	if err != nil || cur.Identity() != b.Identity() {
		t.Errorf("auth.json after the update: %v (%v), want b's record untouched", cur.Identity(), err)
	}
}

func TestSavedEphemeral(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openSaved(t, home, ModeEphemeral)
	for _, r := range []*Record{chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1"), NewAPIKeyRecord("sk-proj-memory-0123456789")} {
		if err := s.Replace(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, ids := listIDs(t, s); len(ids) != 2 {
		t.Errorf("ephemeral: saved %v, want 2", ids)
	}
	entries, err := os.ReadDir(home.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("ephemeral mode wrote to CODEX_HOME: %v", entries)
	}
}

func TestSavedKeyring(t *testing.T) {
	home := keyringHome(t)
	ctx := t.Context()
	s := openSaved(t, home, ModeKeyring)
	a := chatgptRecord("user-a", "a@example.com", "ws-a", "rt-a1")
	b := NewAPIKeyRecord("sk-proj-keyring-saved-0123456789")
	for _, r := range []*Record{a, b} {
		if err := s.Replace(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = s.Delete(context.Background())
		_ = s.Accounts(context.Background(), func(tx *SavedTx) error {
			for _, acc := range tx.List().Accounts {
				_ = tx.Remove(acc.SessionID)
			}
			return nil
		})
	})
	idA := SessionID(a.Identity())
	account := idA + "|" + strings.TrimPrefix(home.KeyringAccount(), "cli|")
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := execOutput(ctx2, "secret-tool", "lookup", "service", SavedKeyringService, "username", account)
	want, _ := a.MarshalCompact()
	if err != nil || out != string(want) {
		t.Errorf("secret-tool lookup service %s username %s: %d bytes (%v), want a's record", SavedKeyringService, account, len(out), err)
	}
	if _, err := os.Stat(filepath.Join(home.Dir, SavedDirName, idA, AuthFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("keyring mode left a file copy: %v", err)
	}
	// The folders let the index be rebuilt: a keyring cannot be listed.
	if err := os.Remove(filepath.Join(home.Dir, SavedIndexName)); err != nil {
		t.Fatal(err)
	}
	if _, ids := listIDs(t, s); len(ids) != 2 {
		t.Errorf("keyring mode, index lost: listed %v, want both", ids)
	}
	// Logging b out removes its entry; a stays.
	if _, _, err := s.Take(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ids := listIDs(t, s); !cmp.Equal(ids, []string{idA}) {
		t.Errorf("after b's logout: %v, want a only", ids)
	}
}
