package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/go-cmp/cmp"
)

func openStore(t *testing.T, home Home, opts Options) *Store {
	t.Helper()
	s, err := Open(home, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func tempHome(t *testing.T) Home {
	t.Helper()
	dir, err := canonical(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Home{Dir: dir}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestResolveHome(t *testing.T) {
	base := tempHome(t)
	file := filepath.Join(base.Dir, "file")
	writeFile(t, file, "x")
	link := filepath.Join(base.Dir, "link")
	if err := os.Symlink(base.Dir, link); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	if _, err := ResolveHome(env(map[string]string{"CODEX_HOME": filepath.Join(base.Dir, "missing")})); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing CODEX_HOME: err = %v, want 'does not exist'", err)
	}
	var he *HomeError
	if _, err := ResolveHome(env(map[string]string{"CODEX_HOME": file})); !errors.As(err, &he) || he.Reason != "is not a directory" {
		t.Errorf("file CODEX_HOME: err = %v, want 'is not a directory'", err)
	}
	got, err := ResolveHome(env(map[string]string{"CODEX_HOME": link}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Home{Dir: base.Dir}, got); diff != "" {
		t.Errorf("symlinked CODEX_HOME (-want +got):\n%s", diff)
	}
	got, err = ResolveHome(env(map[string]string{"HOME": base.Dir}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Home{Dir: filepath.Join(base.Dir, ".codex"), Default: true}, got); diff != "" {
		t.Errorf("unset CODEX_HOME (-want +got):\n%s", diff)
	}
	if a, b := (Home{Dir: link}).KeyringAccount(), base.KeyringAccount(); a != b || len(a) != len("cli|")+16 {
		t.Errorf("KeyringAccount via symlink %q, direct %q: want equal, cli| + 16 hex", a, b)
	}
}

func TestFileLifecycle(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openStore(t, home, Options{})
	if r, err := s.Load(ctx); r != nil || err != nil {
		t.Fatalf("Load on empty home = %v, %v; want nil, nil", r, err)
	}
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-test-0123456789")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.AuthFile())
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"sk-test-0123456789\"\n}"
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("auth.json (-want +got):\n%s", diff)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o600 {
		t.Errorf("auth.json mode %o, want 600", m)
	}
	got, err := s.Update(ctx, func(cur *Record) (*Record, error) {
		cur.Extra = append(cur.Extra, RawField{Key: "note", Value: []byte(`"kept"`)})
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, loaded); diff != "" {
		t.Errorf("Update result vs Load (-update +load):\n%s", diff)
	}
	before, _ := os.ReadFile(s.AuthFile())
	if _, err := s.Update(ctx, func(*Record) (*Record, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(s.AuthFile())
	if !bytes.Equal(before, after) {
		t.Errorf("Update returning nil changed the file")
	}
	for i, wantExisted := range []bool{true, false} {
		existed, err := s.Delete(ctx)
		if err != nil || existed != wantExisted {
			t.Errorf("Delete #%d = %v, %v; want %v, nil", i+1, existed, err, wantExisted)
		}
	}
	if _, err := os.Stat(s.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json still there after Delete: %v", err)
	}
	if loc := s.Location(); loc != (Location{Mode: ModeFile, Where: s.AuthFile()}) {
		t.Errorf("Location = %+v", loc)
	}
}

func TestCorruptFile(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	now := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	s := openStore(t, home, Options{Now: func() time.Time { return now }})
	corrupt := []byte(`{"auth_mode":"apikey","OPENAI_API_KEY":"sk-half-writ`)
	writeFile(t, s.AuthFile(), string(corrupt))

	var ce *CorruptError
	if _, err := s.Load(ctx); !errors.As(err, &ce) || ce.Path != s.AuthFile() {
		t.Fatalf("Load = %v, want a CorruptError naming %s", err, s.AuthFile())
	}
	if strings.Contains(ce.Error(), "sk-half") {
		t.Errorf("CorruptError %q shows file content", ce)
	}
	called := false
	if _, err := s.Update(ctx, func(*Record) (*Record, error) { called = true; return nil, nil }); !errors.As(err, &ce) {
		t.Errorf("Update = %v, want a CorruptError", err)
	}
	if called {
		t.Errorf("Update called fn on a corrupt record")
	}
	if got, _ := os.ReadFile(s.AuthFile()); !bytes.Equal(got, corrupt) {
		t.Fatalf("a read path rewrote the corrupt file")
	}
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-new-0123456789")); err != nil {
		t.Fatal(err)
	}
	aside := s.AuthFile() + ".corrupt-20250304T050607.000000008Z"
	if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, corrupt) {
		t.Errorf("moved-aside file = %q, %v; want the corrupt bytes", got, err)
	}
	if r, err := s.Load(ctx); err != nil || r == nil || *r.APIKey != "sk-new-0123456789" {
		t.Errorf("Load after Replace = %v, %v", r, err)
	}
}

// TestCorruptFilesAside: a corrupt auth.json moved aside may hold
// secrets: it is 0600 whatever the original's mode, and only the newest
// keepCorrupt copies are kept.
func TestCorruptFilesAside(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	ctx := t.Context()
	home := tempHome(t)
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := openStore(t, home, Options{Now: func() time.Time { return now }})
	// Someone else's file, not ours: it must survive.
	other := s.AuthFile() + ".corrupt-notes.txt"
	writeFile(t, other, "mine")
	var names []string
	for i := range 5 {
		now = now.Add(time.Minute)
		if err := os.WriteFile(s.AuthFile(), []byte(`{"OPENAI_API_KEY":"sk-half-`+strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(s.AuthFile(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Replace(ctx, NewAPIKeyRecord("sk-new-0123456789")); err != nil {
			t.Fatal(err)
		}
		names = append(names, s.AuthFile()+".corrupt-"+now.UTC().Format("20060102T150405.000000000Z"))
	}
	matches, err := filepath.Glob(s.AuthFile() + ".corrupt-2*")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names[2:], matches); diff != "" {
		t.Errorf("corrupt copies kept (-want the newest three +got):\n%s", diff)
	}
	for _, m := range matches {
		if got := fileMode(t, m); got != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(m), got)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a moved-aside copy was removed: %v", err)
	}
}

func TestNarrowsWideMode(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	var logs bytes.Buffer
	s := openStore(t, home, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	writeFile(t, s.AuthFile(), `{"OPENAI_API_KEY":"sk-secret-0123456789"}`)
	if err := os.Chmod(s.AuthFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o644 {
		t.Fatalf("Load changed the mode to %o", m)
	}
	if _, err := s.Update(ctx, func(cur *Record) (*Record, error) { return cur, nil }); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o600 {
		t.Errorf("mode after a write %o, want 600", m)
	}
	if !strings.Contains(logs.String(), "narrowing it to 0600") || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning about the mode; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "sk-secret") {
		t.Errorf("logs reveal the key:\n%s", logs.String())
	}
}

func TestDefaultHomeCreatedOnSave(t *testing.T) {
	ctx := t.Context()
	base := tempHome(t)
	home := Home{Dir: filepath.Join(base.Dir, "user", ".codex"), Default: true}
	s := openStore(t, home, Options{})
	if existed, err := s.Delete(ctx); existed || err != nil {
		t.Errorf("Delete on a missing home = %v, %v", existed, err)
	}
	if _, err := os.Stat(home.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Delete created the home: %v", err)
	}
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, home.Dir); m != 0o700 {
		t.Errorf("home mode %o, want 700", m)
	}
}

func TestEphemeral(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	s := openStore(t, home, Options{Mode: ModeEphemeral})
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-mem-0123456789")); err != nil {
		t.Fatal(err)
	}
	r, err := s.Load(ctx)
	if err != nil || r == nil || *r.APIKey != "sk-mem-0123456789" {
		t.Fatalf("Load = %v, %v", r, err)
	}
	*r.APIKey = "changed by caller"
	if r2, _ := s.Load(ctx); *r2.APIKey != "sk-mem-0123456789" {
		t.Errorf("Load returned shared memory")
	}
	entries, _ := os.ReadDir(home.Dir)
	if len(entries) != 0 {
		t.Errorf("ephemeral store wrote %d files in the home", len(entries))
	}
	if other := openStore(t, home, Options{Mode: ModeEphemeral}); func() bool { r, _ := other.Load(ctx); return r != nil }() {
		t.Errorf("another Store sees the ephemeral record")
	}
	if existed, err := s.Delete(ctx); !existed || err != nil {
		t.Errorf("Delete = %v, %v", existed, err)
	}
	if loc := s.Location(); loc.Where != "memory" {
		t.Errorf("Location = %+v", loc)
	}
}

func TestKeyringTooLarge(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	rec := NewAPIKeyRecord("sk-0123456789abcdef")

	s := openStore(t, home, Options{Mode: ModeKeyring, KeyringLimit: 10})
	err := s.Replace(ctx, rec)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "10 bytes") || !strings.Contains(err.Error(), `"auto"`) {
		t.Fatalf("keyring mode Replace = %v, want ErrTooLarge naming the limit and auto", err)
	}
	if _, err := os.Stat(s.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("keyring mode fell back to a file silently")
	}

	var logs bytes.Buffer
	a := openStore(t, home, Options{Mode: ModeAuto, KeyringLimit: 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := a.Replace(ctx, rec); err != nil {
		t.Fatal(err)
	}
	loc := a.Location()
	if loc.Where != a.AuthFile() || !strings.Contains(loc.Fallback, "limit of 10 bytes") {
		t.Errorf("auto Location = %+v, want auth.json with the reason", loc)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("auto fallback not logged")
	}
	if r, err := a.Load(ctx); err != nil || r == nil || *r.APIKey != *rec.APIKey {
		t.Errorf("auto Load = %v, %v", r, err)
	}
}

// hungKeyring never answers until released: a locked Secret Service.
type hungKeyring struct{ release chan struct{} }

func (h hungKeyring) Get(string, string) (string, error) { <-h.release; return "", errors.New("late") }
func (h hungKeyring) Set(string, string, string) error   { <-h.release; return errors.New("late") }
func (h hungKeyring) Delete(string, string) error        { <-h.release; return errors.New("late") }

func TestKeyringTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		home := tempHome(t)
		kr := hungKeyring{release: make(chan struct{})}
		defer close(kr.release)
		writeFile(t, filepath.Join(home.Dir, AuthFileName), `{"OPENAI_API_KEY":"sk-file-0123456789"}`)

		k := openStore(t, home, Options{Mode: ModeKeyring, Keyring: kr})
		if _, err := k.Load(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("keyring Load = %v, want ErrUnavailable", err)
		}
		a := openStore(t, home, Options{Mode: ModeAuto, Keyring: kr})
		r, err := a.Load(ctx)
		if err != nil || r == nil || *r.APIKey != "sk-file-0123456789" {
			t.Fatalf("auto Load = %v, %v; want the file's record", r, err)
		}
		if loc := a.Location(); loc.Where != a.AuthFile() || !strings.Contains(loc.Fallback, "keyring unavailable") {
			t.Errorf("auto Location = %+v", loc)
		}
		if err := a.Replace(ctx, NewAPIKeyRecord("sk-next-0123456789")); err != nil {
			t.Fatalf("auto Replace = %v, want a fallback to the file", err)
		}
		if r, _ := openStore(t, home, Options{}).Load(ctx); r == nil || *r.APIKey != "sk-next-0123456789" {
			t.Errorf("auth.json after the fallback = %v", r)
		}
	})
}

func TestLockTimeout(t *testing.T) {
	home := tempHome(t)
	other := flock.New(filepath.Join(home.Dir, authLockName))
	if ok, err := other.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer other.Unlock()
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, home, Options{LockTimeout: time.Second})
		_, err := s.Update(t.Context(), func(cur *Record) (*Record, error) { return NewAPIKeyRecord("sk-x-0123456789"), nil })
		if !errors.Is(err, ErrLockTimeout) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("Update with auth.lock held elsewhere = %v, want ErrLockTimeout", err)
		}
		// Load never waits for auth.lock.
		if _, err := s.Load(t.Context()); err != nil {
			t.Errorf("Load = %v", err)
		}
	})
}

func TestGoroutinesLoseNoUpdate(t *testing.T) {
	ctx := t.Context()
	home := tempHome(t)
	const stores, workers, each = 3, 4, 15
	var wg sync.WaitGroup
	for range stores {
		s := openStore(t, home, Options{})
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := s.Update(ctx, increment); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if got := readCounter(t, home); got != stores*workers*each {
		t.Errorf("counter = %d, want %d", got, stores*workers*each)
	}
}

// counterKey is an unknown key our tests count in: it must survive every
// read-modify-write.
const counterKey = "zz_test_counter"

func counterOf(r *Record) (int, bool) {
	if r == nil {
		return 0, false
	}
	for _, f := range r.Extra {
		if f.Key == counterKey {
			n, err := strconv.Atoi(string(f.Value))
			return n, err == nil
		}
	}
	return 0, false
}

func withCounter(r *Record, n int) *Record {
	if r == nil {
		r = NewAPIKeyRecord("sk-counter-0123456789")
	}
	out := r.Extra[:0:0]
	for _, f := range r.Extra {
		if f.Key != counterKey {
			out = append(out, f)
		}
	}
	r.Extra = append(out, RawField{Key: counterKey, Value: []byte(strconv.Itoa(n))})
	return r
}

func increment(cur *Record) (*Record, error) {
	n, _ := counterOf(cur)
	return withCounter(cur, n+1), nil
}

func readCounter(t *testing.T, home Home) int {
	t.Helper()
	r, err := openStore(t, home, Options{}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := counterOf(r)
	return n
}

// TestDeleteIf: only a record that still matches is deleted; another one
// written since is kept and returned.
func TestDeleteIf(t *testing.T) {
	ctx := t.Context()
	for _, mode := range []Mode{ModeFile, ModeEphemeral} {
		s := openStore(t, tempHome(t), Options{Mode: mode})
		isKey := func(key string) func(*Record) bool {
			return func(r *Record) bool { return r.APIKey != nil && *r.APIKey == key }
		}
		if deleted, cur, err := s.DeleteIf(ctx, isKey("sk-any-0123456789")); err != nil || deleted || cur != nil {
			t.Errorf("%s: DeleteIf with nothing stored = %v, %v, %v; want false, nil, nil", mode, deleted, cur, err)
		}
		if err := s.Replace(ctx, NewAPIKeyRecord("sk-new-0123456789")); err != nil {
			t.Fatal(err)
		}
		deleted, cur, err := s.DeleteIf(ctx, isKey("sk-old-0123456789"))
		if err != nil || deleted || cur == nil || *cur.APIKey != "sk-new-0123456789" {
			t.Errorf("%s: DeleteIf of another record = %v, %v, %v; want false and the stored record", mode, deleted, cur, err)
		}
		if r, _ := s.Load(ctx); r == nil {
			t.Errorf("%s: a record that did not match was deleted", mode)
		}
		if deleted, _, err := s.DeleteIf(ctx, isKey("sk-new-0123456789")); err != nil || !deleted {
			t.Errorf("%s: DeleteIf of the stored record = %v, %v; want true", mode, deleted, err)
		}
		if r, _ := s.Load(ctx); r != nil {
			t.Errorf("%s: the matching record is still stored", mode)
		}
	}
	// A corrupt record is never matched.
	s := openStore(t, tempHome(t), Options{})
	writeFile(t, s.AuthFile(), "{not json")
	var ce *CorruptError
	if deleted, _, err := s.DeleteIf(ctx, func(*Record) bool { return true }); !errors.As(err, &ce) || deleted {
		t.Errorf("DeleteIf on a corrupt file = %v, %v; want a CorruptError and nothing deleted", deleted, err)
	}
}

// TestTake: the record removed is returned; a corrupt one is removed too.
func TestTake(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, tempHome(t), Options{})
	if prev, existed, err := s.Take(ctx); err != nil || existed || prev != nil {
		t.Errorf("Take with nothing stored = %v, %v, %v", prev, existed, err)
	}
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-take-0123456789")); err != nil {
		t.Fatal(err)
	}
	prev, existed, err := s.Take(ctx)
	if err != nil || !existed || prev == nil || *prev.APIKey != "sk-take-0123456789" {
		t.Errorf("Take = %v, %v, %v; want the stored record", prev, existed, err)
	}
	if r, _ := s.Load(ctx); r != nil {
		t.Errorf("still stored after Take: %v", r)
	}
	writeFile(t, s.AuthFile(), "{not json")
	if prev, existed, err := s.Take(ctx); err != nil || !existed || prev != nil {
		t.Errorf("Take of a corrupt file = %v, %v, %v; want it removed, nothing returned", prev, existed, err)
	}
}
